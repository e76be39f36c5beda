import { describe, expect, it } from 'vitest';
import { native } from '../lib/native';
import { Rng } from '../lib';

// Every native function, called thousands of times with random wrong arguments (missing,
// wrong types, NaN, huge numbers, bigints, disposed and mismatched tensors): each call
// either works or throws an error carrying an ERR_GATEWISE_* code; the process survives.
describe('native binding under random bad arguments', () => {
  it('never crashes and always reports a coded error', async () => {
    const f32 = native.fromTypedArray(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], 'cpu');
    const ids = native.fromTypedArray(new BigInt64Array([0n, 5n]), [2], 'cpu');
    const mask = native.fromTypedArray(new Uint8Array([1, 0, 1]), [3], 'cpu');
    const gone = native.fromTypedArray(new Float32Array([1]), [1], 'cpu');
    gone.dispose();
    const values: unknown[] = [undefined, null, 0, -1, 1.5, NaN, 1e300, 'x', 'add', 'relu', 'mean', true, {}, [], [2, 3], [f32], [f32, f32], f32, ids, mask, gone, 2n ** 70n, -3n];
    // Probes that time themselves or resize the thread pool are left out.
    const skip = new Set(['NativeTensor', 'cpuFmaPeakGflops', 'streamTriadGBs', 'setNumThreads']);
    const names = Object.keys(native).filter((k) => typeof native[k] === 'function' && !skip.has(k));
    expect(names.length).toBeGreaterThan(40);
    const rng = new Rng(2026);
    const uncoded: string[] = [];
    const pending: Promise<unknown>[] = [];
    let failures = 0;
    for (const name of names) {
      for (let k = 0; k < 150; ++k) {
        const args = Array.from({ length: rng.int(9) }, () => values[rng.int(values.length)]);
        try {
          const result = native[name](...args);
          if (result instanceof Promise) pending.push(result.catch((e) => !e?.code && uncoded.push(`${name} (async): ${e}`)));
        } catch (e) {
          failures += 1;
          if (!(e as { code?: string }).code?.startsWith('ERR_GATEWISE_')) uncoded.push(`${name}: ${(e as Error).message}`);
        }
      }
    }
    await Promise.all(pending);
    expect(uncoded).toEqual([]);
    expect(failures).toBeGreaterThan(names.length * 100);
  });
});
