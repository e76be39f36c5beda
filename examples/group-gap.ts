/**
 * The submergence experiment: a plain MLP that sees the group indicator as one input
 * among many, POSO-MLP (the indicator drives gates on every hidden unit), PEPNet (the
 * indicator is EPNet's domain and PPNet's prior), and the dynamic-weight models — APG-MLP
 * (the indicator generates each layer's low-rank core), M2M (it generates the meta
 * attention and the meta tower) and STAR (it selects each layer's W_p, b_p and the
 * normalization's statistics) — trained alike on the synthetic imbalanced-group data
 * (lib/data/synthetic-groups.ts); returns each model's test AUC on the majority and on
 * the minority group.
 */
import { Adam, ApgMLP, auc, bceWithLogits, concat, EmbeddingTable, M2M, manualSeed, MLP, Module, noGrad, OptimizerSet, PEPNet, PosoMLP, Rng, SparseOptimizer, Star, SyntheticGroups, syntheticGroups, Tensor, tensor, tidy } from '../lib';

export const GROUP_GAP_MODELS = ['mlp', 'poso-mlp', 'pepnet', 'apg-mlp', 'm2m', 'star'] as const;
export type GroupGapModel = (typeof GROUP_GAP_MODELS)[number];

/** A trained model, or 'oracle': the true click probability, the best any model can do. */
export type GroupGapRow = GroupGapModel | 'oracle';

export interface GroupGapOptions {
  /** Seed of the data's true function, the initial weights and the sample order. */
  seed: number;
  /** Training samples (default 40,000); the test set is a quarter of that. */
  samples?: number;
  /** Minority share (default 0.05). */
  minorityShare?: number;
  /** Passes over the training set (default 2). */
  epochs?: number;
  /** Batch size (default 256). */
  batch?: number;
  /** Hidden widths of every model (default [64, 32]). */
  hidden?: number[];
  /** Models to train (default mlp, poso-mlp, pepnet). */
  models?: GroupGapModel[];
}

export interface GroupGapResult {
  model: GroupGapRow;
  majority: number;
  minority: number;
  overall: number;
}

const EMB_DIM = 8;

/** One batch as the models take it. */
interface Batch {
  dense: Tensor;
  group: Tensor; // (B, 2) one-hot
  itemIds: Tensor; // (B, 1) int64
  groupIds: Tensor; // (B, 1) int64, after the item ids
  label: Tensor; // (B, 1)
}

function makeBatch(data: SyntheticGroups, rows: Int32Array): Batch {
  const d = data.denseFeatures;
  const b = rows.length;
  const dense = new Float32Array(b * d);
  const onehot = new Float32Array(b * 2);
  const itemIds = new BigInt64Array(b);
  const groupIds = new BigInt64Array(b);
  const label = new Float32Array(b);
  rows.forEach((r, i) => {
    dense.set(data.dense.subarray(r * d, (r + 1) * d), i * d);
    onehot[i * 2 + data.group[r]] = 1;
    itemIds[i] = BigInt(data.item[r]);
    groupIds[i] = BigInt(data.items + data.group[r]);
    label[i] = data.label[r];
  });
  return {
    dense: tensor(dense, { shape: [b, d] }),
    group: tensor(onehot, { shape: [b, 2] }),
    itemIds: tensor(itemIds, { shape: [b, 1] }),
    groupIds: tensor(groupIds, { shape: [b, 1] }),
    label: tensor(label, { shape: [b, 1] }),
  };
}

/** A model and its forward on a batch. */
interface Trainable {
  module: Module;
  table: EmbeddingTable;
  logits(b: Batch): Tensor;
}

function build(kind: GroupGapModel, data: SyntheticGroups, hidden: number[], rng: Rng): Trainable {
  const table = new EmbeddingTable({ dim: EMB_DIM, capacity: 1024, optimizer: { kind: 'adagrad', lr: 0.05 }, seed: rng.int(1 << 30) });
  const inputs = data.denseFeatures + 2 + EMB_DIM;
  const features = (b: Batch) => concat([b.dense, b.group, table.lookup(b.itemIds).reshape(b.dense.shape[0], EMB_DIM)], 1);
  if (kind === 'mlp') {
    const mlp = new MLP(inputs, { hidden, outFeatures: 1, rng });
    return { module: mlp, table, logits: (b) => mlp.forward(features(b)) };
  }
  if (kind === 'poso-mlp') {
    const poso = new PosoMLP(inputs, { hidden, pcFeatures: 2, outFeatures: 1, rng });
    return { module: poso, table, logits: (b) => poso.forward(features(b), b.group) };
  }
  if (kind === 'apg-mlp') {
    const apg = new ApgMLP(inputs, { hidden, outFeatures: 1, rank: 16, condition: 'group', condFeatures: 2, rng });
    return { module: apg, table, logits: (b) => apg.forward(features(b), b.group) };
  }
  if (kind === 'm2m') {
    const m2m = new M2M(inputs, { scenarioFeatures: 2, tasks: 1, experts: 4, expertHidden: [hidden[0]], towerLayers: 1, rng });
    return { module: m2m, table, logits: (b) => m2m.forward(features(b), b.group) };
  }
  if (kind === 'star') {
    const star = new Star(inputs, { domains: 2, hidden, rng });
    return { module: star, table, logits: (b) => star.forward(features(b), b.group) };
  }
  const pep = new PEPNet({ table, fields: 1, domainFields: 1, priorFields: 1, denseFeatures: data.denseFeatures, hidden, rng });
  return { module: pep, table, logits: (b) => pep.forward({ ids: b.itemIds, domainIds: b.groupIds, priorIds: b.groupIds, dense: b.dense }) };
}

/** Trains each model on the same data and order; returns per-group test AUCs. */
export function runGroupGap(options: GroupGapOptions): GroupGapResult[] {
  const seed = options.seed;
  const samples = options.samples ?? 40_000;
  const epochs = options.epochs ?? 2;
  const batchSize = options.batch ?? 256;
  const hidden = options.hidden ?? [64, 32];
  const share = options.minorityShare ?? 0.05;
  const train = syntheticGroups({ samples, minorityShare: share, seed, sampleSeed: seed * 2 + 1 });
  const test = syntheticGroups({ samples: Math.ceil(samples / 4), minorityShare: share, seed, sampleSeed: seed * 2 + 2 });
  const results: GroupGapResult[] = [];
  const groupAuc = (scores: ArrayLike<number>, g: number) => {
    const idx = [...test.group.keys()].filter((i) => test.group[i] === g);
    return auc(idx.map((i) => scores[i]), idx.map((i) => test.label[i]));
  };
  results.push({ model: 'oracle', majority: groupAuc(test.probability, 0), minority: groupAuc(test.probability, 1), overall: auc(test.probability, test.label) });
  for (const kind of options.models ?? (['mlp', 'poso-mlp', 'pepnet'] as GroupGapModel[])) {
    manualSeed(seed);
    const rng = new Rng(seed + 17);
    const m = build(kind, train, hidden, rng);
    const opt = new OptimizerSet([new SparseOptimizer(m.table), new Adam(m.module.parameters(), { lr: 3e-3 })]);
    const order = Int32Array.from({ length: samples }, (_, i) => i);
    for (let epoch = 0; epoch < epochs; ++epoch) {
      rng.shuffle(order);
      for (let s = 0; s < samples; s += batchSize) {
        tidy(() => {
          const b = makeBatch(train, order.subarray(s, s + batchSize));
          opt.zeroGrad();
          bceWithLogits(m.logits(b), b.label).backward();
          opt.step();
        });
      }
    }
    m.module.eval();
    const scores = new Float32Array(test.samples);
    noGrad(() => {
      for (let s = 0; s < test.samples; s += 4096) {
        const rows = Int32Array.from({ length: Math.min(4096, test.samples - s) }, (_, i) => s + i);
        tidy(() => scores.set(m.logits(makeBatch(test, rows)).toArraySync() as Float32Array, s));
      }
    });
    results.push({ model: kind, majority: groupAuc(scores, 0), minority: groupAuc(scores, 1), overall: auc(scores, test.label) });
    m.table.dispose();
  }
  return results;
}
