/**
 * A config job with every numeric treatment (quantile buckets beside the value with missing
 * amounts, min-max with clip bounds, the default, a constant column) transforms a request at
 * serving exactly as training did: the fitted state travels in the checkpoint and in the
 * serving updates, a predictor from either builds the same dense columns and bucket ids as
 * the training job's batches of the same rows and scores them as the trained model does; a
 * copy fed by updates refuses to guess before its first update, and an update whose numeric
 * state does not fit changes nothing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportUpdate, readCheckpointInfo, Rng } from '../lib';
import type { Batch } from '../lib';
import { objectCollate } from '../lib/serve/predictor';
import { jobPredictor } from '../lib/serve/job-predictor';
import { parseTrainConfig, TrainConfig } from '../lib/train/config';
import { buildJob, loadJobCheckpoint, runTrainJob } from '../lib/train/job';

let dir: string;
/** Each data line's values as a request object, by line number. */
const objects = new Map<number, Record<string, unknown>>();

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-numeric-serve-'));
  const rng = new Rng(8);
  const lines = ['shop,amount,age,visits,flat,buy'];
  for (let r = 0; r < 3000; ++r) {
    const shop = `s${Math.floor(rng.uniform() * 8)}`;
    const amount = rng.uniform() < 0.1 ? '' : String(Math.round(Math.exp(2 + 1.5 * rng.normal())));
    const age = 10 + Math.floor(rng.uniform() * 90);
    const visits = Math.floor(rng.uniform() * 30);
    const z = (amount !== '' && Number(amount) > 15 ? 1.5 : -1) + (age - 50) / 40;
    const buy = rng.uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    lines.push([shop, amount, age, visits, 3, buy].join(','));
    objects.set(r + 2, { shop, amount: amount === '' ? null : Number(amount), age, visits, flat: 3 });
  }
  fs.writeFileSync(path.join(dir, 'buys.csv'), `${lines.join('\n')}\n`);
});

function config(): TrainConfig {
  return {
    name: 'buys',
    seed: 4,
    schema: {
      fields: [
        { name: 'shop', kind: 'sparse' },
        { name: 'amount', kind: 'dense', bucketize: { quantiles: 8 }, keepValue: true },
        { name: 'age', kind: 'dense', normalize: 'minmax', clip: [18, 90] },
        { name: 'visits', kind: 'dense' },
        { name: 'flat', kind: 'dense' },
        { name: 'buy', kind: 'label' },
      ],
    },
    data: { train: 'buys.csv', split: { valid: 0.15, test: 0.15 } },
    model: { kind: 'mlp', embeddingDim: 4, table: { capacity: 1024 }, options: { hidden: [16] } },
    optimizer: { dense: { kind: 'adam', lr: 0.01 } },
    train: { epochs: 2, batchSize: 128, shuffleBuffer: 1000, updateEvery: 10 },
    output: { dir: 'out', report: false },
  };
}

const resolve = () => parseTrainConfig(config(), dir);
const host = (b: Batch) => ({ dense: Array.from(b.dense.toArraySync() as Float32Array), amount: Array.from(b.raw.ids.amount) });

describe('numeric treatment at serving', () => {
  it('training and serving transform a request identically, from the checkpoint and from the updates', async () => {
    const notes: string[] = [];
    const r = await runTrainJob(resolve(), { progress: { mode: 'none' }, log: (l) => notes.push(l) });
    const state = r.numeric!;
    expect(state.fields.map((f) => f.name)).toEqual(['amount', 'age', 'visits', 'flat']);
    expect(state.fields[0].missing).toBeGreaterThan(100);
    expect(notes).toEqual(["note: schema.fields[4] ('flat') is constant in the training rows (every value 3): normalized without scaling, to 0 on those rows"]);
    expect((readCheckpointInfo(r.checkpoint).config as { numeric: unknown }).numeric).toEqual(state);

    // The training side: the job's own batches of the test rows (read, cached, batched as training does).
    const trained = buildJob(resolve(), { cache: true });
    loadJobCheckpoint(trained, r.checkpoint);
    let first: { want: ReturnType<typeof host>; logits: Float32Array; lines: Int32Array } | null = null;
    for await (const b of trained.data('test')()) {
      first = { want: host(b), logits: trained.trainer.predict(b), lines: b.raw.lines.slice() };
      break; // the job frees its batches
    }
    const { want, logits, lines } = first!;
    const requests = Array.from(lines, (line) => objects.get(line)!);
    expect(requests.some((q) => q.amount === null)).toBe(true); // the missing bucket is exercised

    const fromCheckpoint = jobPredictor(resolve(), r.checkpoint);
    const fromUpdates = jobPredictor(resolve(), null);
    // Before any update the copy has no quantile boundaries: it refuses rather than guess.
    expect(() => fromUpdates.predictor.predict(requests.slice(0, 1))).toThrow("the quantile boundaries of 'amount' are not fitted");
    for (const f of r.updates) fromUpdates.update(f);
    for (const p of [fromCheckpoint, fromUpdates]) {
      expect(p.parts.config.schema.numericState).toEqual(state);
      const served = objectCollate(p.parts.config.schema, { device: 'cpu' })(requests);
      expect(host(served)).toEqual(want);
      served.dispose();
    }
    const scores = fromCheckpoint.predictor.predict(requests);
    expect(fromUpdates.predictor.predict(requests)).toEqual(scores);
    expect(scores.map((s) => s.buy)).toEqual(Array.from(logits, (x) => 1 / (1 + Math.exp(-x))));

    // An update whose numeric state does not fit the schema changes nothing.
    const before = fromUpdates.predictor.predict(requests.slice(0, 4));
    const m = fromUpdates.parts.model;
    const bad = exportUpdate({ model: m, tables: { table: m.table }, step: 1, metadata: { domainNames: [], numeric: { ...state, fields: state.fields.slice(1) } } });
    expect(() => fromUpdates.update(bad)).toThrow('serving update: the numeric state has 3 fields, the schema 4 dense fields');
    expect(fromUpdates.predictor.predict(requests.slice(0, 4))).toEqual(before);
    expect(fromUpdates.parts.config.schema.numericState).toEqual(state);

    trained.dispose();
    trained.model.table.dispose();
    await fromCheckpoint.dispose();
    await fromUpdates.dispose();
  }, 120_000);
});
