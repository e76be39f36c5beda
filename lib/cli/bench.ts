/**
 * `gatewise bench [--config <file>]`: what a config's model costs on this machine — training
 * steps (samples/s), batched scoring (samples/s) and serving latency at small batches (p50 /
 * p99) — on the config's own rows (default: the bundled census-income MMoE config).
 * `gatewise bench --profile`: one training step split into its phases (bench-profile.ts).
 * `gatewise bench --kernels [filter…]`: the kernel microbenchmarks of a repository checkout
 * (bench/, `npm run bench`).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { backend, synchronize } from '../backend';
import { Batch, collate } from '../data/batches';
import { Row } from '../data/readers';
import { loadTrainConfig } from '../train/config';
import { buildJob } from '../train/job';
import { checkInt } from '../validate';
import { Out } from './train';
import { formatProfile, PhaseFigure, profileSteps } from './bench-profile';

const ROOT = path.resolve(__dirname, '..', '..');

export interface BenchFigure {
  case: string;
  batch: number;
  /** Median milliseconds per call. */
  p50Ms: number;
  p99Ms: number;
  samplesPerSecond: number;
}

/** Milliseconds of each of `reps` calls, after `warmup` more (the device synchronized around each). */
function timeCalls(fn: (i: number) => void, reps: number, warmup = 3): number[] {
  for (let i = 0; i < warmup; ++i) fn(i);
  synchronize();
  const ms: number[] = [];
  for (let i = 0; i < reps; ++i) {
    const t0 = process.hrtime.bigint();
    fn(i);
    synchronize();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms.sort((a, b) => a - b);
}

function figure(name: string, batch: number, ms: number[]): BenchFigure {
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  return { case: name, batch, p50Ms: q(0.5), p99Ms: q(0.99), samplesPerSecond: (batch * 1000) / q(0.5) };
}

async function take(rows: AsyncIterable<Row>, n: number): Promise<Row[]> {
  const out: Row[] = [];
  for await (const r of rows) {
    out.push(r);
    if (out.length === n) break;
  }
  return out;
}

/** A config's job and its first rows as batches of a size (freed by `dispose`). */
async function benchParts(file: string, options: { batch?: number; steps?: number }) {
  const config = loadTrainConfig(file);
  const batch = checkInt(options.batch ?? config.train.batchSize, '--batch', 1, 1 << 20);
  const steps = checkInt(options.steps ?? 30, '--steps', 1, 100000);
  const parts = buildJob(config, { progress: { mode: 'none' }, cache: false });
  await parts.fitNumeric(); // the numeric fields' statistics (quantile buckets need them), as the job fits them
  const rows = await take(parts.rows('train'), batch * 8);
  const held: Batch[] = [];
  const make = (size: number) => {
    const out = Array.from({ length: Math.max(1, Math.floor(rows.length / size)) }, (_, i) => collate(rows.slice(i * size, (i + 1) * size), config.schema));
    held.push(...out);
    return out;
  };
  const dispose = () => {
    held.forEach((b) => b.dispose());
    parts.model.table.dispose();
  };
  return { config, batch, steps, parts, rows, make, dispose };
}

/** The phases of a config's training step (`--profile`). */
export async function profileConfig(file: string, options: { batch?: number; steps?: number } = {}): Promise<PhaseFigure[]> {
  const { batch, steps, parts, make, dispose } = await benchParts(file, options);
  try {
    return profileSteps(parts, make(batch), steps);
  } finally {
    dispose();
  }
}

/** Times a config's model (see the file comment). */
export async function benchConfig(file: string, options: { batch?: number; steps?: number } = {}): Promise<BenchFigure[]> {
  const { config, batch, steps, parts, rows, make, dispose } = await benchParts(file, options);
  try {
    const train = make(batch);
    const out = [figure('train step', train[0].size, timeCalls((i) => parts.trainer.trainStep(train[i % train.length]), steps))];
    const score = make(Math.min(rows.length, config.train.evalBatchSize));
    out.push(figure('score (eval)', score[0].size, timeCalls((i) => parts.trainer.predict(score[i % score.length]), Math.max(5, Math.floor(steps / 3)))));
    for (const size of [1, 32, 256]) {
      const serve = make(size).slice(0, 64);
      out.push(figure('serve', size, timeCalls((i) => parts.trainer.predict(serve[i % serve.length]), Math.max(20, steps))));
    }
    return out;
  } finally {
    dispose();
  }
}

export function formatBench(figures: BenchFigure[]): string {
  const head = `${'case'.padEnd(14)} ${'batch'.padStart(6)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'samples/s'.padStart(12)}`;
  return [head, ...figures.map((f) => `${f.case.padEnd(14)} ${String(f.batch).padStart(6)} ${f.p50Ms.toFixed(3).padStart(9)} ${f.p99Ms.toFixed(3).padStart(9)} ${Math.round(f.samplesPerSecond).toLocaleString('en-US').padStart(12)}`)].join('\n');
}

export async function benchCommand(args: string[], out: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, batch: { type: 'string' }, steps: { type: 'string' }, kernels: { type: 'boolean' }, json: { type: 'boolean' }, profile: { type: 'boolean' } },
  });
  if (values.kernels) {
    const suite = path.join(ROOT, 'bench', 'index.ts');
    if (!fs.existsSync(suite)) {
      out('gatewise: the kernel benchmarks ship with the source repository (bench/, npm run bench)\n');
      return 1;
    }
    const r = spawnSync(process.execPath, ['--import', 'tsx', suite, ...positionals], { cwd: ROOT, stdio: 'inherit' });
    return r.status ?? 1;
  }
  const file = values.config ?? path.join(ROOT, 'configs', 'census-mmoe.json');
  const b = backend();
  const sizes = { batch: values.batch === undefined ? undefined : Number(values.batch), steps: values.steps === undefined ? undefined : Number(values.steps) };
  if (values.profile) {
    const phases = await profileConfig(file, sizes);
    if (values.json) out(`${JSON.stringify({ config: path.resolve(file), backend: b.kind, device: b.deviceName, threads: b.numThreads, phases }, null, 2)}\n`);
    else out(`gatewise bench --profile — ${path.basename(file)}, one training step, on ${b.kind} (${b.deviceName}, ${b.numThreads} threads)\n${formatProfile(phases)}\n`);
    return 0;
  }
  const figures = await benchConfig(file, sizes);
  if (values.json) out(`${JSON.stringify({ config: path.resolve(file), backend: b.kind, device: b.deviceName, threads: b.numThreads, figures }, null, 2)}\n`);
  else out(`gatewise bench — ${path.basename(file)} on ${b.kind} (${b.deviceName}, ${b.numThreads} threads)\n${formatBench(figures)}\n`);
  return 0;
}
