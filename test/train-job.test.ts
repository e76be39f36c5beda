/**
 * The config-described job end to end on a generated click log: each body kind learns the
 * click task (test AUC) and the regression task, the outputs are written, a checkpoint
 * reloads into the same scores, malformed rows are skipped and counted (or fail naming the
 * line), and an abort signal stops after the current step with the checkpoint still written.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FormatError, readCheckpointInfo, readSafetensors } from '../lib';
import type { TaskMetric } from '../lib';
import { parseTrainConfig, TrainConfig } from '../lib/train/config';
import { buildJob, evaluateJobCheckpoint, loadJobCheckpoint, runTrainJob } from '../lib/train/job';
import { jobPredictor } from '../lib/serve/job-predictor';
import { clickConfig, writeClickLog } from './fixtures/tabular-data';

let dir: string;
const quiet = { progress: { mode: 'none' as const }, log: () => {} };
const resolve = (c: TrainConfig) => parseTrainConfig(c, dir);
const allRows = (metrics: TaskMetric[], task: string): TaskMetric => metrics.find((m) => m.task === task && m.domain === 'all')!;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-job-'));
  writeClickLog(dir, 6000);
});

describe('config job', () => {
  it.each(['mlp', 'shared-bottom', 'mmoe', 'pepnet'] as const)('%s learns the click and dwell tasks; outputs written; the checkpoint scores the same', async (kind) => {
    const config = resolve(clickConfig(kind, { output: { dir: `out-${kind}`, safetensors: true } }));
    const r = await runTrainJob(config, quiet);
    expect(r.fit.history).toHaveLength(3);
    expect(r.losses.at(-1)![0]).toBe(r.fit.steps);
    const click = allRows(r.test, 'click');
    expect(click.auc).toBeGreaterThan(0.75);
    const dwell = allRows(r.test, 'dwell');
    expect(dwell.mse).toBeLessThan(1.0); // the labels' variance is ~2.3
    // Per-domain rows: every scene.
    expect(r.test.filter((m) => m.task === 'click').map((m) => m.domain).sort()).toEqual(['all', 'detail', 'feed', 'search']);
    for (const f of [r.checkpoint, r.metrics, r.report!, r.safetensors!]) expect(fs.existsSync(f)).toBe(true);
    expect(JSON.parse(fs.readFileSync(r.metrics, 'utf8')).history).toHaveLength(3);
    expect(fs.readFileSync(r.report!, 'utf8')).toContain('<svg');
    expect(Object.keys(readSafetensors(r.safetensors!)).length).toBeGreaterThan(0);
    expect(readCheckpointInfo(r.checkpoint).step).toBe(r.fit.steps);
    // A fresh build (its schema has not seen the data: the domain vocabulary comes from the checkpoint).
    const again = await evaluateJobCheckpoint(resolve(clickConfig(kind, { output: { dir: `out-${kind}` } })), r.checkpoint);
    expect(again).toEqual(r.test);
  }, 60_000);

  it('the epoch cache changes nothing but the reading: in memory, spilled to disk or off, the same steps', async () => {
    const job = (cache: unknown, out: string) =>
      runTrainJob(resolve(clickConfig('mmoe', { data: { train: 'clicks.csv', cache } as never, train: { epochs: 2, batchSize: 256 }, output: { dir: out, report: false } })), quiet);
    const off = await job(false, 'out-cache-off');
    const memory = await job(true, 'out-cache-mem');
    const disk = await job({ memoryMB: 0 }, 'out-cache-disk');
    for (const r of [memory, disk]) {
      expect(r.losses).toEqual(off.losses);
      const untimed = (h: typeof off.fit.history) => h.map(({ samplesPerSecond: _, ...rest }) => rest);
      expect(untimed(r.fit.history)).toEqual(untimed(off.fit.history));
      expect(r.test).toEqual(off.test);
      expect(r.stats.train).toEqual(off.stats.train);
    }
    expect(fs.existsSync(path.join(dir, 'out-cache-disk', 'cache'))).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'out-cache-disk', 'cache'))).toEqual([]); // the spill files are gone
    expect(() => resolve(clickConfig('mlp', { data: { train: 'clicks.csv', cache: { memoryMB: -1 } } as never }))).toThrow(/config\.data\.cache\.memoryMB/);
    expect(() => resolve(clickConfig('mlp', { data: { train: 'clicks.csv', cache: { budget: 1 } } as never }))).toThrow(/config\.data\.cache\.budget/);
    expect(() => resolve(clickConfig('mlp', { data: { train: 'clicks.csv', cache: 'yes' } as never }))).toThrow(/config\.data\.cache/);
  }, 120_000);

  it('is deterministic from its seed', async () => {
    const run = async () => (await runTrainJob(resolve(clickConfig('mlp', { train: { epochs: 1, batchSize: 256 }, output: { dir: 'out-det', report: false } })), quiet)).losses;
    expect(await run()).toEqual(await run());
  }, 60_000);

  it('the checkpoint restores the step and the domain vocabulary into a fresh job', async () => {
    const r = await runTrainJob(resolve(clickConfig('mmoe', { train: { epochs: 1 }, output: { dir: 'out-restore', report: false } })), quiet);
    const parts = buildJob(resolve(clickConfig('mmoe')));
    expect(parts.config.schema.domainNames).toEqual([]);
    expect(loadJobCheckpoint(parts, r.checkpoint).step).toBe(r.fit.steps);
    expect(parts.trainer.step).toBe(r.fit.steps);
    expect([...parts.config.schema.domainNames].sort()).toEqual(['detail', 'feed', 'search']);
    parts.model.table.dispose();
  }, 60_000);

  it('malformed rows: skipped and counted, or a FormatError naming the line and field', async () => {
    const text = fs.readFileSync(path.join(dir, 'clicks.csv'), 'utf8').split('\n');
    text.splice(5, 0, 'u1,i2,t1,i3,cheap,feed,1,2.0');
    text.splice(9, 0, 'u1,i2,t1,i3,10,,1,2.0');
    fs.writeFileSync(path.join(dir, 'dirty.csv'), text.join('\n'));
    const skip = await runTrainJob(resolve(clickConfig('mlp', { data: { train: 'dirty.csv', onError: 'skip', split: { valid: 0.15, test: 0.15 } }, train: { epochs: 1 }, output: { dir: 'out-dirty', report: false } })), quiet);
    const skipped = Object.values(skip.stats).reduce((s, st) => s + (st?.skipped ?? 0), 0);
    expect(skipped).toBeGreaterThanOrEqual(2);
    expect(skip.stats.train!.errors.join('\n')).toMatch(/dirty\.csv line 6, field 'price': expected a number but found 'cheap'/);
    const fail = runTrainJob(resolve(clickConfig('mlp', { data: { train: 'dirty.csv', split: { valid: 0.15, test: 0.15 } }, output: { dir: 'out-dirty2' } })), quiet);
    await expect(fail).rejects.toThrow(FormatError);
    await expect(fail).rejects.toThrow(/dirty\.csv line 6, field 'price'/);
  }, 60_000);

  it('an abort signal stops after the current step; the checkpoint is still written', async () => {
    const stop = new AbortController();
    const r = await runTrainJob(resolve(clickConfig('mlp', { output: { dir: 'out-stop', report: false } })), { ...quiet, onStep: (step) => void (step === 7 && stop.abort()), signal: stop.signal });
    expect(r.fit.interrupted).toBe(true);
    expect(r.fit.steps).toBe(7);
    expect(readCheckpointInfo(r.checkpoint).step).toBe(7);
  }, 60_000);

  it('evaluates a checkpoint on another file read with the job schema', async () => {
    const r = await runTrainJob(resolve(clickConfig('mlp', { output: { dir: 'out-other', report: false } })), quiet);
    const other = writeClickLog(dir, 1500, 9, 'other.csv');
    const m = await evaluateJobCheckpoint(resolve(clickConfig('mlp')), r.checkpoint, { file: other });
    expect(allRows(m, 'click').n).toBe(1500);
    // New rows of the same world score about as well as the held-out test rows.
    expect(allRows(m, 'click').auc).toBeGreaterThan(0.72);
    expect(Math.abs(allRows(m, 'click').auc! - allRows(r.test, 'click').auc!)).toBeLessThan(0.05);
  }, 60_000);

  it('serving: a copy fed only by the job\'s updates predicts exactly what its final checkpoint does; no inserts', async () => {
    const r = await runTrainJob(resolve(clickConfig('mmoe', { train: { epochs: 2, batchSize: 128, updateEvery: 25 }, output: { dir: 'out-serve', report: false } })), quiet);
    expect(r.updates.length).toBe(Math.ceil(r.fit.steps / 25));
    const sizes = r.updates.map((f) => fs.statSync(f).size);
    expect(Math.max(...sizes.slice(1))).toBeLessThan(sizes[0] * 1.01); // later updates carry only changed rows
    const fromCheckpoint = jobPredictor(resolve(clickConfig('mmoe')), r.checkpoint);
    const fromUpdates = jobPredictor(resolve(clickConfig('mmoe')), null, { maxBatch: 16 });
    let applied = 0;
    for (const f of r.updates) applied += Object.values(fromUpdates.update(f).rows).reduce((a, b) => a + b, 0);
    expect(applied).toBeGreaterThan(fromUpdates.parts.model.table.size);
    const requests = [
      { user: 'u3', item: 'i7', tags: 't1|t2', hist: 'i1|i2|i3', price: 120, scene: 'search' },
      { user: 'u-never-seen', item: 'i7', tags: '', hist: '', price: 5, scene: 'feed' },
      { user: 'u9', item: 'i50', tags: 't4', hist: 'i9', price: 900, scene: 'detail' },
    ];
    const size = fromCheckpoint.parts.model.table.size;
    const a = fromCheckpoint.predictor.predict(requests);
    expect(fromUpdates.predictor.predict(requests)).toEqual(a);
    expect(await Promise.all(requests.map((q) => fromUpdates.predictor.score(q)))).toEqual(a);
    expect(fromCheckpoint.parts.model.table.size).toBe(size);
    for (const p of a) {
      expect(p.click).toBeGreaterThan(0);
      expect(p.click).toBeLessThan(1);
      expect(Number.isFinite(p.dwell)).toBe(true);
    }
    await expect(fromUpdates.predictor.score({ ...requests[0], price: 'cheap' })).rejects.toThrow("request 0, field 'price': expected a number but found 'cheap'");
    await fromCheckpoint.dispose();
    await fromUpdates.dispose();
  }, 60_000);
});
