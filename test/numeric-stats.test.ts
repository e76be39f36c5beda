/**
 * The numeric treatment of dense fields without a model: the schema's keys and their errors,
 * equal-frequency boundaries (ties, a mostly-zero column), the one-pass statistics (exact and
 * by DDSketch past the exact budget), what batches make of them (scaled columns, bucket ids,
 * the missing bucket), a constant field (no NaN, a note), bad values naming line and field,
 * and a fitted state checked when it comes back from elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { collate, defineSchema, FormatError, readCsv, rowFromObject } from '../lib';
import type { Row, Schema } from '../lib';
import { fitNumericStats, NumericStatsBuilder, slog } from '../lib/data/numeric-stats';
import { bucketKey } from '../lib/data/numeric-transform';
import { equalFrequencyBoundaries } from '../lib/data/quantiles';
import { Rng } from '../lib/random';

const label = { name: 'y', kind: 'label' } as const;
const rowOf = (dense: number[]): Row => ({ line: 1, ids: {}, bags: {}, sequences: {}, dense, labels: [1], domain: -1, weight: 1 });

describe('numeric schema keys', () => {
  it('fills the defaults: no transform, standard normalization, the value as a column', () => {
    const s = defineSchema({ fields: [{ name: 'x', kind: 'dense' }, { name: 'a', kind: 'dense', transform: 'auto' }, label] });
    expect(s.fields[0].numeric).toEqual({ transform: 'none', normalize: 'standard', clip: null, bucketize: null, value: true });
    expect(s.fields[1].transform).toBe('none'); // 'auto' reads the value as it is: the fit decides
    expect(s.needsNumericFit).toBe(true);
    expect(defineSchema({ fields: [{ name: 'x', kind: 'dense', transform: 'none', normalize: 'none' }, label] }).needsNumericFit).toBe(false);
  });

  it('a bucketized field is an id field too; without keepValue it leaves the dense columns', () => {
    const s = defineSchema({
      fields: [
        { name: 'a', kind: 'sparse' },
        { name: 'x', kind: 'dense', bucketize: { quantiles: 8 } },
        { name: 'z', kind: 'dense', bucketize: { boundaries: [0, 10] }, keepValue: true },
        { name: 'w', kind: 'dense' },
        label,
      ],
    });
    expect(s.numeric).toEqual(['x', 'z', 'w']);
    expect(s.dense).toEqual(['z', 'w']);
    expect(s.ofKind('sparse').map((f) => [f.name, f.kind])).toEqual([['a', 'sparse'], ['x', 'sparse'], ['z', 'sparse']]);
    expect(s.field('x')!.kind).toBe('dense');
  });

  it('names the bad key', () => {
    const bad = (f: Record<string, unknown>) => () => defineSchema({ fields: [{ name: 'x', kind: 'dense', ...f }, label] } as Schema);
    expect(bad({ normalize: 'zscore' })).toThrow(/schema\.fields\[0\]\.normalize/);
    expect(bad({ clip: [3, 1] })).toThrow(/schema\.fields\[0\]\.clip\[1\]/);
    expect(bad({ clip: -2 })).toThrow(/schema\.fields\[0\]\.clip/);
    expect(bad({ bucketize: { quantiles: 1 } })).toThrow(/schema\.fields\[0\]\.bucketize\.quantiles/);
    expect(bad({ bucketize: { boundaries: [1, 1] } })).toThrow(/schema\.fields\[0\]\.bucketize\.boundaries\[1\]/);
    expect(bad({ bucketize: { quantiles: 4, boundaries: [1] } })).toThrow(/schema\.fields\[0\]\.bucketize/);
    expect(bad({ keepValue: true })).toThrow(/schema\.fields\[0\]\.keepValue/);
  });
});

describe('equal-frequency boundaries', () => {
  it('splits distinct values evenly', () => {
    const v = Float64Array.from({ length: 100 }, (_, i) => i);
    expect(equalFrequencyBoundaries(v, new Float64Array(100).fill(1), 4)).toEqual([25, 50, 75]);
  });

  it('a value repeated past a share takes a bucket of its own; the rest share the others', () => {
    // 960 zeros, then 40 distinct positives: the zeros' bucket, then 3 buckets of the positives.
    const values = Float64Array.from({ length: 41 }, (_, i) => i);
    const counts = Float64Array.from({ length: 41 }, (_, i) => (i === 0 ? 960 : 1));
    expect(equalFrequencyBoundaries(values, counts, 4)).toEqual([1, 14, 28]);
    // A spike at the top (52 weeks, half the rows) is cut before: a bucket of its own.
    const weeks = Float64Array.from([0, 10, 20, 30, 40, 52]);
    expect(equalFrequencyBoundaries(weeks, Float64Array.from([10, 10, 10, 10, 10, 50]), 4)).toEqual([30, 52]);
    // Fewer distinct values than buckets: one bucket each.
    expect(equalFrequencyBoundaries(Float64Array.from([1, 2, 3]), Float64Array.from([5, 5, 5]), 16)).toEqual([2, 3]);
  });
});

describe('fitted statistics', () => {
  const schema = defineSchema({
    fields: [
      { name: 'amount', kind: 'dense', transform: 'auto', bucketize: { quantiles: 10 }, keepValue: true },
      { name: 'age', kind: 'dense', normalize: 'minmax', clip: [18, 80] },
      { name: 'score', kind: 'dense', transform: 'none', clip: 2 },
      label,
    ],
  });
  const rng = new Rng(5);
  const rows = Array.from({ length: 4000 }, () => rowOf([Math.round(Math.exp(2 + 1.5 * rng.normal())), 10 + Math.floor(rng.uniform() * 80), rng.normal() * 3 + 1]));

  it('moments, auto log1p for a long tail, clipping and scaling as documented', async () => {
    const st = await fitNumericStats(rows, schema);
    const [amount, age, score] = st.fields;
    expect(amount.count).toBe(4000);
    expect(amount.skew).toBeGreaterThan(2);
    expect(amount.log).toBe(true); // non-negative, skewed: auto chose log1p
    const logs = rows.map((r) => slog(r.dense[0]));
    const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
    expect(amount.shift).toBeCloseTo(mean, 10);
    expect(amount.quantiles).toBe('exact');
    expect(amount.boundaries!.length).toBeGreaterThanOrEqual(8);
    expect(age.log).toBe(false); // uniform: no log
    expect(age.clip).toEqual([18, 80]);
    expect(age.shift).toBe(18); // max(min 10, clip 18)
    expect(age.scale).toBeCloseTo(1 / (80 - 18), 12);
    expect(score.clip![0]).toBeCloseTo(score.mean - 2 * score.sd, 10);
    expect(st.notes).toEqual([]);
    // Deterministic: the same rows, the same state; in another order the same boundaries, the moments equal to rounding.
    expect(await fitNumericStats(rows, schema)).toEqual(st);
    const reversed = await fitNumericStats([...rows].reverse(), schema);
    reversed.fields.forEach((f, j) => {
      expect(f.boundaries).toEqual(st.fields[j].boundaries);
      expect(f.shift).toBeCloseTo(st.fields[j].shift, 10);
      expect(f.scale).toBeCloseTo(st.fields[j].scale, 10);
    });
  });

  it('past the exact budget a DDSketch finds boundaries within its accuracy of the exact ones', async () => {
    const exact = (await fitNumericStats(rows, schema)).fields[0];
    const sketched = (await fitNumericStats(rows, schema, { exactValues: 16 })).fields[0];
    expect(sketched.quantiles).toBe('sketch');
    expect(sketched.boundaries!.length).toBe(exact.boundaries!.length);
    // In the log space the boundaries live in, 1% relative error in the value is < 0.01.
    sketched.boundaries!.forEach((b, k) => expect(Math.abs(b - exact.boundaries![k])).toBeLessThan(0.02));
  });

  it('batches use the state: scaled columns, bucket ids, the missing bucket', async () => {
    const s = defineSchema({ fields: [{ name: 'amount', kind: 'dense', transform: 'none', bucketize: { boundaries: [10, 100] }, keepValue: true }, label] });
    const b = new NumericStatsBuilder(s);
    for (const x of [1, 5, 50, 500]) b.add(rowOf([x]));
    s.setNumericState(b.finish());
    const batch = collate([rowFromObject(s, { amount: 5 }), rowFromObject(s, { amount: 100 }), rowFromObject(s, { amount: null })], s, { device: 'cpu' });
    const mean = (1 + 5 + 50 + 500) / 4;
    const sd = Math.sqrt([1, 5, 50, 500].reduce((a, x) => a + (x - mean) ** 2, 0) / 4);
    expect(Array.from(batch.dense.toArraySync() as Float32Array)).toEqual([Math.fround((5 - mean) / sd), Math.fround((100 - mean) / sd), 0]);
    expect(Array.from(batch.raw.ids.amount)).toEqual([bucketKey('amount', 0), bucketKey('amount', 2), bucketKey('amount', 'missing')]);
    expect(Array.from(batch.ids.amount.toArraySync() as BigInt64Array)).toEqual(Array.from(batch.raw.ids.amount));
    batch.dispose();
  });

  it('a constant field is normalized to 0 without NaN, and the fit says so', async () => {
    const s = defineSchema({ fields: [{ name: 'c', kind: 'dense', transform: 'auto' }, { name: 'm', kind: 'dense', normalize: 'minmax' }, label] });
    const st = await fitNumericStats([rowOf([7, 3]), rowOf([7, 3])], s);
    expect(st.notes).toEqual([
      "schema.fields[0] ('c') is constant in the training rows (every value 7): normalized without scaling, to 0 on those rows",
      "schema.fields[1] ('m') is constant in the training rows (every value 3): normalized without scaling, to 0 on those rows",
    ]);
    s.setNumericState(st);
    const batch = collate([rowOf([7, 3]), rowOf([8, 5])], s, { device: 'cpu' });
    expect(Array.from(batch.dense.toArraySync() as Float32Array)).toEqual([0, 0, 1, 2]);
    batch.dispose();
  });

  it('quantile buckets need a fit: a clear error before one', () => {
    const s = defineSchema({ fields: [{ name: 'q', kind: 'dense', bucketize: { quantiles: 4 } }, label] });
    expect(() => collate([rowOf([1])], s, { device: 'cpu' })).toThrow("schema.fields[0].bucketize: the quantile boundaries of 'q' are not fitted");
  });

  it('a state from elsewhere is checked against the schema', async () => {
    const st = await fitNumericStats(rows, schema);
    const other = defineSchema({ fields: [{ name: 'amount', kind: 'dense' }, { name: 'age', kind: 'dense' }, { name: 'score', kind: 'dense' }, label] });
    expect(() => other.setNumericState(st, 'checkpoint x.gwck')).toThrow(new FormatError("checkpoint x.gwck: the numeric state fields[0].boundaries are there but the schema does not bucketize 'amount'"));
    const broken = JSON.parse(JSON.stringify(st));
    broken.fields[1].scale = null;
    expect(() => schema.setNumericState(broken, 'update u')).toThrow('update u: the numeric state fields[1].scale is not a finite number');
  });
});

describe('bad numeric input', () => {
  const schema: Schema = { fields: [{ name: 'id', kind: 'sparse' }, { name: 'amount', kind: 'dense', bucketize: { quantiles: 4 }, keepValue: true }, { name: 'age', kind: 'dense' }, label] };
  const csv = 'id,amount,age,y\na,3,30,1\nb,abc,31,0\nc,,32,1\nd,4,,0\n';

  it('a non-numeric value is a row error naming line and field, or skipped and counted', async () => {
    const rows = async (onError: 'fail' | 'skip') => {
      const r = readCsv([csv], schema, { onError });
      const out: Row[] = [];
      for await (const row of r) out.push(row);
      return { out, stats: r.stats };
    };
    await expect(rows('fail')).rejects.toThrow("input line 3, field 'amount': expected a number but found 'abc'");
    const { out, stats } = await rows('skip');
    // Line 4: a missing amount is its bucket's business (NaN until batched); line 5: a missing age is an error.
    expect(out.map((r) => r.line)).toEqual([2, 4]);
    expect(Number.isNaN(out[1].dense[0])).toBe(true);
    expect(stats.skipped).toBe(2);
    expect(stats.errors[1]).toBe("input line 5, field 'age': missing value (the field has no default)");
    expect(() => rowFromObject(schema, { id: 'a', amount: '12kg', age: 3 }, 'request 0')).toThrow("request 0, field 'amount': expected a number but found '12kg'");
  });
});
