import { describe, expect, it } from 'vitest';
import { ArgumentError, bernoulliMask, dropout, manualSeed, philoxUniform, Rng, tensor } from '../lib';
import { expectAllClose, gradcheck, input, rand } from './gradcheck';

const rng = new Rng(61);
const N = 100_000;
/** Five standard deviations of a mean of n Bernoulli(q) draws. */
const bound = (q: number, n: number) => 5 * Math.sqrt((q * (1 - q)) / n);

const keptMask = (out: ArrayLike<number>) => Uint8Array.from(out as ArrayLike<number>, (v) => (v !== 0 ? 1 : 0));
const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => v === b[i]);

describe('philoxUniform', () => {
  it('matches the Random123 known-answer vector for counter 0, key 0', () => {
    // Philox4x32-10(ctr {0,0,0,0}, key {0,0}) = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}; u = (bits >> 8)·2^-24
    const want = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8].map((b) => (b >>> 8) / 2 ** 24);
    expect(Array.from(philoxUniform([4], 0).toArraySync() as Float32Array)).toEqual(want);
  });

  it('values lie in [0, 1) on the 2^-24 grid with mean ≈ 1/2 and variance ≈ 1/12', () => {
    const u = philoxUniform([N], 12345).toArraySync() as Float32Array;
    let s = 0;
    let s2 = 0;
    let outside = 0;
    let offGrid = 0;
    for (const v of u) {
      if (!(v >= 0 && v < 1)) ++outside;
      if (!Number.isInteger(v * 2 ** 24)) ++offGrid;
      s += v;
      s2 += v * v;
    }
    expect(outside).toBe(0);
    expect(offGrid).toBe(0);
    const mean = s / N;
    const variance = s2 / N - mean * mean;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.002);
  });

  it('a (seed, offset) is reproducible; element i uses counter offset + ⌊i/4⌋', () => {
    const a = philoxUniform([1001], 7).toArraySync() as Float32Array;
    expect(sameBits(a, philoxUniform([1001], 7).toArraySync() as Float32Array)).toBe(true);
    expect(sameBits(a, philoxUniform([1001], 8).toArraySync() as Float32Array)).toBe(false);
    expect(sameBits(a.subarray(12), philoxUniform([989], 7, { offset: 3 }).toArraySync() as Float32Array)).toBe(true);
    expect(sameBits(a.subarray(0, 400), philoxUniform([20, 20], 7).toArraySync() as Float32Array)).toBe(true);
    // 64-bit seeds: the high word is part of the key
    expect(sameBits(philoxUniform([64], 1n).toArraySync() as Float32Array, philoxUniform([64], 1n + 2n ** 32n).toArraySync() as Float32Array)).toBe(false);
    expect(sameBits(philoxUniform([64], 2n ** 53n + 1n).toArraySync() as Float32Array, philoxUniform([64], 2n ** 53n + 1n).toArraySync() as Float32Array)).toBe(true);
  });
});

describe('bernoulliMask', () => {
  it('is 1 with probability 1 − p', () => {
    for (const p of [0.1, 0.5, 0.9]) {
      const m = bernoulliMask([N], p, 99).toArraySync() as Uint8Array;
      let ones = 0;
      let other = 0;
      for (const v of m) {
        if (v > 1) ++other;
        ones += v;
      }
      expect(other).toBe(0);
      expect(Math.abs(ones / N - (1 - p)), `p = ${p}`).toBeLessThan(bound(p, N));
    }
  });

  it('agrees with philoxUniform: mask = u ≥ p; p = 0 keeps all, p = 1 none', () => {
    const u = philoxUniform([999], 5, { offset: 2 }).toArraySync() as Float32Array;
    const m = bernoulliMask([999], 0.3, 5, { offset: 2 }).toArraySync() as Uint8Array;
    expect(Array.from(m)).toEqual(Array.from(u, (v) => (v >= Math.fround(0.3) ? 1 : 0)));
    expect(Array.from(bernoulliMask([100], 0, 1).toArraySync() as Uint8Array)).toEqual(new Array(100).fill(1));
    expect(Array.from(bernoulliMask([100], 1, 1).toArraySync() as Uint8Array)).toEqual(new Array(100).fill(0));
    expect(() => bernoulliMask([4], 1.5, 1)).toThrow('Expected a number from 0 to 1 for p but received 1.5 of type number');
  });
});

describe('dropout', () => {
  it('the same seed gives the same mask; different seeds or offsets different masks', () => {
    const x = tensor(rand(rng, 4096), { shape: [64, 64] });
    const a = keptMask(dropout(x, 0.5, { seed: 3 }).toArraySync() as Float32Array);
    expect(Array.from(keptMask(dropout(x, 0.5, { seed: 3 }).toArraySync() as Float32Array))).toEqual(Array.from(a));
    expect(sameBits(a, keptMask(dropout(x, 0.5, { seed: 4 }).toArraySync() as Float32Array))).toBe(false);
    expect(sameBits(a, keptMask(dropout(x, 0.5, { seed: 3, offset: 1 }).toArraySync() as Float32Array))).toBe(false);
    expect(sameBits(a, keptMask(dropout(x, 0.5, { seed: 3n }).toArraySync() as Float32Array))).toBe(true);
  });

  it('without a seed, draws one from the global generator (manualSeed reproduces it)', () => {
    const x = tensor(rand(rng, 1000));
    manualSeed(17);
    const a = keptMask(dropout(x, 0.4).toArraySync() as Float32Array);
    const b = keptMask(dropout(x, 0.4).toArraySync() as Float32Array);
    manualSeed(17);
    const c = keptMask(dropout(x, 0.4).toArraySync() as Float32Array);
    expect(sameBits(a, c)).toBe(true);
    expect(sameBits(a, b)).toBe(false);
  });

  it('keeps ≈ 1 − p of 1e5 elements, scales them by 1/(1 − p), and agrees with philoxUniform', () => {
    const xs = rand(rng, N, { lo: 0.5, hi: 2 });
    const x = tensor(Float32Array.from(xs));
    for (const p of [0.1, 0.3, 0.5, 0.8]) {
      const seed = 1000 + Math.round(p * 10);
      const y = dropout(x, p, { seed }).toArraySync() as Float32Array;
      const u = philoxUniform([N], seed).toArraySync() as Float32Array;
      const scale = 1 / (1 - Math.fround(p));
      let kept = 0;
      for (let i = 0; i < N; ++i) {
        const keep = u[i] >= Math.fround(p);
        if (keep) {
          ++kept;
          if (Math.abs(y[i] - xs[i] * scale) > 1e-6 * Math.abs(xs[i] * scale)) throw new Error(`p ${p}: element ${i}: got ${y[i]}, want ${xs[i] * scale}`);
        } else if (y[i] !== 0) throw new Error(`p ${p}: element ${i} should be dropped (u = ${u[i]}) but is ${y[i]}`);
      }
      expect(Math.abs(kept / N - (1 - p)), `p = ${p}`).toBeLessThan(bound(p, N));
    }
  });

  it('gradient = mask · g / (1 − p) (gradcheck with a fixed seed, and directly)', () => {
    for (const [s, p] of [[[7], 0.5], [[4, 33], 0.25], [[2, 3, 5], 0.9]] as [number[], number][]) {
      const n = s.reduce((a, b) => a * b, 1);
      const seed = 77;
      const u = philoxUniform([n], seed).toArraySync() as Float32Array;
      gradcheck({
        name: `dropout p ${p} [${s}]`,
        inputs: [input(rng, s)],
        op: ([x]) => dropout(x, p, { seed }),
        ref: ([x]) => x.map((v, i) => (u[i] >= Math.fround(p) ? v / (1 - Math.fround(p)) : 0)),
        outShape: s,
      });
    }
    const x = tensor(rand(rng, 1000), { requiresGrad: true });
    const y = dropout(x, 0.3, { seed: 5 });
    const g = rand(rng, 1000);
    y.backward(tensor(Float32Array.from(g)));
    const keep = keptMask(y.toArraySync() as Float32Array);
    const gx = x.grad!.toArraySync() as Float32Array;
    const want = Float64Array.from(g, (v, i) => (keep[i] ? Math.fround(v) / (1 - Math.fround(0.3)) : 0));
    expectAllClose(gx, want, { atol: 0, rtol: 1e-6 }, 'dropout gradient');
  });

  it('p = 0 is the identity (the same tensor, gradient passes unchanged)', () => {
    const x = tensor(rand(rng, 10), { requiresGrad: true });
    expect(dropout(x, 0, { seed: 1 })).toBe(x);
    gradcheck({ name: 'dropout p 0', inputs: [input(rng, [3, 4])], op: ([t]) => dropout(t, 0), ref: ([t]) => t });
  });

  it('refuses p outside [0, 1) and bad seeds, naming them', () => {
    const x = tensor(rand(rng, 4));
    expect(() => dropout(x, 1)).toThrow('Expected a probability in [0, 1) for p but received 1 of type number');
    expect(() => dropout(x, -0.1)).toThrow('Expected a number from 0 to 1 for p but received -0.1 of type number');
    expect(() => dropout(x, 1.5)).toThrow(ArgumentError);
    expect(() => dropout(x, NaN)).toThrow(ArgumentError);
    expect(() => dropout(x, 0.5, { seed: -1 })).toThrow('Expected an integer of at least 0 for options.seed but received -1 of type number');
    expect(() => dropout(x, 0.5, { seed: 1.5 })).toThrow(ArgumentError);
    expect(() => dropout(x, 0.5, { offset: -2 })).toThrow(ArgumentError);
  });
});
