/** Small stateless layers: activations, Dropout, Sequential. */
import { Activation, activation, ACTIVATIONS } from '../ops/activation';
import { dropout } from '../ops/nn';
import { Tensor } from '../tensor';
import { checkOneOf, checkRange, invalid } from '../validate';
import { Module } from './module';

/** An element-wise activation as a module. */
export class ActivationLayer extends Module {
  /** The activation applied. */
  readonly kind: Activation;
  /** Negative slope of 'leaky_relu' (default 0.01; unused by the other activations). */
  readonly slope: number;
  constructor(kind: Activation, options: { slope?: number } = {}) {
    super();
    this.kind = checkOneOf(kind, 'kind', ACTIVATIONS);
    this.slope = checkRange(options.slope ?? 0.01, 'options.slope', 0, 1);
  }
  /** Applies the activation element-wise (same shape out). */
  forward(x: Tensor): Tensor {
    return activation(x, this.kind, this.slope);
  }
}

/** max(x, 0), element-wise. */
export class ReLU extends ActivationLayer {
  constructor() {
    super('relu');
  }
}
/** x for x ≥ 0, slope·x below (slope default 0.01), element-wise. */
export class LeakyReLU extends ActivationLayer {
  constructor(slope = 0.01) {
    super('leaky_relu', { slope });
  }
}
/** 1 / (1 + e^−x), element-wise. */
export class Sigmoid extends ActivationLayer {
  constructor() {
    super('sigmoid');
  }
}
/** tanh(x), element-wise. */
export class Tanh extends ActivationLayer {
  constructor() {
    super('tanh');
  }
}
/** x·Φ(x) (Gaussian error linear unit), element-wise. */
export class GELU extends ActivationLayer {
  constructor() {
    super('gelu');
  }
}

/** Zeroes each element with probability p while training, scaling survivors by 1/(1−p). */
export class Dropout extends Module {
  /** Probability of zeroing each element while training, in [0, 1). */
  readonly p: number;
  constructor(p = 0.5) {
    super();
    this.p = checkRange(p, 'p', 0, 1, 'a probability in [0, 1)');
    if (p === 1) throw invalid('a probability in [0, 1)', 'p', p);
  }
  /**
   * While training, zeroes each element with probability `p` and scales the rest by 1/(1−p); in
   * eval mode returns x unchanged.
   */
  forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? dropout(x, this.p) : x;
  }
}

/** Runs modules one after another. */
export class Sequential extends Module {
  /** The modules, run in order. */
  layers: Module[];
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module)) throw invalid('a Module', `layers[${i}]`, m);
    });
    this.layers = layers;
  }
  /** Feeds x through each module in turn and returns the last one's output. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.layers) h = m.forward(h) as Tensor;
    return h;
  }
}
