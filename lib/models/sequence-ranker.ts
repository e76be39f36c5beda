/**
 * A click-through ranker over a user's behaviour sequence with personalized attention and
 * heads, trained end to end (embedding table, attention, tower):
 *   e_c = E(candidate)       S = E(history) (B, L, dim_E)       x_q = [e_c ; x_pc]
 *   u   = pool(x_q, S)       'mean': the mean of S over the valid positions
 *                            'attention': MultiHeadAttention(x_q, S)
 *                            'poso-attention': PosoMultiHeadAttention(x_q, S, x_pc)
 *   logit = head([e_c ; u ; x_pc])   'mlp': MLP    'poso-mlp': PosoMLP gated by x_pc
 *                                    'mmoe': 4 experts of hidden[0] units and a gate, then a
 *                                    tower of hidden[1..]; 'poso-mmoe': the same with a
 *                                    personal gate per expert from x_pc (PosoMMoE)
 * x_pc is the personalization code (e.g. a one-hot user group). Train with `loss()` (BCE)
 * and `optimizers()` (the table's sparse optimizer plus Adam on the dense weights).
 */
import { EmbeddingTable } from '../embedding/table';
import { lookupSequences } from '../embedding/sequence';
import { SparseOptimizer } from '../embedding/sparse-optimizer';
import { MLP } from '../nn/mlp';
import { MMoE } from '../multitask/mmoe';
import { PosoMMoE } from '../multitask/poso-mmoe';
import { Module } from '../nn/module';
import { mul } from '../ops/elementwise';
import { concat } from '../ops/layout';
import { bceWithLogits } from '../ops/loss';
import { sum } from '../ops/reduce';
import { Adam } from '../optim/adam';
import { OptimizerSet } from '../optim/optimizer';
import { MultiHeadAttention, PosoMultiHeadAttention, PosoMultiHeadAttentionOptions } from '../personalize/poso-mha';
import { checkRows } from '../personalize/field-input';
import { PosoMLP } from '../personalize/poso-mlp';
import { Rng } from '../random';
import { tensor, Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkPositive, checkWidths, invalid } from '../validate';

/**
 * How a {@link SequenceRanker} can summarize the history: the mean of its embeddings, plain target
 * attention, or POSO attention.
 */
export const SEQUENCE_POOLINGS = ['mean', 'attention', 'poso-attention'] as const;
/** The towers a {@link SequenceRanker} can end in: a plain or POSO MLP, or a plain or POSO MMoE. */
export const SEQUENCE_HEADS = ['mlp', 'poso-mlp', 'mmoe', 'poso-mmoe'] as const;

/** Options of {@link SequenceRanker}. */
export interface SequenceRankerOptions {
  /** The id table shared by the candidate and the history. */
  table: EmbeddingTable;
  /** Width of the personalization code x_pc. */
  pcFeatures: number;
  /** How the history is summarized (default 'poso-attention'). */
  pooling?: (typeof SEQUENCE_POOLINGS)[number];
  /** The tower (default 'poso-mlp'). */
  head?: (typeof SEQUENCE_HEADS)[number];
  /** Attention width D (default 32). */
  dim?: number;
  /** Attention heads (default 2). */
  heads?: number;
  /** POSO attention's value folds N (default 4). */
  valueFolds?: number;
  /** POSO attention's gate options (key gate, per-head gates, C, gate width). */
  attentionGates?: Pick<PosoMultiHeadAttentionOptions, 'keyGate' | 'gatePerHead' | 'scale' | 'gateHidden' | 'valueGateFloor'>;
  /** Hidden widths of the tower (default [64, 32]). */
  hidden?: number[];
  /** Keep the last maxLen behaviours of each history (default: all). */
  maxLen?: number;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/** One batch for {@link SequenceRanker}: candidates, their users' histories and personalization codes. */
export interface SequenceRankerBatch {
  /** (B) candidate ids. */
  candidate: BigInt64Array;
  /** The histories, jagged (Σ lengths ids) or padded (B × L ids), oldest first. */
  history: BigInt64Array;
  /** (B) history lengths. */
  lengths: Int32Array | readonly number[];
  /** How history is laid out (default 'jagged'). */
  layout?: 'jagged' | 'padded';
  /** (B, pcFeatures) the personalization code. */
  pc: Tensor;
}

export class SequenceRanker extends Module {
  /** The id table shared by the candidate and the history. */
  readonly table: EmbeddingTable;
  /** The attention over the history (null with 'mean' pooling). */
  attention: MultiHeadAttention | PosoMultiHeadAttention | null;
  /** The tower that scores the candidate, the pooled history and the personalization code. */
  tower: MLP | PosoMLP | MMoE;
  /** How the history is summarized. */
  readonly pooling: (typeof SEQUENCE_POOLINGS)[number];
  /** Which tower scores. */
  readonly head: (typeof SEQUENCE_HEADS)[number];
  /** Width of the personalization code x_pc. */
  readonly pcFeatures: number;
  /** The most recent behaviours kept per history (undefined: all). */
  readonly maxLen: number | undefined;

  constructor(options: SequenceRankerOptions) {
    super();
    const o = checkOptions(options, 'options');
    if (!(o.table instanceof EmbeddingTable)) throw invalid('an EmbeddingTable', 'options.table', o.table);
    this.table = o.table;
    this.pcFeatures = checkInt(o.pcFeatures, 'options.pcFeatures', 1);
    this.pooling = checkOneOf(o.pooling ?? 'poso-attention', 'options.pooling', SEQUENCE_POOLINGS);
    this.head = checkOneOf(o.head ?? 'poso-mlp', 'options.head', SEQUENCE_HEADS);
    this.maxLen = o.maxLen === undefined ? undefined : checkInt(o.maxLen, 'options.maxLen', 1);
    const dim = checkInt(o.dim ?? 32, 'options.dim', 1);
    const hidden = checkWidths(o.hidden ?? [64, 32], 'options.hidden');
    const e = this.table.dim;
    const attention = { queryFeatures: e + this.pcFeatures, keyFeatures: e, dim, heads: o.heads ?? 2, rng: o.rng };
    this.attention =
      this.pooling === 'attention'
        ? new MultiHeadAttention(attention)
        : this.pooling === 'poso-attention'
          ? new PosoMultiHeadAttention({ ...checkOptions(o.attentionGates ?? {}, 'options.attentionGates'), ...attention, pcFeatures: this.pcFeatures, valueFolds: o.valueFolds ?? 4 })
          : null;
    const towerIn = e + (this.attention ? dim : e) + this.pcFeatures;
    const moe = { experts: 4, expertHidden: hidden.slice(0, 1), tasks: 1, tower: hidden.slice(1), rng: o.rng };
    this.tower =
      this.head === 'mlp'
        ? new MLP(towerIn, { hidden, outFeatures: 1, rng: o.rng })
        : this.head === 'poso-mlp'
          ? new PosoMLP(towerIn, { hidden, pcFeatures: this.pcFeatures, outFeatures: 1, rng: o.rng })
          : this.head === 'mmoe'
            ? new MMoE(towerIn, moe)
            : new PosoMMoE(towerIn, { ...moe, pcFeatures: this.pcFeatures });
  }

  /** The batch's click logits (B). */
  forward(batch: SequenceRankerBatch): Tensor {
    const b = checkOptions(batch, 'batch');
    if (!(b.candidate instanceof BigInt64Array)) throw invalid('a BigInt64Array', 'batch.candidate', b.candidate);
    const B = b.candidate.length;
    checkRows(b.pc as Tensor, this.pcFeatures, 'batch.pc', B);
    if (b.lengths?.length !== B) throw invalid(`${B} lengths (one per candidate)`, 'batch.lengths', b.lengths);
    const pc = b.pc as Tensor;
    const cand = this.table.lookup(b.candidate);
    const seq = lookupSequences(this.table, b.history as BigInt64Array, b.lengths, { layout: b.layout, maxLen: this.maxLen });
    let pooled: Tensor;
    if (this.attention === null) {
      const inv = tensor(Float32Array.from(seq.lengths, (n) => (n > 0 ? 1 / n : 0)), { shape: [B, 1], device: cand.device });
      pooled = mul(sum(seq.embeddings, 1), inv);
    } else {
      const xq = concat([cand, pc], 1);
      pooled =
        this.attention instanceof PosoMultiHeadAttention
          ? this.attention.forward(xq, seq.embeddings, pc, { lengths: seq.lengths })
          : this.attention.forward(xq, seq.embeddings, { lengths: seq.lengths });
    }
    const x = concat([cand, pooled, pc], 1);
    const logit = this.tower instanceof PosoMLP || this.tower instanceof PosoMMoE ? this.tower.forward(x, pc) : this.tower.forward(x);
    return logit.reshape(B);
  }

  /** Mean BCE-with-logits of logits (B) against 0/1 labels (B). */
  loss(logits: Tensor, labels: Tensor): Tensor {
    return bceWithLogits(logits, labels);
  }

  /** The table's sparse optimizer plus Adam (lr denseLr, default 1e-3) on the dense weights. */
  optimizers(options: { denseLr?: number } = {}): OptimizerSet {
    const lr = checkPositive(checkOptions(options, 'options').denseLr ?? 1e-3, 'options.denseLr');
    return new OptimizerSet([new SparseOptimizer(this.table), new Adam(this.parameters(), { lr })]);
  }
}
