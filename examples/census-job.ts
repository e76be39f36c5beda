/**
 * The main job: a multi-task model (MMoE, both census-income tasks: income > 50K and never
 * married) trained on the bundled census-income data with the Trainer — sparse AdaGrad on
 * the embedding table beside Adam on the dense weights, evaluation on the validation rows
 * after each epoch with early stopping, then the test rows' AUC per task and per sex — and
 * a checkpoint written atomically, reloaded into a fresh model and checked to predict the same.
 *   npm run train:api [-- --epochs 4 --out runs/census]   (npx tsx examples/census-job.ts …)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Adam, backend, formatTaskMetrics, loadCheckpoint, MMoE, saveCheckpoint, SparseOptimizer, Trainer } from '../lib';
import { CENSUS_TASKS } from './data/census-income';
import { cliArg, censusSetup, CensusSetup } from './census-train';

const BATCH = 512;

interface Job {
  setup: CensusSetup;
  model: MMoE;
  trainer: Trainer<Int32Array>;
}

/** Batches of row indices: the train rows shuffled per epoch, or a split in order. */
function rowBatches(rows: Int32Array, shuffle: ((a: Int32Array) => void) | null): () => Iterable<Int32Array> {
  return function* () {
    const order = rows.slice();
    shuffle?.(order);
    for (let s = 0; s < order.length; s += BATCH) yield order.subarray(s, s + BATCH);
  };
}

function build(seed: number): Job {
  const setup = censusSetup({ seed });
  const { ds, table, inFeatures, features } = setup;
  const model = new MMoE(inFeatures, { experts: 8, expertHidden: [64], tasks: CENSUS_TASKS.length, tower: [32], rng: setup.rng });
  const trainer = new Trainer<Int32Array>({
    model,
    forward: (rows) => {
      const [x, b] = features(rows, { domain: 'sex' });
      return { outputs: model.forward(x), labels: b.labels };
    },
    tasks: [...CENSUS_TASKS],
    optimizers: [new SparseOptimizer(table), new Adam(model.parameters(), { lr: 1e-3 })],
    batchInfo: (rows) => ({ domains: rows.map((r) => ds.domains.sex.ids[r]) }),
    domainNames: [...ds.domains.sex.names],
    alsoEval: [table],
  });
  return { setup, model, trainer };
}

async function main(): Promise<void> {
  const epochs = Number(cliArg('epochs', '4'));
  const out = cliArg('out', path.join('runs', 'census'));
  const b = backend();
  const job = build(1);
  const { ds } = job.setup;
  console.log(`gatewise: MMoE on census-income (${ds.splits.train.length} train / ${ds.splits.valid.length} valid / ${ds.splits.test.length} test rows), ${b.kind} (${b.deviceName})`);
  const fit = await job.trainer.fit(rowBatches(ds.splits.train, (a) => job.setup.rng.shuffle(a)), {
    epochs,
    eval: rowBatches(ds.splits.valid, null),
    earlyStopping: { metric: 'auc', patience: 2 },
  });
  const test = await job.trainer.evaluate(rowBatches(ds.splits.test, null));
  console.log(`\ntest rows after ${fit.history.length} epochs (${fit.steps} steps):\n${formatTaskMetrics(test)}`);

  fs.mkdirSync(out, { recursive: true });
  const state = (j: Job) => ({ model: j.model, tables: { embedding: j.setup.table }, optimizers: { dense: j.trainer.optimizer } });
  const file = saveCheckpoint(path.join(out, 'census-mmoe.gwck'), { ...state(job), step: fit.steps, config: { model: 'mmoe', epochs } });
  const fresh = build(1);
  loadCheckpoint(file, state(fresh));
  const probe = ds.splits.test.subarray(0, 1024);
  const [before, after] = [job.trainer.predict(probe), fresh.trainer.predict(probe)];
  const same = before.length > 0 && before.every((v, i) => v === after[i]);
  console.log(`\ncheckpoint ${file} (${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB): reloaded into a fresh model, predictions ${same ? 'identical' : 'DIFFER'}`);
  if (!same) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`gatewise: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});
