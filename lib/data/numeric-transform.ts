/**
 * Applies a schema's numeric treatment as a batch is built: each dense field's values as read
 * (NaN where missing) become its dense column — log1p when the fit chose it, clipped, then
 * (x - shift) · scale — and, for a bucketized field, a bucket id per row, looked up in the
 * shared embedding table like a single-hot field's. Every batch builder goes through
 * {@link NumericPlan.apply} (batches, collate, the epoch cache's batches, and so serving), so
 * training and serving transform a value the same way. Without a fitted state a field is
 * used as declared: its fixed clip bounds and boundaries apply, normalization does not.
 */
import { FormatError } from '../errors';
import { hashId } from './hash';
import type { ResolvedField } from './schema';
import { FittedNumericField, NumericState, slog } from './numeric-stats';
import { upperBound } from './quantiles';

/** The id of bucket k of a field (k = the number of boundaries <= the value), or of its missing bucket. */
export function bucketKey(field: string, bucket: number | 'missing'): bigint {
  return hashId(`${field}#bucket`, String(bucket));
}

/** One field's transform, ready to apply. */
interface FieldPlan {
  name: string;
  /** Its dense column, or -1 (bucketized without keepValue). */
  column: number;
  log: boolean;
  lo: number;
  hi: number;
  shift: number;
  scale: number;
  boundaries: Float64Array | null;
  /** keys[k]: bucket k's id; keys[boundaries.length + 1]: the missing bucket's. */
  keys: BigInt64Array | null;
  /** Set when the field needs fitted quantile boundaries it does not have. */
  unfitted: string | null;
}

function keysFor(name: string, boundaries: Float64Array): BigInt64Array {
  const K = boundaries.length;
  const keys = new BigInt64Array(K + 2);
  for (let k = 0; k <= K; ++k) keys[k] = bucketKey(name, k);
  keys[K + 1] = bucketKey(name, 'missing');
  return keys;
}

/** A field as declared, before any fit: fixed clip bounds and boundaries (in the space the values are read in). */
function declared(f: ResolvedField, column: number): FieldPlan {
  const spec = f.numeric!;
  const read = (v: number) => (f.transform === 'log1p' ? slog(v) : v);
  const clip = spec.clip && 'lo' in spec.clip ? spec.clip : null;
  const b = spec.bucketize;
  const boundaries = b && 'boundaries' in b ? Float64Array.from(b.boundaries, read) : null;
  return {
    name: f.name,
    column,
    log: false,
    lo: clip ? read(clip.lo) : -Infinity,
    hi: clip ? read(clip.hi) : Infinity,
    shift: 0,
    scale: 1,
    boundaries,
    keys: boundaries ? keysFor(f.name, boundaries) : null,
    unfitted: b && 'quantiles' in b ? `schema.fields[${f.index}].bucketize: the quantile boundaries of '${f.name}' are not fitted (fit them on the training rows: fitNumericStats, or a job's parts.fitNumeric(); or load a checkpoint or serving update that has them)` : null,
  };
}

function fitted(f: ResolvedField, column: number, s: FittedNumericField): FieldPlan {
  const boundaries = s.boundaries ? Float64Array.from(s.boundaries) : null;
  return {
    name: f.name,
    column,
    log: s.log,
    lo: s.clip ? s.clip[0] : -Infinity,
    hi: s.clip ? s.clip[1] : Infinity,
    shift: s.shift,
    scale: s.scale,
    boundaries,
    keys: boundaries ? keysFor(f.name, boundaries) : null,
    unfitted: null,
  };
}

/**
 * Checks a fitted state against the schema's dense fields (a checkpoint's or an update's, say):
 * the same fields in the same order, finite numbers, ascending boundaries exactly where the
 * schema bucketizes. `where` names the state's source in errors.
 */
export function checkNumericState(state: unknown, fields: readonly ResolvedField[], where: string): NumericState {
  const fail = (what: string) => new FormatError(`${where}: the numeric state ${what}`);
  const s = state as NumericState;
  if (s === null || typeof s !== 'object' || s.version !== 1 || !Array.isArray(s.fields) || !Array.isArray(s.notes)) throw fail('is not { version: 1, fields, notes }');
  if (s.fields.length !== fields.length) throw fail(`has ${s.fields.length} fields, the schema ${fields.length} dense fields`);
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  s.fields.forEach((x, j) => {
    const f = fields[j];
    const at = `fields[${j}]`;
    if (x === null || typeof x !== 'object' || x.name !== f.name) throw fail(`${at} is not the dense field '${f.name}'`);
    for (const k of ['count', 'missing', 'min', 'max', 'mean', 'sd', 'skew', 'shift', 'scale'] as const) if (!num(x[k])) throw fail(`${at}.${k} is not a finite number`);
    if (typeof x.log !== 'boolean') throw fail(`${at}.log is not a boolean`);
    if (x.clip !== null && (!Array.isArray(x.clip) || x.clip.length !== 2 || !x.clip.every(num) || !(x.clip[0] <= x.clip[1]))) throw fail(`${at}.clip is not null or [lo, hi]`);
    const bucketized = f.numeric!.bucketize !== null;
    if (bucketized !== (x.boundaries !== null)) throw fail(`${at}.boundaries ${bucketized ? 'are missing' : 'are there'} but the schema ${bucketized ? 'bucketizes' : 'does not bucketize'} '${f.name}'`);
    if (x.boundaries !== null && (!Array.isArray(x.boundaries) || !x.boundaries.every((v, i, a) => num(v) && (i === 0 || v > a[i - 1])))) throw fail(`${at}.boundaries are not ascending finite numbers`);
  });
  return s;
}

/** The numeric treatment of a schema's dense fields (in schema order), from a fitted state or as declared. */
export class NumericPlan {
  private readonly plans: FieldPlan[];
  /** Dense columns per row. */
  readonly columns: number;
  /** Whether any field does anything (else apply copies the values). */
  private readonly identity: boolean;

  constructor(fields: readonly ResolvedField[], state: NumericState | null) {
    let column = 0;
    this.plans = fields.map((f, j) => {
      const col = f.numeric!.value ? column++ : -1;
      return state ? fitted(f, col, state.fields[j]) : declared(f, col);
    });
    this.columns = column;
    this.identity = this.plans.every((p) => p.column >= 0 && !p.log && p.lo === -Infinity && p.hi === Infinity && p.shift === 0 && p.scale === 1 && !p.boundaries && !p.unfitted);
  }

  /** Names of the bucketized fields, whose ids apply() returns. */
  get bucketized(): string[] {
    return this.plans.filter((p) => p.keys || p.unfitted).map((p) => p.name);
  }

  /**
   * B rows' values as read (B × fields, row-major; NaN where missing) → the dense columns
   * (B × columns) and each bucketized field's ids (B). A missing value is 0 in its column and
   * takes its field's missing bucket.
   */
  apply(values: Float64Array, B: number): { dense: Float32Array; ids: Record<string, BigInt64Array> } {
    const N = this.plans.length;
    const D = this.columns;
    const dense = new Float32Array(B * D);
    const ids: Record<string, BigInt64Array> = {};
    if (this.identity) {
      for (let i = 0; i < B * N; ++i) dense[i] = Number.isNaN(values[i]) ? 0 : values[i];
      return { dense, ids };
    }
    for (let j = 0; j < N; ++j) {
      const p = this.plans[j];
      if (p.unfitted) throw new FormatError(p.unfitted);
      const out = p.keys ? (ids[p.name] = new BigInt64Array(B)) : null;
      const K = p.boundaries ? p.boundaries.length : 0;
      for (let b = 0; b < B; ++b) {
        let x = values[b * N + j];
        if (Number.isNaN(x)) {
          if (out) out[b] = (p.keys as BigInt64Array)[K + 1];
          continue; // its column stays 0
        }
        if (p.log) x = slog(x);
        if (out) out[b] = (p.keys as BigInt64Array)[upperBound(p.boundaries as Float64Array, x)];
        if (p.column >= 0) dense[b * D + p.column] = ((x < p.lo ? p.lo : x > p.hi ? p.hi : x) - p.shift) * p.scale;
      }
    }
    return { dense, ids };
  }
}
