/**
 * Argument validation for every public function. One message shape everywhere:
 * "Expected <what> for <name> but received <value> of type <type>".
 */
import { ArgumentError } from './errors';

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? value.slice(0, 40) + '…' : value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `[${value.slice(0, 8).map(describe).join(', ')}${value.length > 8 ? ', …' : ''}]`;
  if (value && typeof value === 'object') return value.constructor?.name ?? 'object';
  return String(value);
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** The error for a bad argument: "Expected {what} for {name} but received {value} of type {type}". */
export function invalid(what: string, name: string, value: unknown): ArgumentError {
  return new ArgumentError(`Expected ${what} for ${name} but received ${describe(value)} of type ${typeOf(value)}`);
}

export function checkNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid('a finite number', name, value);
  return value;
}

export function checkInt(value: unknown, name: string, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = min === -Infinity && max === Infinity ? '' : max === Infinity ? ` of at least ${min}` : ` from ${min} to ${max}`;
    throw invalid(`an integer${range}`, name, value);
  }
  return value;
}

export function checkRange(value: unknown, name: string, min: number, max: number, what?: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(what ?? `a number from ${min} to ${max}`, name, value);
  }
  return value;
}

export function checkPositive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid('a positive number', name, value);
  return value;
}

export function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalid('a boolean', name, value);
  return value;
}

export function checkOneOf<T extends string>(value: unknown, name: string, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw invalid(`one of ${choices.map((c) => `'${c}'`).join(', ')}`, name, value);
  }
  return value as T;
}

export function checkShape(value: unknown, name: string): number[] {
  if (!Array.isArray(value) || value.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw invalid('an array of non-negative integers', name, value);
  }
  return value as number[];
}

/** Layer widths: a non-empty array of positive integers (e.g. an MLP's `hidden`). */
/** An array of layer widths (positive integers); non-empty unless `allowEmpty`. */
export function checkWidths(value: unknown, name: string, allowEmpty = false): number[] {
  if (!Array.isArray(value) || (value.length === 0 && !allowEmpty)) throw invalid(allowEmpty ? 'an array of layer widths' : 'a non-empty array of layer widths', name, value);
  return value.map((h, i) => checkInt(h, `${name}[${i}]`, 1));
}

export function checkFunction(value: unknown, name: string): (...args: never[]) => unknown {
  if (typeof value !== 'function') throw invalid('a function', name, value);
  return value as (...args: never[]) => unknown;
}

/** Options objects: undefined means {}, anything else must be a plain object. */
export function checkOptions<T extends object>(value: T | undefined, name: string): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('an options object', name, value);
  return value;
}

/** Refuses fields of an options object that are not in `known` (a misspelt option must not fall back to its default). */
export function checkKnownKeys(value: object, name: string, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new ArgumentError(`Unknown option ${name}.${key} (expected one of ${known.join(', ')})`);
  }
}
