/**
 * The UCI Census-Income (KDD) data, the MMoE paper's multi-task benchmark, shipped with
 * gatewise (data/census-income/: the official test half, 99,762 rows, CC BY 4.0; see that
 * folder's README for attribution and the column list).
 *
 * This census-specific loader serves the examples (examples/census-*.ts) and their tests; it
 * is not part of the library. The library reads the same file through a config and the
 * general readers (configs/census-*.json: a schema and a `data` section, `gatewise train`).
 *
 * Two tasks: `income` (income > 50K, 6.20 % positive) and `neverMarried` (marital status
 * "Never married", 43.25 %). Their source columns (income_50k, marital_stat) and the CPS
 * sampling weight (instance_weight) are never features.
 *
 * The data come as columns:
 * - 34 categorical fields: the 33 categorical columns (num_emp, own_or_self, vet_benefits,
 *   year and the coded industry/occupation columns included) and `age_bucket` (age cut into
 *   10 ranges), each value a local id (0 = missing or unknown, `?` in the file), and one
 *   global id space over all fields (global = field offset + local id) so that a single
 *   `EmbeddingTable` serves every field;
 * - 7 dense features: age, wage_per_hour, capital_gains, capital_losses, stock_dividends,
 *   num_emp, weeks_worked, as log1p(x) standardized with the mean and standard deviation of
 *   the train rows of `splits` only (so no statistic of the valid or test rows leaks in);
 * - the labels, two domain fields (`sex`, `year`) as 0-based domain ids, and the sampling
 *   weight.
 *
 * `batch(rows)` turns rows into what a model eats: ids for `EmbeddingTable.lookup`, a dense
 * (B, 7) tensor and a (B, 2) label tensor.
 *
 * The vocabularies are built from the whole file read (labels play no part in them), so a
 * value seen only in the valid or test rows still has an id; an EmbeddingTable in eval mode
 * reads its default row for an id it never trained.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Device, FormatError, RowSplit, SplitFractions, Tensor, tensor } from '../../lib';
import { packageRoot } from '../../lib/native';
import { checkKnownKeys, checkOneOf, checkOptions, invalid } from '../../lib/validate';
import { ResolvedSplit, resolveSplit, splitResolved } from '../../lib/data/split';

/** The two tasks, in the order of the label tensor's columns. */
export const CENSUS_TASKS = ['income', 'neverMarried'] as const;
export type CensusTask = (typeof CENSUS_TASKS)[number];

/** Fields that can serve as the domain (scenario) of a multi-domain model. */
export const CENSUS_DOMAINS = ['sex', 'year'] as const;
export type CensusDomain = (typeof CENSUS_DOMAINS)[number];

/** The 42 columns of the file, in order (names as in keras-mmoe). */
export const CENSUS_COLUMNS = [
  'age', 'class_worker', 'det_ind_code', 'det_occ_code', 'education', 'wage_per_hour', 'hs_college', 'marital_stat',
  'major_ind_code', 'major_occ_code', 'race', 'hisp_origin', 'sex', 'union_member', 'unemp_reason', 'full_or_part_emp',
  'capital_gains', 'capital_losses', 'stock_dividends', 'tax_filer_stat', 'region_prev_res', 'state_prev_res',
  'det_hh_fam_stat', 'det_hh_summ', 'instance_weight', 'mig_chg_msa', 'mig_chg_reg', 'mig_move_reg', 'mig_same',
  'mig_prev_sunbelt', 'num_emp', 'fam_under_18', 'country_father', 'country_mother', 'country_self', 'citizenship',
  'own_or_self', 'vet_question', 'vet_benefits', 'weeks_worked', 'year', 'income_50k',
] as const;

const COL = Object.fromEntries(CENSUS_COLUMNS.map((c, i) => [c, i])) as Record<(typeof CENSUS_COLUMNS)[number], number>;
const INCOME_COL = COL.income_50k;
const MARITAL_COL = COL.marital_stat;
const WEIGHT_COL = COL.instance_weight;
/** Columns read as numbers: log1p-standardized into `dense`. */
const DENSE_COLS = [COL.age, COL.wage_per_hour, COL.capital_gains, COL.capital_losses, COL.stock_dividends, COL.num_emp, COL.weeks_worked];
/** Every column that is neither a label source, the sampling weight, nor purely numeric. */
const NOT_CATEGORICAL = new Set([COL.age, COL.wage_per_hour, COL.capital_gains, COL.capital_losses, COL.stock_dividends, COL.weeks_worked, WEIGHT_COL, MARITAL_COL, INCOME_COL]);
const CATEGORICAL_COLS = CENSUS_COLUMNS.map((_, i) => i).filter((i) => !NOT_CATEGORICAL.has(i));
/** Lower edges of the age buckets after the first ('<18'). */
const AGE_EDGES = [18, 25, 30, 35, 40, 45, 50, 55, 65];
const AGE_BUCKETS = ['<18', '18-24', '25-29', '30-34', '35-39', '40-44', '45-49', '50-54', '55-64', '65+'];
const MISSING = '?';
const INCOME_VALUES: Record<string, number> = { '- 50000.': 0, '50000+.': 1 };

/** The bundled file: data/census-income/census-income.test.gz under the package root. */
export function censusIncomePath(): string {
  return path.join(packageRoot(), 'data', 'census-income', 'census-income.test.gz');
}

/** One categorical field. */
export interface CategoricalField {
  /** The column's name, or `age_bucket`. */
  readonly name: string;
  /** The column in the file (0-based), or -1 for the derived `age_bucket`. */
  readonly column: number;
  /** `values[id]` is the value of local id `id`; `values[0]` is `'?'` (missing or unknown). Sorted (numbers numerically), age buckets by age. */
  readonly values: readonly string[];
  /** value → local id. */
  readonly index: ReadonlyMap<string, number>;
  /** The field's first global id: global id = offset + local id. */
  readonly offset: number;
  /** Local id of each row. */
  readonly ids: Int32Array;
}

/** A domain field: 0-based domain ids per row and their names. */
export interface CensusDomainIds {
  /** `names[d]` is the value of domain id d (e.g. 'Female', 'Male'; '94', '95'). */
  readonly names: readonly string[];
  /** Domain id of each row, from 0 to names.length − 1. */
  readonly ids: Int32Array;
}

/** Options of {@link loadCensusIncome}. */
export interface CensusIncomeOptions {
  /**
   * The file to read (default: the bundled test half, {@link censusIncomePath}). Gzipped or
   * not; the same 42-column format, e.g. the official train file census-income.data.gz.
   */
  path?: string;
  /**
   * The split kept as `splits`, whose train rows standardize the dense features (default
   * `{ train: 0.8, valid: 0.1, test: 0.1, seed: 0, stratifyBy: 'income' }`).
   */
  split?: CensusSplitOptions;
}

/** A seeded train/valid/test split of the rows. */
export interface CensusSplitOptions extends SplitFractions {
  /** Keep this label's rate in every part (default 'income'); null: a plain random split. */
  stratifyBy?: CensusTask | null;
}

/** Options of {@link CensusIncome.batch}. */
export interface CensusBatchOptions {
  /** Device of the dense and label tensors (default: the current backend's). */
  device?: Device;
  /** Categorical fields in `ids`, by name and in this order (default: all, as `fieldNames`). Global ids do not change. */
  fields?: readonly string[];
  /** The domain field whose ids come with the batch (default 'sex'). */
  domain?: CensusDomain;
}

/** A batch of B rows, ready for a model. */
export interface CensusBatch {
  /** The rows, in the order given. */
  rows: Int32Array;
  /** B. */
  size: number;
  /** F: the categorical fields per row in `ids`. */
  numFields: number;
  /** Global ids, row-major (B, F): `ids[b·F + f]`; hand it to `EmbeddingTable.lookup` and reshape its (B·F, dim) output to (B, F·dim). */
  ids: BigInt64Array;
  /** (B, 7) float32: the standardized dense features, columns as `denseNames`. */
  dense: Tensor;
  /** (B, 2) float32: columns income, neverMarried (`CENSUS_TASKS`). */
  labels: Tensor;
  /** (B) the chosen domain field's 0-based ids. */
  domain: Int32Array;
}

/** The columns of a parsed file, before any split. */
interface Columns {
  size: number;
  categorical: CategoricalField[];
  denseRaw: Float32Array;
  income: Uint8Array;
  neverMarried: Uint8Array;
  instanceWeight: Float32Array;
}

/** The parsed data set (see the file's header). Build it with {@link loadCensusIncome}. */
export class CensusIncome {
  /** Rows. */
  readonly size: number;
  /** The categorical fields, in global-id order. */
  readonly categorical: readonly CategoricalField[];
  /** Their names. */
  readonly fieldNames: readonly string[];
  /** Global ids in all: every global id is in [0, numEmbeddings). An EmbeddingTable that keeps them all needs about twice this capacity (its buckets fill unevenly). */
  readonly numEmbeddings: number;
  /** Names of the dense features (columns of `dense`). */
  readonly denseNames: readonly string[];
  /** (size × 7) the dense columns as read (before log1p); NaN where missing. */
  readonly denseRaw: Float32Array;
  /** (size × 7) log1p(x), then (· − mean) / std with `denseMean` and `denseStd`; a missing value is 0. */
  readonly dense: Float32Array;
  /** Mean of log1p(x) over the train rows of `splits`, per dense feature. */
  readonly denseMean: Float64Array;
  /** Standard deviation (population) of log1p(x) over the train rows of `splits`; 1 where it is 0. */
  readonly denseStd: Float64Array;
  /** 0/1 labels per row. */
  readonly labels: Readonly<Record<CensusTask, Uint8Array>>;
  /** The domain fields. */
  readonly domains: Readonly<Record<CensusDomain, CensusDomainIds>>;
  /** The CPS sampling weight (column 24): never a feature; for population-weighted statistics. */
  readonly instanceWeight: Float32Array;
  /** The split given at load (or to `withSplit`); its train rows standardized `dense`. */
  readonly splits: RowSplit;
  private readonly cols: Columns;
  private globalIds: BigInt64Array | null = null;

  /** @internal use {@link loadCensusIncome}. */
  constructor(cols: Columns, split: CensusSplitOptions | undefined) {
    this.cols = cols;
    this.size = cols.size;
    this.categorical = cols.categorical;
    this.fieldNames = cols.categorical.map((f) => f.name);
    const last = cols.categorical[cols.categorical.length - 1];
    this.numEmbeddings = last.offset + last.values.length;
    this.denseNames = DENSE_COLS.map((c) => CENSUS_COLUMNS[c]);
    this.denseRaw = cols.denseRaw;
    this.labels = { income: cols.income, neverMarried: cols.neverMarried };
    this.instanceWeight = cols.instanceWeight;
    const domain = (name: CensusDomain): CensusDomainIds => {
      const f = cols.categorical.find((c) => c.name === name)!;
      const ids = new Int32Array(this.size);
      for (let i = 0; i < ids.length; ++i) {
        if (f.ids[i] === 0) throw new FormatError(`census-income: row ${i} has no value for the domain field ${name}`);
        ids[i] = f.ids[i] - 1;
      }
      return { names: f.values.slice(1), ids };
    };
    this.domains = { sex: domain('sex'), year: domain('year') };
    this.splits = this.splitRows(split, 'options.split');
    const { dense, mean, std } = standardize(cols.denseRaw, DENSE_COLS.length, this.splits.train);
    this.dense = dense;
    this.denseMean = mean;
    this.denseStd = std;
  }

  /**
   * A seeded split of the rows, stratified on a label by default: deterministic for a seed.
   * Each part's rows are ascending. Fractions default to 0.8 / 0.1 / 0.1.
   */
  split(options: CensusSplitOptions = {}): RowSplit {
    return this.splitRows(options, 'options');
  }

  private splitRows(options: CensusSplitOptions | undefined, name: string): RowSplit {
    const { split, by } = resolveCensusSplit(options, name);
    return splitResolved(this.size, by === null ? null : this.labels[by], split);
  }

  /** The same data with another split kept as `splits`, the dense features standardized on its train rows. */
  withSplit(options: CensusSplitOptions): CensusIncome {
    return new CensusIncome(this.cols, options);
  }

  /** The global id of `value` in field `field` (the field's missing id, its offset, for an unknown value). */
  globalId(field: string, value: string): number {
    const f = this.categorical.find((c) => c.name === field);
    if (!f) throw invalid(`a categorical field name (one of ${this.fieldNames.join(', ')})`, 'field', field);
    return f.offset + (f.index.get(value) ?? 0);
  }

  /**
   * The rows as model input: global ids for an EmbeddingTable (B·F, row-major (B, F)), the
   * dense features (B, 7) and the labels (B, 2) as float32 tensors, and the domain ids. The
   * tensors belong to the caller (free them with `tidy` or `dispose`).
   */
  batch(rows: ArrayLike<number>, options: CensusBatchOptions = {}): CensusBatch {
    const o = checkOptions(options, 'options');
    checkKnownKeys(o, 'options', ['device', 'fields', 'domain']);
    const device = o.device === undefined ? undefined : checkOneOf(o.device, 'options.device', ['cpu', 'cuda'] as const);
    const domain = checkOneOf(o.domain ?? 'sex', 'options.domain', CENSUS_DOMAINS);
    const fields = o.fields === undefined ? null : this.fieldIndices(o.fields);
    const r = this.checkRows(rows);
    const B = r.length;
    const F = fields === null ? this.categorical.length : fields.length;
    const ids = new BigInt64Array(B * F);
    if (fields === null) {
      const all = this.allGlobalIds();
      for (let b = 0; b < B; ++b) ids.set(all.subarray(r[b] * F, r[b] * F + F), b * F);
    } else {
      for (let b = 0; b < B; ++b) {
        for (let j = 0; j < F; ++j) {
          const f = this.categorical[fields[j]];
          ids[b * F + j] = BigInt(f.offset + f.ids[r[b]]);
        }
      }
    }
    const D = DENSE_COLS.length;
    const dense = new Float32Array(B * D);
    const labels = new Float32Array(B * 2);
    const dom = new Int32Array(B);
    const domainIds = this.domains[domain].ids;
    for (let b = 0; b < B; ++b) {
      dense.set(this.dense.subarray(r[b] * D, r[b] * D + D), b * D);
      labels[2 * b] = this.labels.income[r[b]];
      labels[2 * b + 1] = this.labels.neverMarried[r[b]];
      dom[b] = domainIds[r[b]];
    }
    return {
      rows: r,
      size: B,
      numFields: F,
      ids,
      dense: tensor(dense, { shape: [B, D], device }),
      labels: tensor(labels, { shape: [B, 2], device }),
      domain: dom,
    };
  }

  private checkRows(rows: ArrayLike<number>): Int32Array {
    if (!(Array.isArray(rows) || rows instanceof Int32Array || rows instanceof Uint32Array)) {
      throw invalid('row indices as an Int32Array, a Uint32Array or an array of integers', 'rows', rows);
    }
    const r = Int32Array.from(rows);
    for (let i = 0; i < r.length; ++i) {
      const v = rows[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.size) throw invalid(`a row index from 0 to ${this.size - 1}`, `rows[${i}]`, v);
    }
    return r;
  }

  private fieldIndices(fields: readonly string[]): number[] {
    if (!Array.isArray(fields)) throw invalid('an array of categorical field names', 'options.fields', fields);
    const out = fields.map((name, i) => {
      const k = this.fieldNames.indexOf(name);
      if (k < 0) throw invalid(`a categorical field name (one of ${this.fieldNames.join(', ')})`, `options.fields[${i}]`, name);
      return k;
    });
    if (new Set(out).size !== out.length) throw invalid('distinct field names', 'options.fields', fields);
    return out;
  }

  /** (size × F) global ids, row-major, made on the first batch: a batch copies rows of it. */
  private allGlobalIds(): BigInt64Array {
    if (this.globalIds === null) {
      const F = this.categorical.length;
      const all = new BigInt64Array(this.size * F);
      this.categorical.forEach((f, j) => {
        for (let i = 0; i < this.size; ++i) all[i * F + j] = BigInt(f.offset + f.ids[i]);
      });
      this.globalIds = all;
    }
    return this.globalIds;
  }
}

/** Checks a split's options: the fractions and seed, and the label to stratify on (default 'income'). */
function resolveCensusSplit(options: CensusSplitOptions | undefined, name: string): { split: ResolvedSplit; by: CensusTask | null } {
  const o = checkOptions(options, name);
  const split = resolveSplit(o, name, ['stratifyBy']);
  const by = o.stratifyBy === undefined ? 'income' : o.stratifyBy === null ? null : checkOneOf(o.stratifyBy, `${name}.stratifyBy`, CENSUS_TASKS);
  return { split, by };
}

/** log1p, then standardize each column with the mean and std of the `train` rows; missing (NaN) → 0. */
function standardize(raw: Float32Array, D: number, train: Int32Array): { dense: Float32Array; mean: Float64Array; std: Float64Array } {
  const n = raw.length / D;
  const mean = new Float64Array(D);
  const sq = new Float64Array(D);
  const count = new Float64Array(D);
  for (const r of train) {
    for (let d = 0; d < D; ++d) {
      const x = Math.log1p(raw[r * D + d]);
      if (Number.isNaN(x)) continue;
      mean[d] += x;
      sq[d] += x * x;
      count[d] += 1;
    }
  }
  const std = new Float64Array(D);
  for (let d = 0; d < D; ++d) {
    mean[d] = count[d] > 0 ? mean[d] / count[d] : 0;
    const v = count[d] > 0 ? sq[d] / count[d] - mean[d] * mean[d] : 0;
    std[d] = v > 1e-12 ? Math.sqrt(v) : 1;
  }
  const dense = new Float32Array(n * D);
  for (let i = 0; i < n; ++i) {
    for (let d = 0; d < D; ++d) {
      const x = Math.log1p(raw[i * D + d]);
      dense[i * D + d] = Number.isNaN(x) ? 0 : (x - mean[d]) / std[d];
    }
  }
  return { dense, mean, std };
}

/** Numbers first, numerically; then strings in code-unit order (locale-free, so ids never depend on the machine). */
function compareValues(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  const nx = a !== '' && Number.isFinite(x);
  const ny = b !== '' && Number.isFinite(y);
  if (nx && ny) return x - y || (a < b ? -1 : a > b ? 1 : 0);
  if (nx !== ny) return nx ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function ageBucket(age: number): number {
  let k = 0;
  while (k < AGE_EDGES.length && age >= AGE_EDGES[k]) ++k;
  return k + 1; // 0 is missing
}

/** @internal parses the text of the file into columns. */
export function parseCensusIncome(text: string, source = 'census-income'): Columns {
  const lines = text.split('\n');
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  const n = lines.length;
  const C = CATEGORICAL_COLS.length;
  const D = DENSE_COLS.length;
  // Local ids in order of first sight while reading; renumbered in sorted order below.
  const seen: Map<string, number>[] = CATEGORICAL_COLS.map(() => new Map([[MISSING, 0]]));
  const catIds: Int32Array[] = CATEGORICAL_COLS.map(() => new Int32Array(n));
  const ageIds = new Int32Array(n);
  const denseRaw = new Float32Array(n * D);
  const income = new Uint8Array(n);
  const neverMarried = new Uint8Array(n);
  const instanceWeight = new Float32Array(n);
  const fail = (i: number, what: string) => new FormatError(`${source}: line ${i + 1}: ${what}`);

  for (let i = 0; i < n; ++i) {
    const v = lines[i].split(',');
    if (v.length !== CENSUS_COLUMNS.length) throw fail(i, `expected ${CENSUS_COLUMNS.length} comma-separated values but found ${v.length}`);
    for (let k = 0; k < v.length; ++k) v[k] = v[k].trim();
    for (let j = 0; j < C; ++j) {
      const map = seen[j];
      const s = v[CATEGORICAL_COLS[j]];
      let id = map.get(s);
      if (id === undefined) {
        id = map.size;
        map.set(s, id);
      }
      catIds[j][i] = id;
    }
    for (let d = 0; d < D; ++d) {
      const s = v[DENSE_COLS[d]];
      const x = s === MISSING ? NaN : Number(s);
      if (s !== MISSING && (s === '' || !Number.isFinite(x) || x < 0)) throw fail(i, `expected a non-negative number or '?' in column ${DENSE_COLS[d]} (${CENSUS_COLUMNS[DENSE_COLS[d]]}) but found '${s}'`);
      denseRaw[i * D + d] = x;
    }
    ageIds[i] = Number.isNaN(denseRaw[i * D]) ? 0 : ageBucket(denseRaw[i * D]);
    const inc = INCOME_VALUES[v[INCOME_COL]];
    if (inc === undefined) throw fail(i, `expected '- 50000.' or '50000+.' in column ${INCOME_COL} (income_50k) but found '${v[INCOME_COL]}'`);
    income[i] = inc;
    if (v[MARITAL_COL] === MISSING || v[MARITAL_COL] === '') throw fail(i, `the marital status (column ${MARITAL_COL}) is missing`);
    neverMarried[i] = v[MARITAL_COL] === 'Never married' ? 1 : 0;
    instanceWeight[i] = Number(v[WEIGHT_COL]);
  }

  const categorical: CategoricalField[] = [];
  let offset = 0;
  CATEGORICAL_COLS.forEach((column, j) => {
    const firstSight = [...seen[j].keys()];
    const values = [MISSING, ...firstSight.filter((s) => s !== MISSING).sort(compareValues)];
    const index = new Map(values.map((s, id) => [s, id]));
    const renumber = Int32Array.from(firstSight, (s) => index.get(s)!);
    const ids = catIds[j];
    for (let i = 0; i < n; ++i) ids[i] = renumber[ids[i]];
    categorical.push({ name: CENSUS_COLUMNS[column], column, values, index, offset, ids });
    offset += values.length;
  });
  const ageValues = [MISSING, ...AGE_BUCKETS];
  categorical.push({ name: 'age_bucket', column: -1, values: ageValues, index: new Map(ageValues.map((s, id) => [s, id])), offset, ids: ageIds });
  return { size: n, categorical, denseRaw, income, neverMarried, instanceWeight };
}

function isGzip(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

function resolveLoad(options: CensusIncomeOptions | undefined): { file: string; split: CensusSplitOptions | undefined } {
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['path', 'split']);
  if (o.path !== undefined && (typeof o.path !== 'string' || o.path === '')) throw invalid('a file path', 'options.path', o.path);
  resolveCensusSplit(o.split, 'options.split'); // fail before reading the file
  return { file: o.path ?? censusIncomePath(), split: o.split };
}

/**
 * Reads and parses the data (about half a second for the bundled file); gunzip runs off the
 * event loop, parsing on it.
 *
 * @throws FormatError when a line is malformed; ArgumentError for bad options; the file
 *   system's error when the file cannot be read.
 */
export async function loadCensusIncome(options?: CensusIncomeOptions): Promise<CensusIncome> {
  const { file, split } = resolveLoad(options);
  const buf = await fs.promises.readFile(file);
  const text = (isGzip(buf) ? await promisify(zlib.gunzip)(buf) : buf).toString('latin1');
  return new CensusIncome(parseCensusIncome(text, path.basename(file)), split);
}

/** {@link loadCensusIncome}, synchronously. */
export function loadCensusIncomeSync(options?: CensusIncomeOptions): CensusIncome {
  const { file, split } = resolveLoad(options);
  const buf = fs.readFileSync(file);
  const text = (isGzip(buf) ? zlib.gunzipSync(buf) : buf).toString('latin1');
  return new CensusIncome(parseCensusIncome(text, path.basename(file)), split);
}
