/**
 * Distributed training against one process: 2 ranks (child processes on loopback), each with
 * batch B, train a config's job — table sharded, dense weights data-parallel — to the same
 * per-step losses, weights and table rows as one process with batch 2B over the same rows,
 * for MLP, MMoE and PEPNet; the existing Predictor serves its checkpoint alike. The click log's every label is present (a missing label would
 * make a rank's mean loss weigh its rows differently from the global mean, as in PyTorch DDP).
 * Skips, saying why, without the Gloo addon.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrainConfig, TrainConfig } from '../lib/train/config';
import { buildJob, loadJobCheckpoint, runTrainJob } from '../lib/train/job';
import { jobPredictor } from '../lib/serve/job-predictor';
import type { ModelKind } from '../lib/train/config';
import { launch, skipReason } from './fixtures/distributed-launch';
import { clickConfig, writeClickLog } from './fixtures/tabular-data';

if (skipReason) console.log(skipReason);

/** A click log whose dwell label is present on every row (0 where there was no click). */
function writeFullLog(dir: string, rows: number, seed: number, name: string): string {
  const file = writeClickLog(dir, rows, seed, name);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/,\n/g, ',0\n'));
  return file;
}

/** Float32 sums in another order: per-step losses and weights agree to this, relative to each array's scale (measured on a 2-core CPU VM: losses 8e-8, weights 2e-6 after 16 steps). */
const LOSS_TOL = 1e-6;
const WEIGHT_TOL = 2e-5;

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1e-6;
  let diff = 0;
  for (let i = 0; i < a.length; ++i) {
    scale = Math.max(scale, Math.abs(a[i]), Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-dist-'));
  writeFullLog(dir, 1024, 1, 'train.csv');
  writeFullLog(dir, 300, 2, 'valid.csv');
  writeFullLog(dir, 300, 3, 'test.csv');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function config(kind: ModelKind, batchSize: number, out: string): TrainConfig {
  const c = clickConfig(kind);
  return {
    ...c,
    data: { train: path.join(dir, 'train.csv'), valid: path.join(dir, 'valid.csv'), test: path.join(dir, 'test.csv'), split: { valid: 0, test: 0 } },
    train: { epochs: 2, batchSize, evalBatchSize: 100, shuffleBuffer: 0, lossEvery: 1 },
    output: { dir: path.join(dir, out), report: false },
  };
}

describe.skipIf(skipReason !== '')('distributed job (2 ranks) against one process', () => {
  it.each(['mlp', 'mmoe', 'pepnet'] as ModelKind[])('%s: same losses, weights and table rows as batch 2B in one process', async (kind) => {
    const one = await runTrainJob(parseTrainConfig(config(kind, 128, `${kind}-1`), dir), { progress: { mode: 'none' }, log: () => {} });
    const file = path.join(dir, `${kind}-2.json`);
    fs.writeFileSync(file, JSON.stringify(config(kind, 64, `${kind}-2`)));
    const ranks = await launch('job', 2, [file]);
    for (const r of ranks) expect(r.code, r.stderr).toBe(0);
    const two = ranks[0].json as { losses: [number, number][]; test: { task: string; domain: string; auc?: number }[]; steps: number; checkpoint: string };
    // 1024 rows: 8 steps of 128 (or 2 × 64) per epoch.
    expect(two.steps).toBe(16);
    expect(two.losses.map((l) => l[0])).toEqual(one.losses.map((l) => l[0]));
    expect(maxRelDiff(two.losses.map((l) => l[1]), one.losses.map((l) => l[1]))).toBeLessThan(LOSS_TOL);
    // Both ranks computed the metrics over all 300 test rows.
    expect((ranks[1].json as typeof two).test).toEqual(two.test);
    const auc = (t: typeof two.test) => t.find((m) => m.task === 'click' && m.domain === 'all')!.auc!;
    expect(Math.abs(auc(two.test) - auc(one.test))).toBeLessThan(1e-4);

    // The checkpoints: same dense weights, and the sharded table's joined rows are the unsharded table's.
    const load = (ckpt: string, out: string) => {
      const parts = buildJob(parseTrainConfig(config(kind, 128, out), dir), { progress: { mode: 'none' }, cache: false });
      loadJobCheckpoint(parts, ckpt);
      return parts;
    };
    const a = load(one.checkpoint, `${kind}-load-1`);
    const b = load(two.checkpoint, `${kind}-load-2`);
    try {
      const sa = a.model.stateDict();
      const sb = b.model.stateDict();
      expect(Object.keys(sb)).toEqual(Object.keys(sa));
      for (const k of Object.keys(sa)) {
        expect(maxRelDiff(sb[k].toArraySync() as Float32Array, sa[k].toArraySync() as Float32Array), k).toBeLessThan(WEIGHT_TOL);
      }
      const keysA = a.model.table.keys();
      const keysB = b.model.table.keys();
      expect(keysB.length).toBe(keysA.length);
      expect(keysB).toEqual(keysA);
      const rows = (p: typeof a) => p.model.table.lookup(p.model.table.keys()).toArraySync() as Float32Array;
      a.model.table.eval();
      b.model.table.eval();
      expect(maxRelDiff(rows(b), rows(a))).toBeLessThan(WEIGHT_TOL);
    } finally {
      a.model.table.dispose();
      b.model.table.dispose();
    }

    // The existing Predictor serves the 2-rank checkpoint as it serves the 1-process one.
    const requests = [
      { user: 'u3', item: 'i7', tags: ['t1', 't4'], hist: ['i2', 'i9'], price: 120, scene: 'feed' },
      { user: 'u150', item: 'i42', tags: ['t9'], hist: [], price: 15, scene: 'search' },
    ];
    const served = await Promise.all(
      [one.checkpoint, two.checkpoint].map(async (ckpt) => {
        const p = jobPredictor(parseTrainConfig(config(kind, 128, `${kind}-serve`), dir), ckpt);
        try {
          return p.predictor.predict(requests);
        } finally {
          await p.dispose();
        }
      }),
    );
    for (let i = 0; i < requests.length; ++i) {
      for (const task of ['click', 'dwell']) expect(Math.abs(served[1][i][task] - served[0][i][task]), task).toBeLessThan(1e-4);
    }
  }, 180000);
});
