/**
 * Seeded random numbers on the host (initializers, shuffling). Kernels that need random
 * bits on the device (dropout) use counter-based Philox instead, which gives the same bits
 * on CPU and CUDA for a (seed, offset).
 */
import { checkInt } from './validate';

/** xoshiro128** seeded through splitmix32: fast, 2^128 − 1 period, reproducible. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    checkInt(seed, 'seed', 0, Number.MAX_SAFE_INTEGER);
    let x = (seed ^ Math.floor(seed / 2 ** 32)) >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Shuffles `a` in place (Fisher–Yates). */
  shuffle<
    T extends {
      /** Number of elements. */
      length: number;
      [i: number]: unknown;
    },
  >(a: T): T {
    for (let i = a.length - 1; i > 0; --i) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** A fresh 53-bit seed drawn from this generator (for child generators). */
  seed(): number {
    return this.nextUint32() * 2 ** 21 + (this.nextUint32() >>> 11);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

let globalRng = new Rng(0x5eed);

/** Reseeds the global generator that initializers and dropout seeds draw from. */
export function manualSeed(seed: number): void {
  globalRng = new Rng(seed);
}

/** The global generator. */
export function defaultRng(): Rng {
  return globalRng;
}
