/**
 * Benchmark harness: times a function on the current backend (synchronizing the GPU),
 * reports the median, and prints one line per case with the achieved rate next to the
 * ceiling it is measured against.
 */
import * as fs from 'node:fs';
import { backend, noGrad, synchronize, tidy } from '../lib';
import type { Tensor } from '../lib';

export interface Result {
  bench: string;
  case: string;
  config: Record<string, unknown>;
  device: string;
  medianMs: number;
  /** GFLOP/s or GB/s achieved. */
  rate: number;
  unit: 'GFLOP/s' | 'GB/s';
  ceiling: number;
  ceilingSource: string;
  /** Keys per second, for benchmarks of keyed tables (printed beside the time). */
  keysPerSec?: number;
  /** A reference figure to print at the end of the line (e.g. a published result). */
  note?: string;
}

export interface Options {
  /** Minimum measured time per case (ms). */
  minTimeMs: number;
  /** At most this many timed repetitions. */
  maxReps: number;
}

export const defaultOptions: Options = { minTimeMs: 300, maxReps: 200 };

/** GATEWISE_BENCH_MIN_MS caps every case's minimum measured time: a quick pass on a lent GPU. */
const minTimeCap = Number(process.env.GATEWISE_BENCH_MIN_MS) || Infinity;
/** GATEWISE_BENCH_JSONL: a file each result is appended to the moment it is measured (a run killed midway keeps them). */
const jsonlPath = process.env.GATEWISE_BENCH_JSONL;

/** Median wall time of fn() in milliseconds, after warm-up. */
export function time(fn: () => void, options: Options = defaultOptions): number {
  fn();
  synchronize();
  const samples: number[] = [];
  const minTimeMs = Math.min(options.minTimeMs, minTimeCap);
  let total = 0;
  while ((total < minTimeMs || samples.length < 3) && samples.length < options.maxReps) {
    const t0 = process.hrtime.bigint();
    fn();
    synchronize();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    samples.push(ms);
    total += ms;
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

export function report(r: Omit<Result, 'device'>): Result {
  const full: Result = { ...r, device: backend().deviceName };
  const cfg = Object.entries(r.config)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const share = r.ceiling > 0 ? ` (${((100 * r.rate) / r.ceiling).toFixed(0)}% of ${r.ceiling.toFixed(1)} ${r.unit} ${r.ceilingSource})` : '';
  const keys = r.keysPerSec === undefined ? '' : ` ${formatKeysPerSec(r.keysPerSec).padStart(14)}`;
  const note = r.note ? ` · ${r.note}` : '';
  console.log(`${r.bench.padEnd(12)} ${r.case.padEnd(28)} ${cfg.padEnd(40)} ${r.medianMs.toFixed(3).padStart(9)} ms${keys} ${r.rate.toFixed(1).padStart(9)} ${r.unit}${share}${note}`);
  if (jsonlPath) fs.appendFileSync(jsonlPath, JSON.stringify(full) + '\n');
  return full;
}

/** 1.23 Gkeys/s, 45.6 Mkeys/s. */
export function formatKeysPerSec(k: number): string {
  return k >= 1e9 ? `${(k / 1e9).toFixed(2)} Gkeys/s` : `${(k / 1e6).toFixed(1)} Mkeys/s`;
}

/**
 * Times forward variants of one op, forward only (under noGrad) or forward + backward into
 * `dy` (the leaves' gradients freed after each step). A shared VM drifts between runs, so
 * the variants are timed in `rounds` alternating rounds and each keeps its best median (ms).
 */
export function timeVariants(variants: [string, () => Tensor][], backward: boolean, dy: Tensor, leaves: Tensor[], rounds: number, options: Options): Record<string, number> {
  const ms: Record<string, number> = Object.fromEntries(variants.map(([name]) => [name, Infinity]));
  for (let round = 0; round < rounds; ++round) {
    for (const [name, fwd] of variants) {
      const step = backward
        ? () =>
            tidy(() => {
              fwd().backward(dy);
              for (const t of leaves) {
                t.grad?.dispose();
                t.grad = null;
              }
            })
        : () => tidy(() => void noGrad(fwd));
      ms[name] = Math.min(ms[name], time(step, options));
    }
  }
  return ms;
}
