/**
 * Seeded train/valid/test splits of row indices, optionally stratified: each stratum (a
 * label's value) is shuffled and cut in the same proportions, so every part keeps the
 * stratum's rate up to rounding. Deterministic for a seed.
 */
import { ArgumentError } from '../errors';
import { Rng } from '../random';
import { checkInt, checkKnownKeys, checkOptions, checkRange, invalid } from '../validate';

/** Fractions of the rows going to each part, and the seed of the shuffle. */
export interface SplitFractions {
  /** Fraction of the rows in the train part (default 0.8). */
  train?: number;
  /** Fraction of the rows in the valid part (default 0.1). */
  valid?: number;
  /** Fraction of the rows in the test part (default 1 − train − valid). The three must sum to 1. */
  test?: number;
  /** Seed of the shuffle (default 0): the same seed gives the same split. */
  seed?: number;
}

/** Row indices of each part, ascending (shuffle them per epoch). The parts are disjoint and cover every row. */
export interface RowSplit {
  /** Rows of the training part. */
  train: Int32Array;
  /** Rows of the validation part. */
  valid: Int32Array;
  /** Rows of the test part. */
  test: Int32Array;
}

/** @internal validated fractions and seed. */
export interface ResolvedSplit {
  train: number;
  valid: number;
  test: number;
  seed: number;
}

/** @internal checks the fractions (each in [0, 1], summing to 1) and the seed; `extra` names other allowed keys. */
export function resolveSplit(options: SplitFractions | undefined, name: string, extra: readonly string[] = []): ResolvedSplit {
  const o = checkOptions(options, name);
  checkKnownKeys(o, name, ['train', 'valid', 'test', 'seed', ...extra]);
  const train = o.train === undefined ? 0.8 : checkRange(o.train, `${name}.train`, 0, 1);
  const valid = o.valid === undefined ? 0.1 : checkRange(o.valid, `${name}.valid`, 0, 1);
  const test = o.test === undefined ? Math.max(0, 1 - train - valid) : checkRange(o.test, `${name}.test`, 0, 1);
  if (Math.abs(train + valid + test - 1) > 1e-9) {
    throw new ArgumentError(`Expected fractions summing to 1 for ${name}.train, .valid and .test but received ${train} + ${valid} + ${test} = ${train + valid + test}`);
  }
  const seed = o.seed === undefined ? 0 : checkInt(o.seed, `${name}.seed`, 0, Number.MAX_SAFE_INTEGER);
  return { train, valid, test, seed };
}

/**
 * Splits rows 0..n−1 into train, valid and test, deterministically for `options.seed`.
 * With `strata` (one small non-negative integer per row, e.g. a 0/1 label), each stratum
 * is shuffled and cut on its own: train gets round(train · m) of a stratum's m rows, valid
 * round(valid · m), test the rest. Without (null), the rows are one stratum.
 *
 * @throws ArgumentError for fractions outside [0, 1] or not summing to 1, a bad seed, or
 *   strata that are not n integers from 0 to 2^16.
 */
export function stratifiedSplit(n: number, strata: ArrayLike<number> | null, options?: SplitFractions): RowSplit {
  checkInt(n, 'n', 0, 2 ** 31 - 1);
  if (strata !== null) {
    if (!(Array.isArray(strata) || (ArrayBuffer.isView(strata) && !(strata instanceof DataView)))) throw invalid('an array of stratum ids, or null', 'strata', strata);
    if (strata.length !== n) throw invalid(`${n} stratum ids (one per row)`, 'strata', strata);
    for (let i = 0; i < n; ++i) checkInt(strata[i], `strata[${i}]`, 0, 2 ** 16);
  }
  return splitResolved(n, strata, resolveSplit(options, 'options'));
}

/** @internal stratifiedSplit with its inputs already checked. */
export function splitResolved(n: number, strata: ArrayLike<number> | null, split: ResolvedSplit): RowSplit {
  const rng = new Rng(split.seed);
  let groups: Int32Array[];
  if (strata === null) {
    groups = [Int32Array.from({ length: n }, (_, i) => i)];
  } else {
    const count: number[] = [];
    for (let i = 0; i < n; ++i) count[strata[i]] = (count[strata[i]] ?? 0) + 1;
    groups = Array.from(count, (c) => new Int32Array(c ?? 0));
    const fill = new Array<number>(groups.length).fill(0);
    for (let i = 0; i < n; ++i) groups[strata[i]][fill[strata[i]]++] = i;
  }
  const parts: [Int32Array[], Int32Array[], Int32Array[]] = [[], [], []];
  for (const rows of groups) {
    rng.shuffle(rows);
    const m = rows.length;
    const nTrain = Math.round(split.train * m);
    const nValid = Math.min(Math.round(split.valid * m), m - nTrain);
    parts[0].push(rows.subarray(0, nTrain));
    parts[1].push(rows.subarray(nTrain, nTrain + nValid));
    parts[2].push(rows.subarray(nTrain + nValid));
  }
  const join = (xs: Int32Array[]) => {
    const out = new Int32Array(xs.reduce((s, x) => s + x.length, 0));
    let o = 0;
    for (const x of xs) {
      out.set(x, o);
      o += x.length;
    }
    return out.sort();
  };
  return { train: join(parts[0]), valid: join(parts[1]), test: join(parts[2]) };
}
