/** Small stateless layers: activations, Dropout, Sequential. */
import { Activation, activation, ACTIVATIONS } from '../ops/activation';
import { dropout } from '../ops/nn';
import { Tensor } from '../tensor';
import { checkOneOf, checkRange, invalid } from '../validate';
import { Module } from './module';

/** An element-wise activation as a module. */
export class ActivationLayer extends Module {
  readonly kind: Activation;
  readonly slope: number;
  constructor(kind: Activation, options: { slope?: number } = {}) {
    super();
    this.kind = checkOneOf(kind, 'kind', ACTIVATIONS);
    this.slope = checkRange(options.slope ?? 0.01, 'options.slope', 0, 1);
  }
  forward(x: Tensor): Tensor {
    return activation(x, this.kind, this.slope);
  }
}

export class ReLU extends ActivationLayer {
  constructor() {
    super('relu');
  }
}
export class LeakyReLU extends ActivationLayer {
  constructor(slope = 0.01) {
    super('leaky_relu', { slope });
  }
}
export class Sigmoid extends ActivationLayer {
  constructor() {
    super('sigmoid');
  }
}
export class Tanh extends ActivationLayer {
  constructor() {
    super('tanh');
  }
}
export class GELU extends ActivationLayer {
  constructor() {
    super('gelu');
  }
}

/** Zeroes each element with probability p while training, scaling survivors by 1/(1−p). */
export class Dropout extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    this.p = checkRange(p, 'p', 0, 1, 'a probability in [0, 1)');
    if (p === 1) throw invalid('a probability in [0, 1)', 'p', p);
  }
  forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? dropout(x, this.p) : x;
  }
}

/** Runs modules one after another. */
export class Sequential extends Module {
  layers: Module[];
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module)) throw invalid('a Module', `layers[${i}]`, m);
    });
    this.layers = layers;
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.layers) h = m.forward(h) as Tensor;
    return h;
  }
}
