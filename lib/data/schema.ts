/**
 * A declared schema for tabular training data: which columns are ids (single-hot, multi-hot
 * bags, ordered sequences), dense floats, labels (one per task), the domain (scenario) and
 * the sample weight. {@link defineSchema} validates a spec once; the readers and
 * {@link batches} then read rows with it.
 */
import { ArgumentError } from '../errors';
import { checkBoolean, checkKnownKeys, checkNumber, checkOneOf, checkOptions, invalid } from '../validate';
import { needsFit, NumericOptions, NumericSpec, resolveNumericSpec } from './numeric-spec';
import type { NumericState } from './numeric-stats';
import { checkNumericState, NumericPlan } from './numeric-transform';

/** The kinds of field, in the order a {@link FieldSpec} lists them. */
export const FIELD_KINDS = ['sparse', 'multi', 'sequence', 'dense', 'label', 'domain', 'weight'] as const;
/** One of {@link FIELD_KINDS}: what a column is and how batches carry it. */
export type FieldKind = (typeof FIELD_KINDS)[number];

/** A single-hot id. */
export interface SparseField {
  /** The column's name (a CSV header or a JSON key). */
  name: string;
  /** The field's kind. */
  kind: 'sparse';
  /** Hash values to int64 ids with {@link hashId} (default true); false: values must be integers, read exactly as int64. */
  hash?: boolean;
  /** The value of a missing (empty, null, absent) cell (default: none, a missing value is a row error). */
  default?: string | number;
}
/** A multi-hot bag of ids (order does not matter). */
export interface MultiField {
  /** The column's name (a CSV header or a JSON key). */
  name: string;
  /** The field's kind. */
  kind: 'multi';
  /** Separator of the ids in a text cell (default '|'); JSONL may give an array instead. */
  separator?: string;
  /** Keep at most the first maxLength ids of a bag (default: all). */
  maxLength?: number;
  /** As {@link SparseField.hash} (default true). */
  hash?: boolean;
}
/** Ordered ids, oldest first; the most recent maxLength are kept and batches pad them to maxLength. */
export interface SequenceField {
  /** The column's name (a CSV header or a JSON key). */
  name: string;
  /** The field's kind. */
  kind: 'sequence';
  /** Separator of the ids in a text cell (default '|'). */
  separator?: string;
  /** The padded length; longer sequences keep their last (most recent) maxLength ids. Required. */
  maxLength: number;
  /** As {@link SparseField.hash} (default true). */
  hash?: boolean;
}
/**
 * A numeric feature. Its value is read as a number, transformed, clipped and normalized with
 * statistics of the training rows (fitted by the training job, or `fitNumericStats`), and
 * enters the network as a dense column; bucketized, it also (or only) becomes an id looked up
 * in the shared embedding table. See README, "Numeric fields", for the defaults and for
 * missing values.
 */
export interface DenseField extends NumericOptions {
  /** The column's name (a CSV header or a JSON key). */
  name: string;
  /** The field's kind. */
  kind: 'dense';
  /** The value of a missing cell, treated as if read (default: none; a missing value is a row error, or the missing bucket of a bucketized field). */
  default?: number;
}
/** A label: one per task, 0/1 or real. A missing label is masked out (labelMask 0), not an error. */
export interface LabelField {
  /** The column's name (a CSV header or a JSON key). */
  name: string;
  /** The field's kind. */
  kind: 'label';
  /** The task's name (default: the field's name). */
  task?: string;
  /** Read a categorical label: a value in this list (compared trimmed) is 1, any other 0 (default: labels are numbers, or booleans in JSON). */
  positive?: string[];
  /** 'binary' (default: 0/1 labels, BCE on logits, AUC) or 'regression' (real labels, squared error, MSE). */
  objective?: 'binary' | 'regression';
}
/** The domain (scenario) of a row, as a 0-based domain id. A missing domain is a row error. */
export interface DomainField {
  /** The column's name (a CSV header or a JSON key). */
  name: string;
  /** The field's kind. */
  kind: 'domain';
  /** The ordered vocabulary: values[d] has id d and any other value is a row error (default: ids learned in order of first appearance). */
  values?: string[];
  /** Without `values`: the most domains learned; one more is a row error (default 64). */
  maxDomains?: number;
}
/** An optional sample weight (a missing weight is 1). */
export interface WeightField {
  /** The column's name (a CSV header or a JSON key). */
  name: string;
  /** The field's kind. */
  kind: 'weight';
}

/** One column of a {@link Schema}, discriminated by `kind`. */
export type FieldSpec = SparseField | MultiField | SequenceField | DenseField | LabelField | DomainField | WeightField;

/** The columns of tabular training data, as {@link defineSchema} takes them. */
export interface Schema {
  /** The fields, in any order; a column not named here is ignored. */
  fields: FieldSpec[];
  /** Key hashes by field, so equal strings in different fields get different ids (default true). */
  perFieldHash?: boolean;
}

/** A field with every default filled in. */
export interface ResolvedField {
  /** The column's name. */
  readonly name: string;
  /** The field's kind. */
  readonly kind: FieldKind;
  /** Position in schema.fields. */
  readonly index: number;
  /** sparse, multi, sequence: hash values (else parse int64). */
  readonly hash: boolean;
  /** sparse, multi, sequence: the key hashed with the value ('' when perFieldHash is false). */
  readonly hashKey: string;
  /** multi, sequence. */
  readonly separator: string;
  /** multi (Infinity: no limit), sequence. */
  readonly maxLength: number;
  /** sparse, dense: the value of a missing cell, or undefined. */
  readonly default: string | number | undefined;
  /** label: the task. */
  readonly task: string;
  /** label: 'binary' or 'regression'. */
  readonly objective: 'binary' | 'regression';
  /** label: the values read as 1, or null (numeric labels). */
  readonly positive: readonly string[] | null;
  /** dense: the transform applied as values are read ('auto' and 'none' read the value as it is). */
  readonly transform: 'none' | 'log1p';
  /** dense: the numeric treatment (null for other kinds). */
  readonly numeric: NumericSpec | null;
}

const KEYS: Record<FieldKind, readonly string[]> = {
  sparse: ['name', 'kind', 'hash', 'default'],
  multi: ['name', 'kind', 'separator', 'maxLength', 'hash'],
  sequence: ['name', 'kind', 'separator', 'maxLength', 'hash'],
  dense: ['name', 'kind', 'default', 'transform', 'normalize', 'clip', 'bucketize', 'keepValue'],
  label: ['name', 'kind', 'task', 'positive', 'objective'],
  domain: ['name', 'kind', 'values', 'maxDomains'],
  weight: ['name', 'kind'],
};

function positiveInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) throw invalid('a positive integer', name, value);
  return value;
}

function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid('a non-empty string', name, value);
  return value;
}

/** A validated schema; the domain vocabulary it learns is shared by every reader using it. */
export class DataSchema {
  /** Every field, resolved, in the schema's order. */
  readonly fields: readonly ResolvedField[];
  /** Whether id hashes are keyed by field. */
  readonly perFieldHash: boolean;
  /** Task names, in the order of the label columns. */
  readonly tasks: readonly string[];
  /** Each task's objective, in the same order. */
  readonly objectives: readonly ('binary' | 'regression')[];
  /** The dense fields that enter the network as values (all but those bucketized without keepValue), in the order of a batch's dense columns. */
  readonly dense: readonly string[];
  /** Every dense field's name, in the order of a Row's `dense` values. */
  readonly numeric: readonly string[];
  /** Whether a dense field's treatment needs statistics of the training rows (normalization, 'auto', an sd clip, quantile buckets). */
  readonly needsNumericFit: boolean;
  /** The domain field, if any. */
  readonly domain: ResolvedField | null;
  /** The weight field, if any. */
  readonly weight: ResolvedField | null;
  private readonly domainIndex = new Map<string, number>();
  private readonly domainValues: string[] = [];
  /** Whether the domain vocabulary is the schema's `values` (else learned). */
  readonly fixedDomains: boolean;
  /** The most domain ids. */
  readonly maxDomains: number;
  private numericFitted: NumericState | null = null;
  private plan!: NumericPlan;
  /** The bucketized dense fields as single-hot id fields (kind 'sparse', the same names). */
  private readonly bucketFields: ResolvedField[];

  /** @internal use {@link defineSchema}. */
  constructor(spec: Schema) {
    const s = checkOptions(spec, 'schema');
    checkKnownKeys(s, 'schema', ['fields', 'perFieldHash']);
    if (!Array.isArray(s.fields) || s.fields.length === 0) throw invalid('a non-empty array of fields', 'schema.fields', s.fields);
    this.perFieldHash = s.perFieldHash === undefined ? true : checkBoolean(s.perFieldHash, 'schema.perFieldHash');
    const seen = new Map<string, number>();
    const tasks = new Map<string, number>();
    let fixed: string[] | null = null;
    let maxDomains = 64;
    this.fields = s.fields.map((raw, i): ResolvedField => {
      const at = `schema.fields[${i}]`;
      const f = checkOptions(raw as FieldSpec, at) as Partial<FieldSpec> & Record<string, unknown>;
      const kind = checkOneOf(f.kind, `${at}.kind`, FIELD_KINDS);
      checkKnownKeys(f, at, KEYS[kind]);
      const name = nonEmptyString(f.name, `${at}.name`);
      if (seen.has(name)) throw invalid(`a unique field name ('${name}' is also schema.fields[${seen.get(name)}].name)`, `${at}.name`, name);
      seen.set(name, i);
      const idField = kind === 'sparse' || kind === 'multi' || kind === 'sequence';
      const hash = idField && f.hash !== undefined ? checkBoolean(f.hash, `${at}.hash`) : true;
      let maxLength = Infinity;
      if (kind === 'sequence' || (kind === 'multi' && f.maxLength !== undefined)) maxLength = positiveInt(f.maxLength, `${at}.maxLength`);
      const separator = f.separator === undefined ? '|' : nonEmptyString(f.separator, `${at}.separator`);
      let dflt: string | number | undefined;
      if (f.default !== undefined) {
        if (kind === 'dense') dflt = checkNumber(f.default, `${at}.default`);
        else if (typeof f.default === 'string' || (typeof f.default === 'number' && Number.isFinite(f.default))) dflt = f.default;
        else throw invalid('a string or a number', `${at}.default`, f.default);
      }
      let task = '';
      let positive: string[] | null = null;
      const objective = kind === 'label' && f.objective !== undefined ? checkOneOf(f.objective, `${at}.objective`, ['binary', 'regression'] as const) : 'binary';
      const numeric = kind === 'dense' ? resolveNumericSpec(f as DenseField, at) : null;
      const transform = numeric?.transform === 'log1p' ? 'log1p' : 'none';
      if (kind === 'label') {
        if (f.positive !== undefined) {
          if (!Array.isArray(f.positive) || f.positive.length === 0 || f.positive.some((v) => typeof v !== 'string')) throw invalid('a non-empty array of strings', `${at}.positive`, f.positive);
          positive = f.positive.map((v) => v.trim());
        }
        task = f.task === undefined ? name : nonEmptyString(f.task, `${at}.task`);
        if (tasks.has(task)) throw invalid(`a unique task ('${task}' is also the task of schema.fields[${tasks.get(task)}])`, `${at}.task`, task);
        tasks.set(task, i);
      }
      if (kind === 'domain') {
        if (f.values !== undefined) {
          if (!Array.isArray(f.values) || f.values.length === 0) throw invalid('a non-empty array of strings', `${at}.values`, f.values);
          const vs = f.values as unknown[];
          vs.forEach((v, j) => {
            if (typeof v !== 'string') throw invalid('a string', `${at}.values[${j}]`, v);
            if (vs.indexOf(v) !== j) throw invalid('distinct values', `${at}.values[${j}]`, v);
          });
          fixed = f.values.slice();
        }
        if (f.maxDomains !== undefined) maxDomains = positiveInt(f.maxDomains, `${at}.maxDomains`);
      }
      return { name, kind, index: i, hash, hashKey: this.perFieldHash ? name : '', separator, maxLength, default: dflt, task, positive, transform, objective, numeric };
    });
    const only = (kind: FieldKind): ResolvedField | null => {
      const fs = this.fields.filter((f) => f.kind === kind);
      if (fs.length > 1) throw invalid(`at most one ${kind} field (schema.fields[${fs[0].index}] is one)`, `schema.fields[${fs[1].index}].kind`, kind);
      return fs[0] ?? null;
    };
    this.domain = only('domain');
    this.weight = only('weight');
    this.tasks = [...tasks.keys()];
    this.objectives = [...tasks.values()].map((i) => this.fields[i].objective);
    if (this.tasks.length === 0) throw new ArgumentError(`Expected at least one label field for schema.fields but received none (fields: ${this.fields.map((f) => `${f.name}:${f.kind}`).join(', ')})`);
    const numeric = this.fields.filter((f) => f.kind === 'dense');
    this.numeric = numeric.map((f) => f.name);
    this.dense = numeric.filter((f) => f.numeric!.value).map((f) => f.name);
    this.bucketFields = numeric.filter((f) => f.numeric!.bucketize).map((f) => ({ ...f, kind: 'sparse' }));
    this.needsNumericFit = numeric.some((f) => needsFit(f.numeric!));
    this.setNumericState(null);
    this.fixedDomains = fixed !== null;
    this.maxDomains = fixed === null ? maxDomains : (fixed as string[]).length;
    for (const v of fixed ?? []) this.domainId(v);
  }

  /** The field named `name`, or undefined. */
  field(name: string): ResolvedField | undefined {
    return this.fields.find((f) => f.name === name);
  }

  /**
   * Fields of one kind, in schema order; 'sparse' also lists the bucketized dense fields after
   * the declared ones (kind 'sparse', the same names): batches carry their bucket ids as
   * single-hot ids, which a model looks up like any other.
   */
  ofKind(kind: FieldKind): ResolvedField[] {
    const declared = this.fields.filter((f) => f.kind === kind);
    return kind === 'sparse' ? [...declared, ...this.bucketFields] : declared;
  }

  /** The fitted numeric state in use (null: none fitted, every dense field used as declared). */
  get numericState(): NumericState | null {
    return this.numericFitted;
  }

  /** @internal the numeric treatment batches apply (from the fitted state, or as declared) */
  get numericPlan(): NumericPlan {
    return this.plan;
  }

  /**
   * Uses a fitted numeric state (`fitNumericStats`, a checkpoint's, an update's) for every batch
   * built with this schema from now on; null goes back to the fields as declared. `where` names
   * the state's source in errors.
   *
   * @throws FormatError when the state does not fit the schema's dense fields.
   */
  setNumericState(state: NumericState | null, where = 'numeric state'): void {
    const fields = this.fields.filter((f) => f.kind === 'dense');
    const s = state === null ? null : checkNumericState(state, fields, where);
    this.plan = new NumericPlan(fields, s);
    this.numericFitted = s === null ? null : (JSON.parse(JSON.stringify(s)) as NumericState);
  }

  /** The domain names: names[d] is the value of domain id d (learned ones in order of first appearance). */
  get domainNames(): readonly string[] {
    return this.domainValues.slice();
  }

  /** The id of a domain value, learning it when the vocabulary is not fixed; -1 for an unknown value or one past maxDomains. */
  domainId(value: string): number {
    const known = this.domainIndex.get(value);
    if (known !== undefined) return known;
    if (this.domainValues.length >= this.maxDomains) return -1;
    this.domainIndex.set(value, this.domainValues.length);
    this.domainValues.push(value);
    return this.domainValues.length - 1;
  }
}

/**
 * Validates a schema spec: unique names, at least one label (unique tasks), at most one
 * domain and one weight field, positive maxLength, known options per kind. A DataSchema is
 * returned as it is.
 *
 * @throws ArgumentError naming the bad field, e.g. "Expected a positive integer for
 * schema.fields[3].maxLength but received 0 of type number".
 */
export function defineSchema(spec: Schema | DataSchema): DataSchema {
  return spec instanceof DataSchema ? spec : new DataSchema(spec);
}
