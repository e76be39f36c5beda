/**
 * The statistics a schema's numeric treatments need, gathered in one streaming pass over the
 * training rows ({@link NumericStatsBuilder}, {@link fitNumericStats}): per dense field the
 * count, the missing values, min, max, mean, standard deviation and skewness of the values as
 * read, the same moments of log1p(values) (for `transform: 'auto'`), and, for quantile
 * buckets, the distribution — exact (a count per distinct value) while a field has at most
 * `exactValues` distinct values, past that a DDSketch (`@datadog/sketches-js`) of
 * `relativeAccuracy`. The result is {@link NumericState}: plain JSON, the fitted transform of
 * every dense field, which checkpoints and serving updates carry. Nothing is random: the same
 * rows in the same order give the same state bit for bit (in another order, the same
 * distribution and boundaries, the moments equal to rounding).
 */
import { DDSketch } from '@datadog/sketches-js';
import { checkInt, checkKnownKeys, checkOptions, checkRange, invalid } from '../validate';
import type { Row } from './readers';
import type { DataSchema, ResolvedField } from './schema';
import { equalFrequencyBoundaries } from './quantiles';

/** sign(x)·log(1 + |x|): the `log1p` transform, monotone, defined for every x. */
export const slog = (x: number): number => Math.sign(x) * Math.log1p(Math.abs(x));

/** `transform: 'auto'` applies log1p when the training values are non-negative and their skewness is above this. */
export const AUTO_LOG_SKEW = 2;
/** Distinct values per field counted exactly (about 45 bytes each in memory: at most ~12 MB a field) before a sketch takes over. */
export const EXACT_VALUES = 1 << 18;
/** The sketch's relative accuracy: a quantile it returns is within this fraction of a true one. */
export const SKETCH_ACCURACY = 0.005;

/** One dense field's fitted transform and the statistics it came from. */
export interface FittedNumericField {
  /** The dense field's name. */
  name: string;
  /** Training values seen (not missing), and missing ones. */
  count: number;
  /** Training rows where the value was missing. */
  missing: number;
  /** Of the values as read (after a declared log1p); 0 without values. */
  min: number;
  /** Largest value. */
  max: number;
  /** Mean of the values. */
  mean: number;
  /** Standard deviation of the values. */
  sd: number;
  /** Skewness of the values (the third standardized moment; 'auto' takes log1p above 2). */
  skew: number;
  /** log1p applied at batch time (transform 'auto' decided so). */
  log: boolean;
  /** Clip bounds in the fitted space (after `log`), or null. */
  clip: [number, number] | null;
  /** value = (clipped - shift) · scale. */
  shift: number;
  /** The factor of the affine map (1/sd for 'standard', 1/(max − min) for 'minmax', 1 for 'none'). */
  scale: number;
  /** Bucket boundaries in the fitted space: bucket k holds boundaries[k-1] <= x < boundaries[k]; null: not bucketized. */
  boundaries: number[] | null;
  /** How quantile boundaries were found, or null (none asked for). */
  quantiles: 'exact' | 'sketch' | null;
}

/** The fitted numeric treatment of a schema: one entry per dense field, in the schema's order. */
export interface NumericState {
  /** The state's format version. */
  version: 1;
  /** One entry per dense field, in the schema's order. */
  fields: FittedNumericField[];
  /** What the fit noticed (constant fields, fields without values), one line each. */
  notes: string[];
}

/** Options of {@link fitNumericStats} and {@link NumericStatsBuilder}: how quantiles are found. */
export interface NumericStatsOptions {
  /** Distinct values per field counted exactly before a DDSketch takes over (default {@link EXACT_VALUES}). */
  exactValues?: number;
  /** The sketch's relative accuracy (default {@link SKETCH_ACCURACY}). */
  relativeAccuracy?: number;
}

/** Running count, mean and central moments (Welford, with Terriberry's third moment). */
class Moments {
  n = 0;
  mean = 0;
  m2 = 0;
  m3 = 0;
  add(x: number): void {
    const n1 = this.n++;
    const delta = x - this.mean;
    const dn = delta / this.n;
    const term = delta * dn * n1;
    this.mean += dn;
    this.m3 += term * dn * (this.n - 2) - 3 * dn * this.m2;
    this.m2 += term;
  }
  get sd(): number {
    return this.n > 0 ? Math.sqrt(this.m2 / this.n) : 0;
  }
  get skew(): number {
    return this.m2 > 0 ? (Math.sqrt(this.n) * this.m3) / this.m2 ** 1.5 : 0;
  }
}

/** A field's distribution: exact counts per value, then a sketch once there are too many values. */
class Distribution {
  private counts: Map<number, number> | null = new Map();
  private sketch: DDSketch | null = null;
  constructor(
    private readonly exactValues: number,
    private readonly accuracy: number,
  ) {}
  add(x: number): void {
    if (this.counts) {
      this.counts.set(x, (this.counts.get(x) ?? 0) + 1);
      if (this.counts.size <= this.exactValues) return;
      this.sketch = new DDSketch({ relativeAccuracy: this.accuracy });
      for (const [v, c] of this.counts) this.sketch.accept(v, c);
      this.counts = null;
      return;
    }
    (this.sketch as DDSketch).accept(x);
  }
  get exact(): boolean {
    return this.counts !== null;
  }
  /** Ascending values and their counts (the sketch's: each bin's representative value). */
  histogram(): { values: Float64Array; counts: Float64Array } {
    if (this.counts) {
      const values = Float64Array.from(this.counts.keys()).sort();
      return { values, counts: Float64Array.from(values, (v) => (this.counts as Map<number, number>).get(v) as number) };
    }
    const s = this.sketch as DDSketch;
    const pairs: [number, number][] = [];
    const bins = (store: DDSketch['store'], sign: number) => {
      const out: [number, number][] = [];
      store.bins.forEach((c, i) => {
        if (c > 0) out.push([sign * s.mapping.value(i + store.offset), c]);
      });
      return out;
    };
    pairs.push(...bins(s.negativeStore, -1).reverse());
    if (s.zeroCount > 0) pairs.push([0, s.zeroCount]);
    pairs.push(...bins(s.store, 1));
    return { values: Float64Array.from(pairs, (p) => p[0]), counts: Float64Array.from(pairs, (p) => p[1]) };
  }
}

/** A dense field's accumulators. */
class FieldStats {
  missing = 0;
  min = Infinity;
  max = -Infinity;
  readonly raw = new Moments();
  readonly log = new Moments();
  readonly dist: Distribution | null;
  constructor(
    readonly field: ResolvedField,
    o: Required<NumericStatsOptions>,
  ) {
    const b = field.numeric?.bucketize;
    this.dist = b && 'quantiles' in b ? new Distribution(o.exactValues, o.relativeAccuracy) : null;
  }
  add(x: number): void {
    if (Number.isNaN(x)) {
      this.missing++;
      return;
    }
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.raw.add(x);
    this.log.add(slog(x));
    this.dist?.add(x);
  }
}

/** Where a field is named in notes: "schema.fields[3] ('age')". */
const named = (f: ResolvedField) => `schema.fields[${f.index}] ('${f.name}')`;

/** A field's fitted transform from its accumulators (see README, "Numeric fields"). */
function fit(s: FieldStats, notes: string[]): FittedNumericField {
  const f = s.field;
  const spec = f.numeric!;
  const n = s.raw.n;
  const min = n > 0 ? s.min : 0;
  const max = n > 0 ? s.max : 0;
  const log = spec.transform === 'auto' && n > 0 && min >= 0 && s.raw.skew > AUTO_LOG_SKEW;
  const m = log ? s.log : s.raw;
  // Column units -> the fitted space: a declared log1p was applied when read; 'auto' may add one now.
  const space = (v: number) => {
    const read = f.transform === 'log1p' ? slog(v) : v;
    return log ? slog(read) : read;
  };
  const lo = log ? slog(min) : min;
  const hi = log ? slog(max) : max;
  let clip: [number, number] | null = null;
  if (spec.clip && 'sd' in spec.clip) clip = [m.mean - spec.clip.sd * m.sd, m.mean + spec.clip.sd * m.sd];
  else if (spec.clip) clip = [space(spec.clip.lo), space(spec.clip.hi)];
  if (n === 0) notes.push(`${named(f)} has no training values (all ${s.missing} missing): its value is 0${spec.bucketize ? ' and every row takes the missing bucket' : ''}`);
  else if (min === max && spec.normalize !== 'none') notes.push(`${named(f)} is constant in the training rows (every value ${min}): normalized without scaling, to 0 on those rows`);
  let shift = 0;
  let scale = 1;
  if (spec.normalize === 'standard' && n > 0) {
    shift = m.mean;
    scale = m.sd > 0 ? 1 / m.sd : 1;
  } else if (spec.normalize === 'minmax' && n > 0) {
    const a = clip ? Math.max(lo, clip[0]) : lo;
    const b = clip ? Math.min(hi, clip[1]) : hi;
    shift = a;
    scale = b > a ? 1 / (b - a) : 1;
  }
  let boundaries: number[] | null = null;
  let quantiles: FittedNumericField['quantiles'] = null;
  if (spec.bucketize && 'boundaries' in spec.bucketize) boundaries = spec.bucketize.boundaries.map(space);
  else if (spec.bucketize && s.dist) {
    const h = s.dist.histogram();
    // Boundaries are found on the values as read; a fitted log keeps their order.
    boundaries = equalFrequencyBoundaries(h.values, h.counts, spec.bucketize.quantiles).map((v) => (log ? slog(v) : v));
    quantiles = s.dist.exact ? 'exact' : 'sketch';
  }
  return { name: f.name, count: n, missing: s.missing, min, max, mean: s.raw.mean, sd: s.raw.sd, skew: s.raw.skew, log, clip, shift, scale, boundaries, quantiles };
}

/** Gathers a schema's numeric statistics row by row; `finish()` fits every dense field. */
export class NumericStatsBuilder {
  private readonly fields: FieldStats[];
  private rows = 0;

  constructor(schema: DataSchema, options: NumericStatsOptions = {}) {
    const o = checkOptions(options, 'options');
    checkKnownKeys(o, 'options', ['exactValues', 'relativeAccuracy']);
    const resolved = {
      exactValues: checkInt(o.exactValues ?? EXACT_VALUES, 'options.exactValues', 0),
      relativeAccuracy: checkRange(o.relativeAccuracy ?? SKETCH_ACCURACY, 'options.relativeAccuracy', 1e-6, 0.5),
    };
    this.fields = schema.ofKind('dense').map((f) => new FieldStats(f, resolved));
  }

  /** One training row (read with this schema). */
  add(row: Row): void {
    const d = row.dense;
    if (!Array.isArray(d) || d.length !== this.fields.length) throw invalid(`${this.fields.length} dense values (a Row read with this schema)`, `rows[${this.rows}].dense`, d);
    for (let j = 0; j < d.length; ++j) this.fields[j].add(d[j]);
    this.rows++;
  }

  /** The fitted state (notes: constant fields, fields without values). */
  finish(): NumericState {
    const notes: string[] = [];
    return { version: 1, fields: this.fields.map((s) => fit(s, notes)), notes };
  }
}

/** One pass over training rows: the fitted numeric state of `schema` (it is not applied: `schema.setNumericState(state)`). */
export async function fitNumericStats(rows: AsyncIterable<Row> | Iterable<Row>, schema: DataSchema, options: NumericStatsOptions = {}): Promise<NumericState> {
  const b = new NumericStatsBuilder(schema, options);
  for await (const row of rows) b.add(row);
  return b.finish();
}
