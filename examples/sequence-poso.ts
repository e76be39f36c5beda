/**
 * Target attention over behaviour sequences with an imbalanced user group
 * (data/synthetic-sequences): trains a SequenceRanker with a given pooling and head on one
 * sample of the synthetic world and returns its test AUC overall, for the majority and for
 * the minority. The minority's clicks depend on other history items than the majority's
 * (a shifted category), which a shared attention tends to learn for the majority only.
 */
import { auc, EmbeddingTable, manualSeed, noGrad, padHistories, Rng, SequenceRanker, SequenceRankerOptions, syntheticSequences, SyntheticSequences, SyntheticSequencesOptions, tensor, Tensor, tidy } from '../lib';

export interface SequenceRunOptions {
  pooling: NonNullable<SequenceRankerOptions['pooling']>;
  head: NonNullable<SequenceRankerOptions['head']>;
  /** Seed of the model and of the training sample (the world is fixed by `world`). */
  seed?: number;
  /** Seed of the synthetic world: item categories and the minority's shift (default 1). */
  world?: number;
  /** Training samples (default 40,000); the test set has a quarter as many. */
  samples?: number;
  /** Passes over the training samples (default 2). */
  epochs?: number;
  /** Default 256. */
  batch?: number;
  /** Model options beyond pooling and head (value folds, attention gates, widths). */
  model?: Omit<SequenceRankerOptions, 'table' | 'pcFeatures' | 'pooling' | 'head' | 'rng'>;
  /** Options of the generator beyond samples and seeds. */
  data?: Omit<SyntheticSequencesOptions, 'samples' | 'seed' | 'sampleSeed'>;
}

export interface SequenceRunResult {
  pooling: string;
  head: string;
  seed: number;
  auc: number;
  aucMajority: number;
  aucMinority: number;
  /** The AUC of the true click probability on the same test rows. */
  oracleMinority: number;
}

/** One-hot group codes (B, 2). */
function groupCode(d: SyntheticSequences, rows: Int32Array): Tensor {
  const pc = new Float32Array(rows.length * 2);
  rows.forEach((r, i) => (pc[i * 2 + d.group[r]] = 1));
  return tensor(pc, { shape: [rows.length, 2] });
}

export function runSequence(options: SequenceRunOptions): SequenceRunResult {
  const seed = options.seed ?? 1;
  const world = options.world ?? 1;
  const samples = options.samples ?? 40_000;
  const epochs = options.epochs ?? 2;
  const batchSize = options.batch ?? 256;
  const train = syntheticSequences({ ...options.data, samples, seed: world, sampleSeed: 1000 + seed });
  const test = syntheticSequences({ ...options.data, samples: Math.floor(samples / 4), seed: world, sampleSeed: 5000 + seed });
  manualSeed(seed);
  const rng = new Rng(seed);
  const table = new EmbeddingTable({ dim: 16, capacity: 2 * train.items, seed, optimizer: { kind: 'adagrad', lr: 0.05 } });
  const model = new SequenceRanker({ ...options.model, table, pcFeatures: 2, pooling: options.pooling, head: options.head, rng });
  const opt = model.optimizers({ denseLr: 2e-3 });
  const logits = (d: SyntheticSequences, rows: Int32Array) => {
    const h = padHistories(d, rows);
    return model.forward({ candidate: BigInt64Array.from(rows, (r) => d.candidate[r]), history: h.ids, lengths: h.lengths, layout: 'padded', pc: groupCode(d, rows) });
  };
  const order = Int32Array.from({ length: train.samples }, (_, i) => i);
  for (let epoch = 0; epoch < epochs; ++epoch) {
    rng.shuffle(order);
    for (let s = 0; s < order.length; s += batchSize) {
      tidy(() => {
        const rows = order.subarray(s, s + batchSize);
        const z = logits(train, rows);
        opt.zeroGrad();
        model.loss(z, tensor(Float32Array.from(rows, (r) => train.label[r]))).backward();
        opt.step();
      });
    }
  }
  model.eval();
  table.eval();
  const scores = new Float32Array(test.samples);
  noGrad(() => {
    for (let s = 0; s < test.samples; s += 2048) {
      const rows = Int32Array.from({ length: Math.min(2048, test.samples - s) }, (_, i) => s + i);
      tidy(() => scores.set(logits(test, rows).toArraySync() as Float32Array, s));
    }
  });
  table.dispose();
  const of = (g: number | null, v: ArrayLike<number>) => {
    const idx = [...Array(test.samples).keys()].filter((i) => g === null || test.group[i] === g);
    return auc(idx.map((i) => v[i]), idx.map((i) => test.label[i]));
  };
  return {
    pooling: options.pooling,
    head: options.head,
    seed,
    auc: of(null, scores),
    aucMajority: of(0, scores),
    aucMinority: of(1, scores),
    oracleMinority: of(1, test.probability),
  };
}
