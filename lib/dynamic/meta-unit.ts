import { activation, Activation, ACTIVATIONS } from '../ops/activation';
import { add, mul } from '../ops/elementwise';
import { matmul } from '../ops/matmul';
import { f32 } from '../ops/common';
import { ShapeError } from '../errors';
import { slice } from '../ops/layout';
import { sampleLinear } from '../ops/sample-linear';
import { MLP } from '../nn/mlp';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkBoolean, checkInt, checkOneOf, checkOptions, checkWidths } from '../validate';
import { checkRows } from '../personalize/field-input';

/** Options of {@link MetaUnit}. */
export interface MetaUnitOptions {
  /** Width of the condition z that generates the weights. */
  condFeatures: number;
  /** Hidden widths of the generated MLP (default []: a single generated layer). */
  hidden?: number[];
  /** Output width (default: inFeatures). */
  outFeatures?: number;
  /** Hidden activation (default 'relu'). */
  activation?: Activation;
  /** Activation of the last generated layer (default 'identity'). */
  outputActivation?: Activation;
  /** Generate a bias per layer (default true; PTUPCDR's bridge has none). */
  bias?: boolean;
  /** Hidden widths of the generator z → weights (default []: one linear layer). */
  generatorHidden?: number[];
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * MetaUnit: an MLP whose weights are generated per sample from a condition z — the generic
 * dynamic-weight layer. M2M's meta unit (z: scenario features), CAN's co-action MLP (z: the
 * target item's embedding, x: a user feature's), PTUPCDR's personal bridge (one layer without
 * bias, z: the user's source-domain history) are all this module:
 *   [W_1, b_1, …, W_L, b_L] = G(z)             one generator for every layer, split per layer
 *   h_{l+1} = act_l(h_l·W_l/√in_l + b_l)       each layer one batched per-sample kernel
 * The 1/√in_l keeps a generated layer's output at its input's scale whatever z's scale.
 * x may also hold several rows per sample, (B, R, in) — M2M scores every (task, expert)
 * pair of a sample with that sample's generated MLP — and then each layer is one batched
 * GEMM (B items of R×in · in×out).
 */
export class MetaUnit extends Module {
  /** G: z → every generated layer's weights and biases, flattened and concatenated. */
  generator: MLP;
  /** Width of the input x (its last dimension). */
  readonly inFeatures: number;
  /** Width of the output. */
  readonly outFeatures: number;
  /** Width of the condition z. */
  readonly condFeatures: number;
  /** [in, out] of each generated layer. */
  readonly layerShapes: [number, number][];
  /** Whether each generated layer has a generated bias. */
  readonly bias: boolean;
  private readonly acts: Activation[];

  constructor(inFeatures: number, options: MetaUnitOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.condFeatures = checkInt(o.condFeatures, 'options.condFeatures', 1);
    this.outFeatures = checkInt(o.outFeatures ?? this.inFeatures, 'options.outFeatures', 1);
    const hidden = checkWidths(o.hidden ?? [], 'options.hidden', true);
    const act = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
    const outAct = checkOneOf(o.outputActivation ?? 'identity', 'options.outputActivation', ACTIVATIONS);
    this.bias = checkBoolean(o.bias ?? true, 'options.bias');
    const dims = [this.inFeatures, ...hidden, this.outFeatures];
    this.layerShapes = dims.slice(1).map((out, l): [number, number] => [dims[l], out]);
    this.acts = this.layerShapes.map((_, l) => (l === this.layerShapes.length - 1 ? outAct : act));
    const total = this.layerShapes.reduce((s, [i, out]) => s + i * out + (this.bias ? out : 0), 0);
    this.generator = new MLP(this.condFeatures, { hidden: checkWidths(o.generatorHidden ?? [], 'options.generatorHidden', true), outFeatures: total, rng: o.rng });
  }

  /** x (B, inFeatures) or (B, R, inFeatures), z (B, condFeatures) → (B, [R,] outFeatures). */
  forward(x: Tensor, z: Tensor): Tensor {
    const rows = x instanceof Tensor && x.ndim === 3;
    if (!rows) checkRows(x, this.inFeatures, 'x');
    else if (f32(x, 'x').shape[2] !== this.inFeatures) throw new ShapeError(`Expected shape [batch, rows, ${this.inFeatures}] for x but received [${x.shape}]`);
    checkRows(z, this.condFeatures, 'z', x.shape[0]);
    const B = x.shape[0];
    const g = this.generator.forward(z);
    let h = x;
    let at = 0;
    this.layerShapes.forEach(([inF, outF], l) => {
      const w = slice(g, 1, at, inF * outF).reshape(B, inF, outF);
      at += inF * outF;
      let b: Tensor | null = null;
      if (this.bias) {
        b = slice(g, 1, at, outF);
        at += outF;
      }
      const scaled = mul(h, 1 / Math.sqrt(inF)); // (h/√in)·W = h·(W/√in) at a fraction of W's size
      if (!rows) h = sampleLinear(scaled, w, b, this.acts[l]);
      else {
        const pre = matmul(scaled, w); // (B, R, out)
        h = activation(b ? add(pre, b.reshape(B, 1, outF)) : pre, this.acts[l]);
      }
    });
    return h;
  }
}
