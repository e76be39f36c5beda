import { mul } from '../ops/elementwise';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOptions, checkPositive } from '../validate';
import { checkFieldEmbeddings, checkRows } from './field-input';

/** Options of {@link LHUC}. */
export interface LHUCOptions {
  /** Number of feature fields F of the embeddings it gates. */
  fields: number;
  /** Width of the condition c. */
  condFeatures: number;
  /** γ, the gate's upper bound (default 2). */
  gamma?: number;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * LHUC field gating: one gate per feature field, g = γ·σ(W·c + b) from a condition c
 * (e.g. the user-group or scenario embedding), multiplied onto that field's embedding:
 *   out[b, f, :] = g[b, f] · emb[b, f, :]
 * The one-layer form of GateNU; γ = 2 starts every gate near 1.
 */
export class LHUC extends Module {
  /** The gate layer: σ(W·c + b), condFeatures → fields. */
  fc: Linear;
  /** Number of feature fields F it gates. */
  readonly fields: number;
  /** γ, the gates' upper bound. */
  readonly gamma: number;

  constructor(options: LHUCOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.fields = checkInt(o.fields, 'options.fields', 1);
    const cond = checkInt(o.condFeatures, 'options.condFeatures', 1);
    this.gamma = checkPositive(o.gamma ?? 2, 'options.gamma');
    this.fc = new Linear(cond, this.fields, { activation: 'sigmoid', rng: o.rng });
  }

  /** The gates γ·σ(W·c + b): (B, fields). */
  gates(cond: Tensor): Tensor {
    return mul(this.fc.forward(cond), this.gamma);
  }

  /** emb (B, fields, D), cond (B, condFeatures) → (B, fields, D). */
  forward(emb: Tensor, cond: Tensor): Tensor {
    const [batch] = checkFieldEmbeddings(emb, this.fields);
    checkRows(cond, this.fc.inFeatures, 'cond', batch);
    return mul(emb, this.gates(cond).reshape(batch, this.fields, 1));
  }
}
