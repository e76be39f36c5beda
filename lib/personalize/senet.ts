import { mul } from '../ops/elementwise';
import { mean } from '../ops/reduce';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOptions, checkPositive } from '../validate';
import { checkFieldEmbeddings } from './field-input';
import { GateNU } from './gate-nu';

/** Options of {@link SENet}. */
export interface SENetOptions {
  /** Number of feature fields F. */
  fields: number;
  /** Reduction ratio r of the excitation's hidden layer (default 3). */
  reduction?: number;
  /** γ, the weights' upper bound (default 2). */
  gamma?: number;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * SENet field re-weighting (FiBiNET's squeeze-excitation over fields), the self-gated
 * form of field gating:
 *   z[b, f] = mean_d emb[b, f, d]                       (squeeze)
 *   a = γ·σ(W2·relu(W1·z + b1) + b2),  W1: F → ⌈F/r⌉       (excite, reduction r)
 *   out[b, f, :] = a[b, f] · emb[b, f, :]
 * γ = 2 (default) starts the weights near 1.
 */
export class SENet extends Module {
  /** The excitation: F → ⌈F/r⌉ → F weights in (0, γ). */
  excite: GateNU;
  /** Number of feature fields F. */
  readonly fields: number;

  constructor(options: SENetOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.fields = checkInt(o.fields, 'options.fields', 1);
    const r = checkInt(o.reduction ?? 3, 'options.reduction', 1);
    const gamma = checkPositive(o.gamma ?? 2, 'options.gamma');
    this.excite = new GateNU({ inFeatures: this.fields, outFeatures: this.fields, hidden: Math.ceil(this.fields / r), gamma, rng: o.rng });
  }

  /** The field weights a: (B, fields). */
  weights(emb: Tensor): Tensor {
    checkFieldEmbeddings(emb, this.fields);
    return this.excite.forward(mean(emb, 2));
  }

  /** emb (B, fields, D) → (B, fields, D). */
  forward(emb: Tensor): Tensor {
    const [batch] = checkFieldEmbeddings(emb, this.fields);
    return mul(emb, this.weights(emb).reshape(batch, this.fields, 1));
  }
}
