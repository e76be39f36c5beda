/**
 * The bundled Census-Income (KDD) data: counts and label rates pinned against the file, no
 * label leakage into the features, the seeded stratified split, batches that plug into
 * EmbeddingTable.lookup, the loader's options and errors on small files, and one sanity
 * model (a logistic regression on one-hot + dense features) that must rank well.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Adam,
  ArgumentError,
  auc,
  bceWithLogits,
  EmbeddingTable,
  FormatError,
  Linear,
  manualSeed,
  OptimizerSet,
  Rng,
  SparseOptimizer,
  stratifiedSplit,
  sum,
  tidy,
} from '../lib';
import { CensusIncome, censusIncomePath, loadCensusIncome, loadCensusIncomeSync } from '../examples/data/census-income';

let ds: CensusIncome;
beforeAll(async () => {
  ds = await loadCensusIncome();
});

const count = (a: ArrayLike<number>, rows?: ArrayLike<number>) => {
  let s = 0;
  if (rows) for (let i = 0; i < rows.length; ++i) s += a[rows[i]];
  else for (let i = 0; i < a.length; ++i) s += a[i];
  return s;
};

/** The first `n` lines of the bundled file, as text. */
function head(n: number): string {
  const text = zlib.gunzipSync(fs.readFileSync(censusIncomePath())).toString('latin1');
  return text.split('\n').slice(0, n).join('\n') + '\n';
}

function tmpFile(name: string, data: string | Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatewise-census-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

describe('loadCensusIncome: the bundled file', () => {
  it('is found under the package root and has 99,762 rows', () => {
    expect(censusIncomePath().endsWith(path.join('data', 'census-income', 'census-income.test.gz'))).toBe(true);
    expect(fs.existsSync(censusIncomePath())).toBe(true);
    expect(ds.size).toBe(99762);
  });

  it('has the known label counts: income > 50K 6.20 %, never married 43.25 %', () => {
    expect(count(ds.labels.income)).toBe(6186);
    expect(count(ds.labels.neverMarried)).toBe(43143);
    expect(count(ds.labels.income) / ds.size).toBeCloseTo(0.0620, 4);
    expect(count(ds.labels.neverMarried) / ds.size).toBeCloseTo(0.4325, 4);
    let both = 0;
    for (let i = 0; i < ds.size; ++i) both += ds.labels.income[i] & ds.labels.neverMarried[i];
    expect(both).toBe(545);
  });

  it('keeps the label sources and the sampling weight out of the features', () => {
    const banned = ['marital_stat', 'income_50k', 'instance_weight'];
    for (const name of banned) {
      expect(ds.fieldNames).not.toContain(name);
      expect(ds.denseNames).not.toContain(name);
    }
    for (const f of ds.categorical) {
      expect([7, 24, 41]).not.toContain(f.column);
      expect(f.values).not.toContain('Never married');
      expect(f.values).not.toContain('50000+.');
    }
    expect(ds.instanceWeight[0]).toBeCloseTo(1032.38, 2); // kept apart, for weighted statistics
  });

  it('has 34 categorical fields with one global id space, 0 of each field for missing', () => {
    expect(ds.fieldNames).toHaveLength(34);
    expect(ds.fieldNames[ds.fieldNames.length - 1]).toBe('age_bucket');
    expect(ds.numEmbeddings).toBe(538);
    let offset = 0;
    for (const f of ds.categorical) {
      expect(f.offset).toBe(offset);
      expect(f.values[0]).toBe('?');
      expect(f.ids).toBeInstanceOf(Int32Array);
      expect(f.ids.length).toBe(ds.size);
      let max = 0;
      for (const id of f.ids) max = Math.max(max, id);
      expect(max).toBe(f.values.length - 1);
      for (const [value, id] of f.index) expect(f.values[id]).toBe(value);
      offset += f.values.length;
    }
    const field = (name: string) => ds.categorical.find((f) => f.name === name)!;
    // '?' is missing: the migration columns of 1995, a few countries of birth.
    expect(count(Array.from(field('mig_chg_msa').ids, (id) => +(id === 0)))).toBe(49946);
    expect(count(Array.from(field('country_father').ids, (id) => +(id === 0)))).toBe(3429);
    expect(field('sex').values).toEqual(['?', 'Female', 'Male']);
    expect(field('det_ind_code').values.slice(0, 4)).toEqual(['?', '0', '1', '2']); // numeric codes in numeric order
    expect(field('age_bucket').values).toEqual(['?', '<18', '18-24', '25-29', '30-34', '35-39', '40-44', '45-49', '50-54', '55-64', '65+']);
    // Row 0: age 38, female, 1995.
    expect(field('age_bucket').values[field('age_bucket').ids[0]]).toBe('35-39');
    expect(ds.globalId('sex', 'Female')).toBe(field('sex').offset + 1);
    expect(ds.globalId('sex', 'unknown')).toBe(field('sex').offset);
    expect(() => ds.globalId('marital_stat', 'Never married')).toThrow(ArgumentError);
  });

  it('exposes sex and year as domains', () => {
    expect(ds.domains.sex.names).toEqual(['Female', 'Male']);
    expect(ds.domains.year.names).toEqual(['94', '95']);
    expect(count(ds.domains.sex.ids)).toBe(47971); // Male = 1
    expect(count(ds.domains.year.ids)).toBe(49946); // 95 = 1
    expect([ds.domains.sex.ids[0], ds.domains.year.ids[0]]).toEqual([0, 1]);
  });

  it('has 7 dense features, log1p and standardized on the train rows', () => {
    expect(ds.denseNames).toEqual(['age', 'wage_per_hour', 'capital_gains', 'capital_losses', 'stock_dividends', 'num_emp', 'weeks_worked']);
    const D = 7;
    expect(ds.dense.length).toBe(ds.size * D);
    expect(Array.from(ds.denseRaw.subarray(0, D))).toEqual([38, 0, 0, 0, 0, 4, 12]);
    const train = ds.splits.train;
    for (let d = 0; d < D; ++d) {
      let m = 0;
      let v = 0;
      for (const r of train) m += ds.dense[r * D + d];
      m /= train.length;
      for (const r of train) v += (ds.dense[r * D + d] - m) ** 2;
      expect(Math.abs(m)).toBeLessThan(1e-5);
      expect(Math.sqrt(v / train.length)).toBeCloseTo(1, 4);
      expect(ds.dense[d]).toBeCloseTo((Math.log1p(ds.denseRaw[d]) - ds.denseMean[d]) / ds.denseStd[d], 5);
    }
  });
});

describe('CensusIncome.split', () => {
  it('cuts 80/10/10, disjoint and covering, stratified on income, the same for a seed', () => {
    const s = ds.splits;
    expect([s.train.length, s.valid.length, s.test.length]).toEqual([79810, 9977, 9975]);
    const seen = new Uint8Array(ds.size);
    let ascending = true;
    for (const part of [s.train, s.valid, s.test]) {
      for (let i = 0; i < part.length; ++i) {
        seen[part[i]] += 1;
        if (i > 0 && part[i] <= part[i - 1]) ascending = false;
      }
    }
    expect(seen.every((x) => x === 1)).toBe(true);
    expect(ascending).toBe(true);
    for (const part of [s.train, s.valid, s.test]) expect(Math.abs(count(ds.labels.income, part) / part.length - 0.062)).toBeLessThan(0.0002);
    const again = ds.split({ seed: 0 });
    expect(again.test).toEqual(s.test);
    const other = ds.split({ seed: 1 });
    expect(other.test).not.toEqual(s.test);
    expect(other.test.length).toBe(s.test.length);
  });

  it('takes other fractions, another label to stratify on, or none', () => {
    const s = ds.split({ train: 0.5, valid: 0.25, seed: 3, stratifyBy: 'neverMarried' });
    expect(s.train.length + s.valid.length + s.test.length).toBe(ds.size);
    expect(Math.abs(s.test.length - ds.size / 4)).toBeLessThanOrEqual(2); // rounded per stratum
    for (const part of [s.train, s.valid, s.test]) expect(Math.abs(count(ds.labels.neverMarried, part) / part.length - 0.4325)).toBeLessThan(0.0002);
    const plain = ds.split({ seed: 3, stratifyBy: null });
    expect(plain.train.length).toBe(Math.round(0.8 * ds.size));
  });

  it('withSplit standardizes on the new train rows', () => {
    const other = ds.withSplit({ train: 0.5, valid: 0.5, test: 0, seed: 9 });
    expect(other.splits.test.length).toBe(0);
    expect(other.denseMean[0]).not.toBe(ds.denseMean[0]);
    expect(Math.abs(other.denseMean[0] - ds.denseMean[0])).toBeLessThan(0.02);
    expect(other.categorical).toBe(ds.categorical); // the columns are shared
  });

  it('names bad options', () => {
    expect(() => ds.split({ train: 0.9, valid: 0.2 })).toThrow('Expected fractions summing to 1 for options.train, .valid and .test but received 0.9 + 0.2 + 0');
    expect(() => ds.split({ train: 1.5 })).toThrow('Expected a number from 0 to 1 for options.train but received 1.5 of type number');
    expect(() => ds.split({ seed: -1 })).toThrow('Expected an integer from 0 to 9007199254740991 for options.seed but received -1 of type number');
    expect(() => ds.split({ stratifyBy: 'marital' as never })).toThrow("Expected one of 'income', 'neverMarried' for options.stratifyBy but received 'marital' of type string");
    expect(() => ds.split({ tran: 0.8 } as never)).toThrow('Unknown option options.tran');
  });
});

describe('stratifiedSplit', () => {
  it('keeps each stratum in proportion and checks its inputs', () => {
    const strata = Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const s = stratifiedSplit(1000, strata, { train: 0.6, valid: 0.2, test: 0.2, seed: 4 });
    expect([s.train.length, s.valid.length, s.test.length]).toEqual([600, 200, 200]);
    expect([count(strata, s.train), count(strata, s.valid), count(strata, s.test)]).toEqual([60, 20, 20]);
    expect(stratifiedSplit(1000, strata, { seed: 4 })).toEqual(stratifiedSplit(1000, strata, { seed: 4 }));
    expect(() => stratifiedSplit(3, [0, 1], {})).toThrow('Expected 3 stratum ids (one per row) for strata');
    expect(() => stratifiedSplit(2, [0, 0.5], {})).toThrow('for strata[1] but received 0.5');
  });
});

describe('CensusIncome.batch', () => {
  it('gives global ids (B·F), dense (B, 7) and labels (B, 2) that plug into EmbeddingTable.lookup', () => {
    const rows = [5, 0, 99761, 5];
    const b = tidy(() => {
      const out = ds.batch(rows, { device: 'cpu', domain: 'year' });
      const F = ds.fieldNames.length;
      expect(out.size).toBe(4);
      expect(out.numFields).toBe(F);
      expect(out.ids).toBeInstanceOf(BigInt64Array);
      expect(out.ids.length).toBe(4 * F);
      rows.forEach((r, i) => {
        ds.categorical.forEach((f, j) => expect(out.ids[i * F + j]).toBe(BigInt(f.offset + f.ids[r])));
      });
      for (const id of out.ids) expect(id >= 0n && id < BigInt(ds.numEmbeddings)).toBe(true);
      expect(out.dense.shape).toEqual([4, 7]);
      expect(out.dense.dtype).toBe('float32');
      expect(out.labels.shape).toEqual([4, 2]);
      expect(out.labels.dtype).toBe('float32');
      expect(out.dense.values().slice(7, 14)).toEqual(Array.from(ds.dense.subarray(0, 7)));
      expect(out.labels.values()).toEqual(rows.flatMap((r) => [ds.labels.income[r], ds.labels.neverMarried[r]]));
      expect(Array.from(out.domain)).toEqual(rows.map((r) => ds.domains.year.ids[r]));
      expect(Array.from(out.rows)).toEqual(rows);
      const table = new EmbeddingTable({ dim: 3, capacity: 2 * ds.numEmbeddings, device: 'cpu', seed: 1 });
      const e = table.lookup(out.ids);
      expect(e.shape).toEqual([4 * F, 3]);
      expect(e.reshape(4, F * 3).shape).toEqual([4, 3 * F]);
      table.dispose();
      return out;
    });
    expect(b.dense.disposed).toBe(false);
    b.dense.dispose();
    b.labels.dispose();
  });

  it('takes a subset of fields, keeping the global ids', () => {
    tidy(() => {
      const b = ds.batch(new Int32Array([1, 2]), { fields: ['year', 'sex'] });
      expect(b.numFields).toBe(2);
      const year = ds.categorical.find((f) => f.name === 'year')!;
      const sex = ds.categorical.find((f) => f.name === 'sex')!;
      expect(Array.from(b.ids)).toEqual([1, 2].flatMap((r) => [BigInt(year.offset + year.ids[r]), BigInt(sex.offset + sex.ids[r])]));
      expect(Array.from(b.domain)).toEqual([ds.domains.sex.ids[1], ds.domains.sex.ids[2]]);
      expect(ds.batch([]).size).toBe(0);
    });
  });

  it('names bad rows and options', () => {
    expect(() => ds.batch([0, 99762])).toThrow('Expected a row index from 0 to 99761 for rows[1] but received 99762 of type number');
    expect(() => ds.batch([0.5])).toThrow('for rows[0] but received 0.5');
    expect(() => ds.batch('0' as never)).toThrow("Expected row indices as an Int32Array, a Uint32Array or an array of integers for rows but received '0' of type string");
    expect(() => ds.batch([0], { fields: ['marital_stat'] })).toThrow("for options.fields[0] but received 'marital_stat' of type string");
    expect(() => ds.batch([0], { fields: ['sex', 'sex'] })).toThrow('Expected distinct field names for options.fields');
    expect(() => ds.batch([0], { domain: 'race' as never })).toThrow("Expected one of 'sex', 'year' for options.domain but received 'race' of type string");
    expect(() => ds.batch([0], { device: 'tpu' as never })).toThrow("Expected one of 'cpu', 'cuda' for options.device");
  });
});

describe('loadCensusIncome: other files', () => {
  it('reads a plain or gzipped file given by path, synchronously or not, with the same vocabulary order', async () => {
    const text = head(300);
    const plain = loadCensusIncomeSync({ path: tmpFile('head.csv', text), split: { seed: 2 } });
    const gz = await loadCensusIncome({ path: tmpFile('head.csv.gz', zlib.gzipSync(text)), split: { seed: 2 } });
    for (const d of [plain, gz]) {
      expect(d.size).toBe(300);
      expect(d.fieldNames).toEqual(ds.fieldNames);
      expect(count(d.labels.income)).toBe(count(ds.labels.income.subarray(0, 300)));
      expect(d.denseRaw).toEqual(ds.denseRaw.subarray(0, 300 * 7));
    }
    expect(gz.dense).toEqual(plain.dense);
    expect(gz.splits).toEqual(plain.splits);
    // Ids differ from the full file's (fewer values) but decode to the same values.
    const f = plain.categorical[3];
    const full = ds.categorical[3];
    for (let i = 0; i < 300; ++i) expect(f.values[f.ids[i]]).toBe(full.values[full.ids[i]]);
  });

  it('refuses malformed lines with their line number', () => {
    const lines = head(3).split('\n');
    const short = tmpFile('short.csv', [lines[0], lines[1].split(',').slice(0, 41).join(','), ''].join('\n'));
    expect(() => loadCensusIncomeSync({ path: short })).toThrow(FormatError);
    expect(() => loadCensusIncomeSync({ path: short })).toThrow('short.csv: line 2: expected 42 comma-separated values but found 41');
    const badAge = tmpFile('age.csv', lines[0].replace(/^38,/, 'old,') + '\n');
    expect(() => loadCensusIncomeSync({ path: badAge })).toThrow("age.csv: line 1: expected a non-negative number or '?' in column 0 (age) but found 'old'");
    const badLabel = tmpFile('label.csv', lines[0].replace(/- 50000\.$/, 'rich') + '\n');
    expect(() => loadCensusIncomeSync({ path: badLabel })).toThrow("label.csv: line 1: expected '- 50000.' or '50000+.' in column 41 (income_50k) but found 'rich'");
  });

  it('names bad options and passes file-system errors through', async () => {
    expect(() => loadCensusIncomeSync({ path: 3 as never })).toThrow('Expected a file path for options.path but received 3 of type number');
    expect(() => loadCensusIncomeSync({ file: 'x' } as never)).toThrow('Unknown option options.file');
    await expect(loadCensusIncome({ split: { train: 2 } })).rejects.toThrow('for options.split.train but received 2');
    await expect(loadCensusIncome({ path: '/nonexistent/census.gz' })).rejects.toThrow(/ENOENT/);
  });
});

describe('a sanity model', () => {
  it('one-hot logistic regression (a dim-2 EmbeddingTable summed over fields + a Linear on dense) ranks both tasks well', () => {
    manualSeed(1);
    const F = ds.fieldNames.length;
    const table = new EmbeddingTable({ dim: 2, capacity: 2 * ds.numEmbeddings, device: 'cpu', init: 'zeros', optimizer: { kind: 'adagrad', lr: 0.1 } });
    const dense = new Linear(ds.denseNames.length, 2, { rng: new Rng(3) });
    const opt = new OptimizerSet([new SparseOptimizer(table), new Adam(dense.parameters(), { lr: 0.01 })]);
    const forward = (rows: ArrayLike<number>) => {
      const b = ds.batch(rows, { device: 'cpu' });
      const z = sum(table.lookup(b.ids).reshape(b.size, F, 2), 1).add(dense.forward(b.dense));
      return { z, y: b.labels };
    };
    const rng = new Rng(7);
    const order = ds.splits.train.slice();
    for (let epoch = 0; epoch < 3; ++epoch) {
      rng.shuffle(order);
      for (let s = 0; s < order.length; s += 256) {
        tidy(() => {
          const { z, y } = forward(order.subarray(s, s + 256));
          opt.zeroGrad();
          bceWithLogits(z, y).backward();
          opt.step();
        });
      }
    }
    table.eval();
    const test = ds.splits.test;
    const z = tidy(() => forward(test).z.toArraySync() as Float32Array);
    const income = auc(z.filter((_, i) => i % 2 === 0), Array.from(test, (r) => ds.labels.income[r]));
    const marital = auc(z.filter((_, i) => i % 2 === 1), Array.from(test, (r) => ds.labels.neverMarried[r]));
    // Measured: 0.939 and 0.994 (baselines in data/census-income/README.md).
    expect(income).toBeGreaterThan(0.9);
    expect(marital).toBeGreaterThan(0.98);
    table.dispose();
  });
});
