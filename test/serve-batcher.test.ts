/**
 * The MicroBatcher's retry of a failed batch in halves: one bad request in a full batch costs
 * 2·log₂(n) extra runs (not n) and fails alone with its own error; by default every request
 * is isolated however many are bad; with a bound (`maxRetries`, what a server that checks
 * requests first sets) a failure of the whole batch stops after that many re-runs and rejects
 * every request with its part's error; maxRetries 0 re-runs nothing.
 */
import { describe, expect, it } from 'vitest';
import { MicroBatcher } from '../lib/serve/micro-batcher';

/** A batcher whose run fails on any negative request (or on everything), counting runs and rows. */
function batcher(options: { maxBatch: number; maxRetries?: number; failAll?: boolean }) {
  const runs: number[][] = [];
  const b = new MicroBatcher<number, number>({
    run: (xs) => {
      runs.push(xs);
      if (options.failAll) throw new Error(`out of memory for ${xs.length}`);
      const bad = xs.find((x) => x < 0);
      if (bad !== undefined) throw new RangeError(`bad request ${bad}`);
      return xs.map((x) => x * 10);
    },
    maxBatch: options.maxBatch,
    maxDelayMs: 50,
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
  });
  return { b, runs };
}

const settle = async (b: MicroBatcher<number, number>, xs: number[]) =>
  (await Promise.allSettled(xs.map((x) => b.submit(x)))).map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message));

describe('MicroBatcher: bounded retry of a failed batch', () => {
  it('one bad request in 64: 12 re-runs in halves (126 rows, about 2× the batch) instead of 64 lone runs; only it fails', async () => {
    const { b, runs } = batcher({ maxBatch: 64 });
    const xs = Array.from({ length: 64 }, (_, i) => (i === 37 ? -1 : i));
    const out = await settle(b, xs);
    expect(out).toEqual(xs.map((x) => (x < 0 ? 'bad request -1' : x * 10)));
    expect(b.maxRetries).toBe(126); // 2·(64 − 1): always enough
    expect(runs.length).toBe(1 + 12);
    expect(runs.slice(1).map((r) => r.length)).toEqual([32, 32, 16, 16, 8, 8, 4, 4, 2, 2, 1, 1]);
    expect(runs.at(-1)).toEqual([-1]); // the bad one, alone
    expect(b.stats).toEqual({ requests: 64, batches: 1, largestBatch: 64, isolated: 64 });
  });

  it('a failure of the whole batch stops at maxRetries re-runs; every request rejects with its part\'s error', async () => {
    const { b, runs } = batcher({ maxBatch: 64, failAll: true, maxRetries: 6 });
    const out = await settle(b, Array.from({ length: 64 }, (_, i) => i));
    expect(runs.map((r) => r.length)).toEqual([64, 32, 32, 16, 16, 16, 16]); // 1 + 6
    expect(out).toEqual(Array(64).fill('out of memory for 16'));

    const none = batcher({ maxBatch: 8, maxRetries: 0 });
    expect(await settle(none.b, [1, -2, 3])).toEqual(Array(3).fill('bad request -2'));
    expect(none.runs).toHaveLength(1);
  });

  it('by default every request is isolated, however many are bad; two bad ones fit a bound of 4·log₂ n', async () => {
    const all = batcher({ maxBatch: 16 });
    const xs = Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? -i - 1 : i));
    expect(await settle(all.b, xs)).toEqual(xs.map((x) => (x < 0 ? `bad request ${x}` : x * 10)));
    const two = batcher({ maxBatch: 16, maxRetries: 16 });
    const ys = Array.from({ length: 16 }, (_, i) => (i === 2 || i === 13 ? -i : i));
    expect(await settle(two.b, ys)).toEqual(ys.map((y) => (y < 0 ? `bad request ${y}` : y * 10)));
    expect(two.runs.length - 1).toBeLessThanOrEqual(16);
    expect(() => new MicroBatcher({ run: (x: number[]) => x, maxRetries: -1 })).toThrow('Expected an integer of at least 0 for options.maxRetries but received -1 of type number');
  });
});
