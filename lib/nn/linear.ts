/** Linear: y = act(x·Wᵀ + b), one fused GEMM with the bias and activation in its epilogue. */
import { Activation, ACTIVATIONS } from '../ops/activation';
import { linear } from '../ops/matmul';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkBoolean, checkInt, checkOneOf, checkOptions } from '../validate';
import { constant, heUniform, xavierUniform } from './init';
import { Module } from './module';

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Include a bias b (default true). */
  bias?: boolean;
  /** Activation fused into the GEMM epilogue (default 'identity'). */
  activation?: Activation;
  /** Weight initializer (default 'xavier'; 'he' suits ReLU layers). Biases start at 0. */
  init?: 'xavier' | 'he';
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * A fully connected layer: y = act(x·Wᵀ + b) for x of shape (batch, inFeatures), computed as one
 * fused GEMM with the bias and activation in its epilogue.
 */
export class Linear extends Module {
  /** (outFeatures, inFeatures), as in PyTorch. */
  weight: Tensor;
  /** (outFeatures), or null. */
  bias: Tensor | null;
  /** Width of the input (the last dimension of x). */
  readonly inFeatures: number;
  /** Width of the output. */
  readonly outFeatures: number;
  /** The activation fused into the epilogue ('identity' for none). */
  readonly activation: Activation;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.outFeatures = checkInt(outFeatures, 'outFeatures', 1);
    this.activation = checkOneOf(o.activation ?? 'identity', 'options.activation', ACTIVATIONS);
    const init = checkOneOf(o.init ?? 'xavier', 'options.init', ['xavier', 'he'] as const);
    const shape = [outFeatures, inFeatures];
    this.weight = init === 'he' ? heUniform(shape, { rng: o.rng }) : xavierUniform(shape, { rng: o.rng });
    this.bias = checkBoolean(o.bias ?? true, 'options.bias') ? constant([outFeatures], 0) : null;
  }

  /** x: (..., inFeatures) → (..., outFeatures). */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias, this.activation);
  }
}
