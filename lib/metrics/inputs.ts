/**
 * Validation of the metrics' inputs: scores, 0/1 labels, weights and group ids, each
 * checked element by element so that an error names the first bad one (`labels[3]`).
 */
import { ArgumentError } from '../errors';
import { invalid } from '../validate';

/** Array-likes of numbers the metrics accept: plain arrays and numeric typed arrays. */
export type NumberArray = ArrayLike<number>;
/** Group (user) ids: numbers, strings or bigints; 1 and 1n are different groups. */
export type GroupArray = ArrayLike<number | string | bigint>;

function isArrayLike(value: unknown): boolean {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

/** A plain array or a numeric typed array (not BigInt64Array). */
export function checkNumberArray(value: unknown, name: string): NumberArray {
  if (!isArrayLike(value) || value instanceof BigInt64Array || value instanceof BigUint64Array) {
    throw invalid('an array or typed array of numbers', name, value);
  }
  return value as NumberArray;
}

/** `value` has `n` elements (one per score, or per `per`). */
export function checkLength(value: ArrayLike<unknown>, n: number, name: string, what: string, per = 'score'): void {
  if (value.length !== n) throw new ArgumentError(`Expected ${n} ${what} (one per ${per}) for ${name} but received ${value.length}`);
}

/** Scores: numbers, none NaN (±Infinity sort as usual). */
export function checkScores(value: unknown, name = 'scores'): NumberArray {
  const a = checkNumberArray(value, name);
  for (let i = 0; i < a.length; ++i) {
    const v = a[i];
    if (typeof v !== 'number' || Number.isNaN(v)) throw invalid('a number (not NaN)', `${name}[${i}]`, v);
  }
  return a;
}

/** Labels: 0 or 1, one per score. */
export function checkLabels(value: unknown, n: number, name = 'labels', per = 'score'): NumberArray {
  const a = checkNumberArray(value, name);
  checkLength(a, n, name, 'labels', per);
  for (let i = 0; i < a.length; ++i) {
    const v = a[i];
    if (v !== 0 && v !== 1) throw invalid('0 or 1', `${name}[${i}]`, v);
  }
  return a;
}

/** Sample weights: finite and non-negative, one per score. */
export function checkWeights(value: unknown, n: number, name = 'weights'): NumberArray {
  const a = checkNumberArray(value, name);
  checkLength(a, n, name, 'weights');
  for (let i = 0; i < a.length; ++i) {
    const v = a[i];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid('a finite non-negative number', `${name}[${i}]`, v);
  }
  return a;
}

/** Group ids: numbers (not NaN), strings or bigints, one per score. */
export function checkGroups(value: unknown, n: number, name = 'groups'): GroupArray {
  if (!isArrayLike(value)) throw invalid('an array or typed array of group ids (numbers, strings or bigints)', name, value);
  const a = value as GroupArray;
  checkLength(a, n, name, 'group ids');
  for (let i = 0; i < a.length; ++i) {
    const v = a[i];
    const ok = typeof v === 'string' || typeof v === 'bigint' || (typeof v === 'number' && !Number.isNaN(v));
    if (!ok) throw invalid('a group id (a number, a string or a bigint)', `${name}[${i}]`, v);
  }
  return a;
}
