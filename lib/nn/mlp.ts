/** MLP: a stack of fused Linear layers with an activation and optional dropout between. */
import { Activation, ACTIVATIONS } from '../ops/activation';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkRange, invalid } from '../validate';
import { Dropout } from './layers';
import { Linear } from './linear';
import { Module } from './module';

/** Options of {@link MLP}. */
export interface MLPOptions {
  /** Width of each hidden layer, e.g. [256, 128]. */
  hidden: number[];
  /** Output width; omit to end with the last hidden layer (its activation applied). */
  outFeatures?: number;
  /** Hidden activation (default 'relu'), fused into each GEMM. */
  activation?: Activation;
  /** Activation of the output layer (default 'identity'). */
  outputActivation?: Activation;
  /** Dropout after each hidden layer while training (default 0). */
  dropout?: number;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/** The layers of an MLP-shaped stack and the dropouts after its hidden layers. */
export interface MLPStack<L> {
  layers: L[];
  drops: Dropout[];
  outFeatures: number;
}

/**
 * Validates MLP options and builds the stack with `make(in, out, activation, init)`: one
 * layer per hidden width (the hidden activation; He init for ReLU-like, Xavier otherwise),
 * then an output layer when outFeatures is given (the output activation, Xavier). MLP,
 * StarMLP and ApgMLP are this stack over different layers.
 */
export function mlpStack<L>(inFeatures: number, options: MLPOptions, make: (inF: number, outF: number, act: Activation, init: 'he' | 'xavier') => L): MLPStack<L> {
  const o = checkOptions(options, 'options');
  checkInt(inFeatures, 'inFeatures', 1);
  if (!Array.isArray(o.hidden)) throw invalid('an array of layer widths', 'options.hidden', o.hidden);
  o.hidden.forEach((h, i) => checkInt(h, `options.hidden[${i}]`, 1));
  const act = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
  const outAct = checkOneOf(o.outputActivation ?? 'identity', 'options.outputActivation', ACTIVATIONS);
  const p = checkRange(o.dropout ?? 0, 'options.dropout', 0, 0.99);
  const init = act === 'relu' || act === 'leaky_relu' ? 'he' : 'xavier';
  const layers: L[] = [];
  let width = inFeatures;
  for (const h of o.hidden) {
    layers.push(make(width, h, act, init));
    width = h;
  }
  if (o.outFeatures !== undefined) {
    const out = checkInt(o.outFeatures, 'options.outFeatures', 1);
    layers.push(make(width, out, outAct, 'xavier'));
    width = out;
  }
  if (layers.length === 0) throw invalid('at least one layer (hidden or outFeatures)', 'options', o);
  return { layers, drops: p > 0 ? o.hidden.map(() => new Dropout(p)) : [], outFeatures: width };
}

/**
 * A multi-layer perceptron: fused Linear layers (inFeatures → each of `hidden` → `outFeatures`)
 * with the hidden activation fused into each GEMM and optional dropout after each hidden layer.
 */
export class MLP extends Module {
  /** The Linear layers in order: one per hidden width, then the output layer when `outFeatures` is given. */
  layers: Linear[];
  /** The dropouts after each hidden layer (empty when `dropout` is 0). */
  drops: Dropout[];

  constructor(inFeatures: number, options: MLPOptions) {
    super();
    ({ layers: this.layers, drops: this.drops } = mlpStack(inFeatures, options, (i, out, activation, init) => new Linear(i, out, { activation, init, rng: options.rng })));
  }

  /**
   * Maps x (batch, inFeatures) to (batch, outFeatures), or to the last hidden width without an
   * output layer.
   */
  forward(x: Tensor): Tensor {
    let h = x;
    this.layers.forEach((layer, i) => {
      h = layer.forward(h);
      if (this.drops[i]) h = this.drops[i].forward(h);
    });
    return h;
  }
}
