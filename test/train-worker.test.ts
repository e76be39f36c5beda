/**
 * Training off the main thread: trainInWorker runs the config job in a worker_thread while
 * the event loop stays responsive (measured with perf_hooks.monitorEventLoopDelay, against
 * the same job run on the main thread), returns the same result as the main thread would,
 * stops on request, and brings the library's errors back as themselves.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError, readCheckpointInfo } from '../lib';
import { parseTrainConfig, TrainConfig } from '../lib/train/config';
import { runTrainJob } from '../lib/train/job';
import { trainInWorker } from '../lib/train/worker';
import { clickConfig, writeClickLog } from './fixtures/tabular-data';

let dir: string;
const config = (extra: Partial<TrainConfig>): TrainConfig => clickConfig('mmoe', { train: { epochs: 2, batchSize: 256, evalBatchSize: 8192 }, ...extra });

/** Runs fn while sampling the event loop's delay; returns fn's value and the delay's p99 and max in ms. */
async function withDelay<T>(fn: () => Promise<T>): Promise<[T, { p99: number; max: number }]> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  try {
    const v = await fn();
    return [v, { p99: h.percentile(99) / 1e6, max: h.max / 1e6 }];
  } finally {
    h.disable();
  }
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-worker-'));
  writeClickLog(dir, 30000);
});

describe('trainInWorker', () => {
  it('keeps the event loop responsive and trains exactly as the main thread does', async () => {
    const epochs: number[] = [];
    const steps: number[] = [];
    const [inWorker, workerDelay] = await withDelay(() =>
      trainInWorker({ config: config({ output: { dir: 'w-out', report: false } }), baseDir: dir }, { progress: { mode: 'none' }, onEpoch: (r) => epochs.push(r.epoch), onStep: (s) => steps.push(s), stepEvery: 5 }).done,
    );
    const [onMain, mainDelay] = await withDelay(() => runTrainJob(parseTrainConfig(config({ output: { dir: 'm-out', report: false } }), dir), { progress: { mode: 'none' }, log: () => {} }));
    console.log(`event-loop delay while training: worker p99 ${workerDelay.p99.toFixed(1)} ms, max ${workerDelay.max.toFixed(1)} ms; main thread p99 ${mainDelay.p99.toFixed(1)} ms, max ${mainDelay.max.toFixed(1)} ms`);
    expect(workerDelay.p99).toBeLessThan(50);
    expect(mainDelay.max).toBeGreaterThan(2 * workerDelay.p99);
    expect(epochs).toEqual([1, 2]);
    expect(steps.length).toBe(Math.floor(inWorker.fit.steps / 5));
    expect(inWorker.losses).toEqual(onMain.losses);
    expect(inWorker.test).toEqual(onMain.test);
    expect(readCheckpointInfo(inWorker.checkpoint).step).toBe(inWorker.fit.steps);
  }, 120_000);

  it('stop() ends after the current step and still writes the checkpoint', async () => {
    let job: ReturnType<typeof trainInWorker> | null = null;
    job = trainInWorker({ config: config({ output: { dir: 'w-stop', report: false } }), baseDir: dir }, { progress: { mode: 'none' }, stepEvery: 1, onStep: (s) => s === 10 && job!.stop() });
    const r = await job.done;
    expect(r.fit.interrupted).toBe(true);
    expect(r.fit.steps).toBeLessThan(60);
    expect(readCheckpointInfo(r.checkpoint).step).toBe(r.fit.steps);
  }, 60_000);

  it('a bad config rejects with the library error, its message naming the key', async () => {
    const bad = config({});
    (bad.model as { kind: string }).kind = 'mmeo';
    const done = trainInWorker({ config: bad, baseDir: dir }, { progress: { mode: 'none' } }).done;
    await expect(done).rejects.toBeInstanceOf(ArgumentError);
    await expect(done).rejects.toThrow(/config\.model\.kind/);
    expect(() => trainInWorker(42 as never)).toThrow(ArgumentError);
  }, 60_000);
});
