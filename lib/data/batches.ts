/**
 * Rows into batches of tensors on the device: single-hot ids (B), multi-hot bags in
 * `lookupBag`'s form, padded sequences for `lookupSequences`, dense features (normalized, and
 * bucketized into ids, by the schema's numeric treatment), labels with a mask for missing ones,
 * the domain and the sample weight, plus host copies for metrics.
 */
import { defaultDevice, Device } from '../backend';
import { Tensor, tensor } from '../tensor';
import { checkBoolean, checkInt, checkKnownKeys, checkOneOf, checkOptions, invalid } from '../validate';
import { DataSchema, defineSchema, Schema } from './schema';
import { Row } from './readers';

/** The sequence lookup's padding id: sequences are left-aligned, oldest first, padded with 0n on the right; mask with `lengths`. */
export const SEQUENCE_PAD_ID = 0n;

/** Options of {@link batches}, {@link batchesSync} and {@link collate}. */
export interface BatchOptions {
  /** Rows per batch (required). */
  batchSize: number;
  /** Device of the tensors (default: `defaultDevice()`). */
  device?: Device;
  /** Drop the last batch when it has fewer than batchSize rows (default false). */
  dropLast?: boolean;
  /** A sparse field whose ids come in `raw.group` (e.g. the user, for grouped AUC) (default: none). */
  groupField?: string;
}

/** A multi-hot field in the form `EmbeddingTable.lookupBag(ids, offsets)` takes. */
export interface BagBatch {
  /** int64 (N): every bag's ids, concatenated. */
  ids: Tensor;
  /** int64 (B): where each bag starts in ids (bag b is ids[offsets[b] .. offsets[b+1]), the last runs to the end; PyTorch's EmbeddingBag convention). */
  offsets: Tensor;
}

/** A sequence field, for `lookupSequences(table, padded, lengths, { layout: 'padded' })`. */
export interface SequenceBatch {
  /** int64 (B, maxLength): oldest first, padded with SEQUENCE_PAD_ID. */
  ids: Tensor;
  /** The same ids on the host (lookupSequences takes these). */
  padded: BigInt64Array;
  /** (B) the real ids per row. */
  lengths: Int32Array;
}

/** One batch of rows as tensors on the device, per field kind, with host copies for the metrics. */
export interface Batch {
  /** Rows in the batch B. */
  size: number;
  /** sparse fields, and the bucket ids of bucketized dense fields (by the dense field's name): int64 (B). */
  ids: Record<string, Tensor>;
  /** multi fields. */
  bags: Record<string, BagBatch>;
  /** sequence fields. */
  sequences: Record<string, SequenceBatch>;
  /** float32 (B, nDense), columns in the schema's `dense` order, after the schema's numeric treatment (`schema.numericPlan`). */
  dense: Tensor;
  /** float32 (B, nTasks), columns in the schema's `tasks` order; 0 where missing. */
  labels: Tensor;
  /** float32 (B, nTasks): 1 where the label is present, 0 where missing. */
  labelMask: Tensor;
  /** int32 (B) domain ids, with a domain field. */
  domain?: Tensor;
  /** float32 (B) sample weights, with a weight field. */
  weight?: Tensor;
  /** Host copies for metrics. */
  raw: {
    /** (B × nTasks) row-major, 0 where missing. */
    labels: Float32Array;
    /** (B × nTasks) row-major. */
    labelMask: Float32Array;
    /** (B) domain ids, with a domain field. */
    domain?: Int32Array;
    /** (B) sample weights, with a weight field. */
    weight?: Float32Array;
    /** sparse fields (and bucketized dense fields): the ids on the host. */
    ids: Record<string, BigInt64Array>;
    /** The groupField's ids. */
    group?: BigInt64Array;
    /** Source line of each row. */
    lines: Int32Array;
  };
  /** Frees every tensor of the batch. */
  dispose(): void;
}

/** A batch's host arrays, before they become tensors (see {@link Batch} for each one's form). */
export interface BatchArrays {
  size: number;
  ids: Record<string, BigInt64Array>;
  bags: Record<string, { ids: BigInt64Array; offsets: BigInt64Array }>;
  sequences: Record<string, { padded: BigInt64Array; lengths: Int32Array; maxLength: number }>;
  /** (B × every dense field) the values as read, in the schema's `numeric` order; finishBatch applies the numeric treatment. */
  numeric: Float64Array;
  labels: Float32Array;
  labelMask: Float32Array;
  domain: Int32Array | null;
  weight: Float32Array | null;
  lines: Int32Array;
}

/** The batch of some host arrays: their tensors on the device, and the host copies (the numeric treatment applied here, for every builder). */
export function finishBatch(a: BatchArrays, schema: DataSchema, device: Device, group: string | null): Batch {
  const B = a.size;
  const T = schema.tasks.length;
  const numeric = schema.numericPlan.apply(a.numeric, B);
  Object.assign(a.ids, numeric.ids);
  const tensors: Tensor[] = [];
  const t = (data: Float32Array | Int32Array | BigInt64Array, shape: number[]) => {
    const x = tensor(data, { shape, device });
    tensors.push(x);
    return x;
  };
  const batch: Batch = {
    size: B,
    ids: {},
    bags: {},
    sequences: {},
    dense: t(numeric.dense, [B, schema.dense.length]),
    labels: t(a.labels.slice(), [B, T]),
    labelMask: t(a.labelMask.slice(), [B, T]),
    raw: { labels: a.labels, labelMask: a.labelMask, ids: {}, lines: a.lines },
    dispose: () => tensors.forEach((x) => x.dispose()),
  };
  for (const [name, ids] of Object.entries(a.ids)) {
    batch.ids[name] = t(ids, [B]);
    batch.raw.ids[name] = ids;
    if (name === group) batch.raw.group = ids;
  }
  for (const [name, bag] of Object.entries(a.bags)) batch.bags[name] = { ids: t(bag.ids, [bag.ids.length]), offsets: t(bag.offsets, [B]) };
  for (const [name, s] of Object.entries(a.sequences)) batch.sequences[name] = { ids: t(s.padded, [B, s.maxLength]), padded: s.padded, lengths: s.lengths };
  if (a.domain) {
    batch.domain = t(a.domain.slice(), [B]);
    batch.raw.domain = a.domain;
  }
  if (a.weight) {
    batch.weight = t(a.weight.slice(), [B]);
    batch.raw.weight = a.weight;
  }
  return batch;
}

/** A batch's host arrays for B rows: the per-row ones zeroed, the per-field ones to fill in. */
export function emptyBatchArrays(schema: DataSchema, B: number): BatchArrays {
  const T = schema.tasks.length;
  return {
    size: B,
    ids: {},
    bags: {},
    sequences: {},
    numeric: new Float64Array(B * schema.numeric.length),
    labels: new Float32Array(B * T),
    labelMask: new Float32Array(B * T),
    domain: schema.domain ? new Int32Array(B) : null,
    weight: schema.weight ? new Float32Array(B) : null,
    lines: new Int32Array(B),
  };
}

/** Rows' host arrays, each row checked against the schema (errors name rows[b] and the field). */
function rowArrays(rows: Row[], schema: DataSchema): BatchArrays {
  const B = rows.length;
  const T = schema.tasks.length;
  const D = schema.numeric.length;
  const bad = (what: string, name: string, v: unknown) => invalid(what, name, v);
  const a = emptyBatchArrays(schema, B);
  for (const f of schema.fields) {
    if (f.kind === 'sparse') {
      const ids = new BigInt64Array(B);
      rows.forEach((r, b) => {
        const v = r.ids?.[f.name];
        if (typeof v !== 'bigint') throw bad('a Row read with this schema (an id)', `rows[${b}].ids.${f.name}`, v);
        ids[b] = v;
      });
      a.ids[f.name] = ids;
    } else if (f.kind === 'multi') {
      const offsets = new BigInt64Array(B);
      let n = 0;
      rows.forEach((r, b) => {
        const v = r.bags?.[f.name];
        if (!Array.isArray(v)) throw bad('a Row read with this schema (a bag)', `rows[${b}].bags.${f.name}`, v);
        offsets[b] = BigInt(n);
        n += v.length;
      });
      const ids = new BigInt64Array(n);
      rows.forEach((r, b) => ids.set(r.bags[f.name], Number(offsets[b])));
      a.bags[f.name] = { ids, offsets };
    } else if (f.kind === 'sequence') {
      const L = f.maxLength;
      const padded = new BigInt64Array(B * L).fill(SEQUENCE_PAD_ID);
      const lengths = new Int32Array(B);
      rows.forEach((r, b) => {
        const v = r.sequences?.[f.name];
        if (!Array.isArray(v)) throw bad('a Row read with this schema (a sequence)', `rows[${b}].sequences.${f.name}`, v);
        const kept = v.length > L ? v.slice(v.length - L) : v;
        padded.set(kept, b * L);
        lengths[b] = kept.length;
      });
      a.sequences[f.name] = { padded, lengths, maxLength: L };
    }
  }
  rows.forEach((r, b) => {
    if (!Array.isArray(r.dense) || r.dense.length !== D) throw bad(`${D} dense values`, `rows[${b}].dense`, r.dense);
    if (!Array.isArray(r.labels) || r.labels.length !== T) throw bad(`${T} labels`, `rows[${b}].labels`, r.labels);
    a.numeric.set(r.dense, b * D);
    for (let k = 0; k < T; ++k) {
      const y = r.labels[k];
      if (y !== null) {
        a.labels[b * T + k] = y;
        a.labelMask[b * T + k] = 1;
      }
    }
    if (a.domain) a.domain[b] = r.domain;
    if (a.weight) a.weight[b] = r.weight;
    a.lines[b] = r.line;
  });
  return a;
}

function makeBatch(rows: Row[], schema: DataSchema, device: Device, group: string | null): Batch {
  return finishBatch(rowArrays(rows, schema), schema, device, group);
}

/** Rows already in hand (a request's, say) as one batch; the caller disposes it. */
export function collate(rows: readonly Row[], schema: Schema | DataSchema, options: Omit<BatchOptions, 'batchSize' | 'dropLast'> = {}): Batch {
  if (!Array.isArray(rows) || rows.length === 0) throw invalid('a non-empty array of rows', 'rows', rows);
  const s = defineSchema(schema);
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['device', 'groupField']);
  const device = o.device === undefined ? defaultDevice() : checkOneOf(o.device, 'options.device', ['cpu', 'cuda'] as const);
  return makeBatch(rows as Row[], s, device, groupFieldOf(s, o.groupField));
}

function groupFieldOf(s: DataSchema, groupField: unknown): string | null {
  if (groupField === undefined) return null;
  if (s.field(groupField as string)?.kind !== 'sparse') throw invalid('the name of a sparse field of the schema', 'options.groupField', groupField);
  return groupField as string;
}

/** batches()' options, checked, and the schema. */
function batchSetup(schema: Schema | DataSchema, options: BatchOptions) {
  const s = defineSchema(schema);
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['batchSize', 'device', 'dropLast', 'groupField']);
  const size = checkInt(o.batchSize, 'options.batchSize', 1, 2 ** 24);
  const device = o.device === undefined ? defaultDevice() : checkOneOf(o.device, 'options.device', ['cpu', 'cuda'] as const);
  const dropLast = o.dropLast === undefined ? false : checkBoolean(o.dropLast, 'options.dropLast');
  const group = groupFieldOf(s, o.groupField);
  /** Rows in, a batch out when one is full; `rest()` the last, partial one (unless dropLast). */
  let buf: Row[] = [];
  const push = (row: Row): Batch | null => {
    buf.push(row);
    if (buf.length < size) return null;
    const full = buf;
    buf = [];
    return makeBatch(full, s, device, group);
  };
  const rest = (): Batch | null => {
    const last = buf;
    buf = [];
    return last.length > 0 && !dropLast ? makeBatch(last, s, device, group) : null;
  };
  return { push, rest };
}

/**
 * Groups rows into batches of tensors (see {@link Batch}). The caller owns each batch's
 * tensors: `batch.dispose()` when done.
 */
export function batches(rows: AsyncIterable<Row> | Iterable<Row>, schema: Schema | DataSchema, options: BatchOptions): AsyncIterable<Batch> {
  if (rows === null || typeof rows !== 'object' || !(Symbol.asyncIterator in rows || Symbol.iterator in rows)) throw invalid('an (async) iterable of rows', 'rows', rows);
  batchSetup(schema, options); // options checked now, not at the first pass
  return {
    async *[Symbol.asyncIterator]() {
      const b = batchSetup(schema, options);
      for await (const row of rows as AsyncIterable<Row>) {
        const full = b.push(row);
        if (full) yield full;
      }
      const last = b.rest();
      if (last) yield last;
    },
  };
}

/** batches() over a sync iterable of rows, synchronously: the same batches. */
export function batchesSync(rows: Iterable<Row>, schema: Schema | DataSchema, options: BatchOptions): Iterable<Batch> {
  if (rows === null || typeof rows !== 'object' || !(Symbol.iterator in rows)) throw invalid('an iterable of rows', 'rows', rows);
  batchSetup(schema, options);
  return {
    *[Symbol.iterator]() {
      const b = batchSetup(schema, options);
      for (const row of rows) {
        const full = b.push(row);
        if (full) yield full;
      }
      const last = b.rest();
      if (last) yield last;
    },
  };
}
