import { Activation, ACTIVATIONS } from '../ops/activation';
import { dropout } from '../ops/nn';
import { expertLinear } from '../ops/moe';
import { Module } from '../nn/module';
import { constant, uniform } from '../nn/init';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkRange, checkWidths } from '../validate';
import { checkRows } from '../personalize/field-input';

/** One layer of every expert: weight (E, out, in) as PyTorch's Linear per expert, bias (E, out). */
export class ExpertLayer extends Module {
  /** (E, out, in): each expert's weight, as PyTorch's Linear. */
  weight: Tensor;
  /** (E, out): each expert's bias. */
  bias: Tensor;
  /** Number of experts E. */
  readonly experts: number;
  /** Width of the input. */
  readonly inFeatures: number;
  /** Width of each expert's output. */
  readonly outFeatures: number;
  /** The activation fused into the layer. */
  readonly activation: Activation;

  constructor(experts: number, inFeatures: number, outFeatures: number, activation: Activation, rng?: Rng) {
    super();
    this.experts = checkInt(experts, 'experts', 1);
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.outFeatures = checkInt(outFeatures, 'outFeatures', 1);
    this.activation = checkOneOf(activation, 'activation', ACTIVATIONS);
    // He uniform for ReLU-like layers, Xavier uniform otherwise, with each expert's own fans.
    const relu = activation === 'relu' || activation === 'leaky_relu';
    const bound = Math.sqrt(6 / (relu ? inFeatures : inFeatures + outFeatures));
    this.weight = uniform([experts, outFeatures, inFeatures], -bound, bound, { rng });
    this.bias = constant([experts, outFeatures], 0);
  }

  /** x (B, in) shared or (E, B, in) → (E, B, out), or (B, E, out) with batchMajor (a shared x only). */
  forward(x: Tensor, batchMajor = false): Tensor {
    return expertLinear(x, this.weight, this.bias, this.activation, { batchMajor });
  }
}

/** Options of {@link Experts}. */
export interface ExpertsOptions {
  /** Number of experts E (default 8). */
  experts?: number;
  /** Hidden widths of every expert (default [64]); the last is the experts' output width. */
  hidden?: number[];
  /** Activation after every expert layer (default 'relu'). */
  activation?: Activation;
  /** Dropout on every expert layer's output while training (default 0). */
  dropout?: number;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * Experts: E parallel MLPs of the same shape over one input, evaluated together — each
 * layer is ONE batched GEMM launch for all experts (expertLinear), bias and activation fused
 * into its epilogue, instead of a loop of E small GEMMs.
 *   x (B, in) → (E, B, H_last), expert-major: expert e's output is out[e].
 */
export class Experts extends Module {
  /** The layers, each one batched GEMM for all experts. */
  layers: ExpertLayer[];
  /** Number of experts E. */
  readonly experts: number;
  /** Width of the input x. */
  readonly inFeatures: number;
  /** Width of each expert's output (the last hidden width). */
  readonly outFeatures: number;
  /** Dropout probability on every layer's output while training. */
  readonly dropout: number;

  constructor(inFeatures: number, options: ExpertsOptions = {}) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.experts = checkInt(o.experts ?? 8, 'options.experts', 1);
    const hidden = checkWidths(o.hidden ?? [64], 'options.hidden');
    const act = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
    this.dropout = checkRange(o.dropout ?? 0, 'options.dropout', 0, 0.99);
    this.layers = [];
    let width = this.inFeatures;
    for (const h of hidden) {
      this.layers.push(new ExpertLayer(this.experts, width, h, act, o.rng));
      width = h;
    }
    this.outFeatures = width;
  }

  /** x (B, in) → (E, B, outFeatures). */
  forward(x: Tensor): Tensor {
    return this.run(x, false);
  }

  /**
   * x (B, in) → y (E, B, outFeatures), or (B, E, outFeatures) when `batchMajor` — experts of one
   * layer keep the layout their single GEMM writes, so moeCombine (which takes either) reads it
   * without a permute.
   */
  forwardAnyLayout(x: Tensor): {
    /** The experts' outputs, in the layout `batchMajor` says. */
    y: Tensor;
    /** true: y is (B, E, outFeatures); false: (E, B, outFeatures). */
    batchMajor: boolean;
  } {
    const batchMajor = this.layers.length === 1;
    return { y: this.run(x, batchMajor), batchMajor };
  }

  private run(x: Tensor, batchMajor: boolean): Tensor {
    checkRows(x, this.inFeatures, 'x');
    let h = x;
    for (const layer of this.layers) {
      h = layer.forward(h, batchMajor);
      if (this.training && this.dropout > 0) h = dropout(h, this.dropout);
    }
    return h;
  }
}
