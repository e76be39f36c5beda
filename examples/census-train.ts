/**
 * The census-income experiments' shared loop: train a model (the table's sparse optimizer
 * plus Adam on the dense weights) for some epochs over the train rows, then score the test
 * rows in eval mode and compute each task's exact AUC, overall and per domain value.
 */
import { Adam, auc, concat, EmbeddingTable, manualSeed, Module, multiTaskBce, noGrad, OptimizerSet, Rng, SparseOptimizer, Tensor, tensor, tidy } from '../lib';
import { CensusBatch, CensusBatchOptions, CensusDomain, CensusIncome, CENSUS_TASKS, loadCensusIncomeSync } from './data/census-income';

/** What every census experiment's run takes besides its model. */
export interface CensusRunCommon {
  /** Seeds the initial weights, the table and the sample order (default 1). */
  seed?: number;
  /** Passes over the training rows (default 4). */
  epochs?: number;
  /** Default 512. */
  batch?: number;
  /** The data, when already loaded. */
  data?: CensusIncome;
}

/** A run's data, seeded generator and embedding table, and the usual input of its model. */
export interface CensusSetup {
  ds: CensusIncome;
  seed: number;
  rng: Rng;
  /** Every categorical field's embedding (AdaGrad, lr 0.05). */
  table: EmbeddingTable;
  dim: number;
  /** Categorical fields per row. */
  fields: number;
  /** fields · dim + the dense features: the width of `features`. */
  inFeatures: number;
  /** The rows' batch and its embedded fields beside its dense features, (B, inFeatures). */
  features(rows: Int32Array, options?: CensusBatchOptions): [Tensor, CensusBatch];
}

/** Loads the data unless given, seeds the global and a local generator, makes the table. */
export function censusSetup(options: CensusRunCommon, dim = 8): CensusSetup {
  const ds = options.data ?? loadCensusIncomeSync();
  const seed = options.seed ?? 1;
  manualSeed(seed);
  const table = new EmbeddingTable({ dim, capacity: 2 * ds.numEmbeddings, seed, optimizer: { kind: 'adagrad', lr: 0.05 } });
  const fields = ds.fieldNames.length;
  return {
    ds,
    seed,
    rng: new Rng(seed),
    table,
    dim,
    fields,
    inFeatures: fields * dim + ds.denseNames.length,
    features: (rows, batchOptions) => {
      const b = ds.batch(rows, batchOptions);
      const e = table.lookup(tensor(b.ids, { shape: [rows.length, fields] })).reshape(rows.length, fields * dim);
      return [concat([e, b.dense], 1), b];
    },
  };
}

export interface CensusAuc {
  task: (typeof CENSUS_TASKS)[number];
  /** 'all' or a domain value's name. */
  domain: string;
  auc: number;
  n: number;
}

export interface CensusFit {
  ds: CensusIncome;
  table: EmbeddingTable;
  module: Module;
  /** Rows → [logits (B, tasks), labels (B, tasks)]. */
  logits: (rows: Int32Array) => [Tensor, Tensor];
  rng: Rng;
  epochs: number;
  batch: number;
  /** Adam's learning rate on the dense weights (default 1e-3). */
  denseLr?: number;
  /** Called in eval mode before the test rows are scored (e.g. to reset statistics). */
  beforeEval?: () => void;
}

/** Trains, then returns the test rows' logits (test rows × tasks, row-major); disposes the table. */
export function fitCensus(f: CensusFit): Float32Array {
  const opt = new OptimizerSet([new SparseOptimizer(f.table), new Adam(f.module.parameters(), { lr: f.denseLr ?? 1e-3 })]);
  const train = f.ds.splits.train.slice();
  for (let epoch = 0; epoch < f.epochs; ++epoch) {
    f.rng.shuffle(train);
    for (let s = 0; s < train.length; s += f.batch) {
      tidy(() => {
        const [z, y] = f.logits(train.subarray(s, s + f.batch));
        opt.zeroGrad();
        multiTaskBce(z, y).backward();
        opt.step();
      });
    }
  }
  f.module.eval();
  f.table.eval();
  f.beforeEval?.();
  const test = f.ds.splits.test;
  const tasks = CENSUS_TASKS.length;
  const scores = new Float32Array(test.length * tasks);
  noGrad(() => {
    for (let s = 0; s < test.length; s += 4096) {
      tidy(() => scores.set(f.logits(test.subarray(s, s + 4096))[0].toArraySync() as Float32Array, s * tasks));
    }
  });
  f.table.dispose();
  return scores;
}

/** Each task's test AUC overall and, when a domain is given, per domain value. */
export function censusAucs(ds: CensusIncome, scores: Float32Array, domain?: CensusDomain): CensusAuc[] {
  const test = ds.splits.test;
  const tasks = CENSUS_TASKS.length;
  const out: CensusAuc[] = [];
  const groups: [string, (row: number) => boolean][] = [['all', () => true]];
  if (domain) {
    const dom = ds.domains[domain];
    groups.push(...dom.names.map((name, d): [string, (row: number) => boolean] => [name, (row) => dom.ids[row] === d]));
  }
  CENSUS_TASKS.forEach((task, t) => {
    const labels = ds.labels[task];
    for (const [name, keepRow] of groups) {
      const idx = [...test.keys()].filter((i) => keepRow(test[i]));
      out.push({ task, domain: name, auc: auc(idx.map((i) => scores[i * tasks + t]), idx.map((i) => labels[test[i]])), n: idx.length });
    }
  });
  return out;
}

/** "m ± sd" of values (sample standard deviation). */
export function meanSd(values: number[], digits = 4): string {
  const m = values.reduce((s, x) => s + x, 0) / values.length;
  const sd = Math.sqrt(values.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(1, values.length - 1));
  return `${m.toFixed(digits)} ± ${sd.toFixed(digits)}`;
}

/** The value of `--name` on the command line, or fallback. */
export function cliArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
