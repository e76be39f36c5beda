/**
 * Multi-head attention over a behaviour sequence, plain and POSO-personalized, on one fused
 * kernel (ops/poso-attention):
 *   Q = x_q·W_qᵀ (not personalized: the query features already are)    K = S·W_kᵀ
 *   plain:  out = softmax(Q·Kᵀ/√d_h) · S·W_vᵀ                          per head
 *   POSO:   out = C · softmax(Q·(G_k(x_pc) ⊙ K)ᵀ/√d_h) · Σ_i g_i(x_pc) · S·W_v⁽ⁱ⁾ᵀ
 * with G_k = 2σ(MLP(x_pc)) (a Gate NU, ≈ 1 untrained), g = σ(MLP(x_pc)) one gate per value
 * fold (or per fold and head), and C = 2/N by default so that Σ_i C·g_i starts near 1. An
 * optional output projection follows, as torch.nn.MultiheadAttention's out_proj.
 *
 * x_q (B, queryFeatures) or (B, Lq, queryFeatures); S (B, L, keyFeatures), padded, with
 * `lengths` or a key padding `mask` (see embedding/sequence.ts for S from an EmbeddingTable).
 */
import { ShapeError } from '../errors';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { f32 } from '../ops/common';
import { affine } from '../ops/elementwise';
import { posoAttention, PosoAttentionOptions } from '../ops/poso-attention';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkBoolean, checkInt, checkOptions, checkPositive, checkRange } from '../validate';
import { checkRows } from './field-input';
import { GateNU } from './gate-nu';

/** Options of {@link MultiHeadAttention} (and the shared part of {@link PosoMultiHeadAttentionOptions}). */
export interface MultiHeadAttentionOptions {
  /** Width of the query input x_q (the candidate and other non-sequence features). */
  queryFeatures: number;
  /** Width of each sequence element (e.g. a behaviour's embedding). */
  keyFeatures: number;
  /** D = heads · head_dim, the width of Q, K, V and the output (default 64). */
  dim?: number;
  /** Number of heads; must divide dim (default 2). */
  heads?: number;
  /** A Linear(D, D) on the concatenated heads, like torch's out_proj (default true). */
  outputProjection?: boolean;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/** Options of {@link PosoMultiHeadAttention}. */
export interface PosoMultiHeadAttentionOptions extends MultiHeadAttentionOptions {
  /** Width of the personalization code x_pc. */
  pcFeatures: number;
  /** N, the value projections mixed by personal gates (default 4). */
  valueFolds?: number;
  /** One gate per fold and head instead of one per fold (default false). */
  gatePerHead?: boolean;
  /** Gate the keys element-wise with G_k(x_pc) (default true). */
  keyGate?: boolean;
  /** C, the correction factor on the mixed value (default 2 / valueFolds). */
  scale?: number;
  /** Hidden width of the gate networks (default: dim). */
  gateHidden?: number;
  /**
   * The least a value gate can be: g = floor + (1 − floor)·σ(MLP(x_pc)) (default 0, POSO's
   * σ). With a small group, the shared attention first learns the large group's pattern, the
   * small group's history misleads it, and its value gates fall to σ ≈ 0, where their gradient
   * vanishes: the group loses its history for good. A floor keeps the history flowing.
   */
  valueGateFloor?: number;
}

/** Which keys are valid: `lengths` (B) or a uint8 `mask` (B, L); neither: all. */
export interface AttentionKeys {
  /** Valid keys per sample (B): sample b attends to its first `lengths[b]` positions. */
  lengths?: Tensor | Int32Array | readonly number[] | null;
  /** uint8 (B, L): 1 where a key position is valid, 0 for padding. */
  mask?: Tensor | null;
}

/** What both attentions share: the projections, their checks and the kernel call. */
abstract class AttentionBase extends Module {
  /** W_q: queryFeatures → dim. */
  query: Linear;
  /** W_k: keyFeatures → dim. */
  key: Linear;
  /** W_v: keyFeatures → folds·dim (one projection per value fold). */
  value: Linear;
  /** The output projection dim → dim, or null without `outputProjection`. */
  out: Linear | null;
  /** Width of the query input x_q. */
  readonly queryFeatures: number;
  /** Width of each sequence element. */
  readonly keyFeatures: number;
  /** D = heads · head_dim, the width of Q, K, V and the output. */
  readonly dim: number;
  /** Number of heads. */
  readonly heads: number;
  /** N, the value folds (1 for plain attention). */
  readonly folds: number;

  protected constructor(o: Partial<MultiHeadAttentionOptions>, folds: number) {
    super();
    this.queryFeatures = checkInt(o.queryFeatures, 'options.queryFeatures', 1);
    this.keyFeatures = checkInt(o.keyFeatures, 'options.keyFeatures', 1);
    this.dim = checkInt(o.dim ?? 64, 'options.dim', 1);
    this.heads = checkInt(o.heads ?? 2, 'options.heads', 1);
    if (this.dim % this.heads !== 0) throw new ShapeError(`Expected options.heads to divide options.dim ${this.dim} but received ${this.heads}`);
    if (this.dim / this.heads > 256) throw new ShapeError(`Expected a head dim (dim / heads) of at most 256 but received ${this.dim / this.heads}`);
    this.folds = folds;
    this.query = new Linear(this.queryFeatures, this.dim, { rng: o.rng });
    this.key = new Linear(this.keyFeatures, this.dim, { rng: o.rng });
    this.value = new Linear(this.keyFeatures, folds * this.dim, { rng: o.rng });
    this.out = checkBoolean(o.outputProjection ?? true, 'options.outputProjection') ? new Linear(this.dim, this.dim, { rng: o.rng }) : null;
  }

  /** Projects, attends with the given gates, and applies the output projection. */
  protected attend(xq: Tensor, seq: Tensor, keys: AttentionKeys, gates: Pick<PosoAttentionOptions, 'keyGate' | 'valueGate' | 'scale'>): Tensor {
    f32(xq, 'query');
    f32(seq, 'seq');
    if ((xq.ndim !== 2 && xq.ndim !== 3) || xq.shape[xq.ndim - 1] !== this.queryFeatures) {
      throw new ShapeError(`Expected shape [batch, ${this.queryFeatures}] or [batch, queries, ${this.queryFeatures}] for query but received [${xq.shape}]`);
    }
    const B = xq.shape[0];
    if (seq.ndim !== 3 || seq.shape[0] !== B || seq.shape[2] !== this.keyFeatures) {
      throw new ShapeError(`Expected shape [${B}, length, ${this.keyFeatures}] for seq but received [${seq.shape}]`);
    }
    const k = checkOptions(keys, 'keys');
    const y = posoAttention(this.query.forward(xq), this.key.forward(seq), this.value.forward(seq), {
      heads: this.heads,
      lengths: k.lengths ?? null,
      mask: k.mask ?? null,
      ...gates,
    });
    return this.out ? this.out.forward(y) : y;
  }
}

/** Plain multi-head attention: POSO attention with personalization off, on the same kernel. */
export class MultiHeadAttention extends AttentionBase {
  constructor(options: MultiHeadAttentionOptions) {
    super(checkOptions(options, 'options'), 1);
  }

  /** query (B, queryFeatures) or (B, Lq, queryFeatures), seq (B, L, keyFeatures) → (B[, Lq], dim). */
  forward(query: Tensor, seq: Tensor, keys: AttentionKeys = {}): Tensor {
    return this.attend(query, seq, keys, {});
  }
}

/** POSO multi-head attention (see the file comment). */
export class PosoMultiHeadAttention extends AttentionBase {
  /** G_k: x_pc → dim key gates (γ = 2), or null without `keyGate`. */
  keyGate: GateNU | null;
  /** The value-fold gates: x_pc → N (or N·heads with `gatePerHead`) values in (floor, 1). */
  valueGate: GateNU;
  /** Width of the personalization code x_pc. */
  readonly pcFeatures: number;
  /** Whether each head has its own gate per fold. */
  readonly gatePerHead: boolean;
  /** C, the correction factor on the mixed value. */
  readonly scale: number;
  /** The least a value gate can be (0: POSO's plain σ). */
  readonly valueGateFloor: number;

  constructor(options: PosoMultiHeadAttentionOptions) {
    const o = checkOptions(options, 'options');
    super(o, checkInt(o.valueFolds ?? 4, 'options.valueFolds', 1, 16));
    this.pcFeatures = checkInt(o.pcFeatures, 'options.pcFeatures', 1);
    this.gatePerHead = checkBoolean(o.gatePerHead ?? false, 'options.gatePerHead');
    this.scale = checkPositive(o.scale ?? 2 / this.folds, 'options.scale');
    this.valueGateFloor = checkRange(o.valueGateFloor ?? 0, 'options.valueGateFloor', 0, 0.99);
    const hidden = checkInt(o.gateHidden ?? this.dim, 'options.gateHidden', 1);
    this.keyGate = checkBoolean(o.keyGate ?? true, 'options.keyGate')
      ? new GateNU({ inFeatures: this.pcFeatures, outFeatures: this.dim, hidden, gamma: 2, rng: o.rng })
      : null;
    const gates = this.folds * (this.gatePerHead ? this.heads : 1);
    this.valueGate = new GateNU({ inFeatures: this.pcFeatures, outFeatures: gates, hidden, gamma: 1, rng: o.rng });
  }

  /**
   * query (B, queryFeatures) or (B, Lq, queryFeatures), seq (B, L, keyFeatures),
   * pc (B, pcFeatures) → (B[, Lq], dim).
   */
  forward(query: Tensor, seq: Tensor, pc: Tensor, keys: AttentionKeys = {}): Tensor {
    checkRows(pc, this.pcFeatures, 'pc', query.shape[0]);
    const sig = this.valueGate.sigmoidGate(pc);
    const gv = this.valueGateFloor > 0 ? affine(sig, 1 - this.valueGateFloor, this.valueGateFloor) : sig;
    return this.attend(query, seq, keys, {
      keyGate: this.keyGate ? this.keyGate.forward(pc) : null,
      valueGate: this.gatePerHead ? gv.reshape(pc.shape[0], this.folds, this.heads) : gv,
      scale: this.scale,
    });
  }
}
