/**
 * Checkpoints of a training run in one file: the model's parameters and buffers, its embedding
 * tables (rows, metadata and the rows' optimizer state, via `EmbeddingTable.export()`), the
 * optimizers' states, the step, a JSON config and metadata. Saving is atomic (see
 * {@link writeFileAtomic}); loading checks everything — format, version, checksums, names,
 * shapes — before it changes anything, and restores in place. The encoding ({@link encodeState})
 * and the checked decoding ({@link decodeState}, {@link applyState}) are shared with serving
 * updates (`lib/serve/update.ts`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { noGrad } from '../autograd';
import { EmbeddingTable } from '../embedding/table';
import { SparseOptimizer } from '../embedding/sparse-optimizer';
import { ArgumentError, DTypeError, FormatError, ShapeError } from '../errors';
import { Module } from '../nn/module';
import { checkMemberStates, Optimizer, OptimizerSet } from '../optim/optimizer';
import { Tensor, tensor } from '../tensor';
import { checkBoolean, checkInt, checkKnownKeys, checkOptions, invalid } from '../validate';
import { writeFileAtomic } from './atomic-write';
import { BYTES_PER, Container, encodeContainer, EntryDType, EntryInfo, FORMAT_VERSION, NewEntry } from './container';
import { crc32 } from './crc32';

/** An optimizer a checkpoint can hold: a dense `Optimizer`, a `SparseOptimizer`, or an `OptimizerSet` of them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CheckpointOptimizer = Optimizer<any> | SparseOptimizer | OptimizerSet;

/** The file name used when a checkpoint path is an existing directory. */
export const CHECKPOINT_FILE = 'checkpoint.gwck';

/** Options of {@link saveCheckpoint}: what to save and the run's step, config and metadata. */
export interface SaveCheckpointOptions {
  /** The model: every parameter and buffer of `model.stateDict()` is saved under `model.<dotted name>`. */
  model: Module;
  /** Embedding tables by name (default: every EmbeddingTable inside `model`, by its dotted path). */
  tables?: Record<string, EmbeddingTable>;
  /** Optimizers by name (default: none). */
  optimizers?: Record<string, CheckpointOptimizer>;
  /** The training step (a non-negative integer). */
  step: number;
  /** Any JSON-serializable value, e.g. the model's options (default null). */
  config?: unknown;
  /** JSON-serializable extra information (default {}). */
  metadata?: Record<string, unknown>;
  /** Keep the checkpoint being replaced as `<path>.prev` (default false). */
  keepPrevious?: boolean;
}

/** Options of {@link loadCheckpoint}: what to restore in place. */
export interface LoadCheckpointOptions {
  /** The model to restore in place; its parameter and buffer names and shapes must match the checkpoint's exactly. */
  model: Module;
  /** Tables to restore by name (default: every EmbeddingTable inside `model`). Each must be in the checkpoint. */
  tables?: Record<string, EmbeddingTable>;
  /** Optimizers to restore by name (default: none); each must be in the checkpoint. */
  optimizers?: Record<string, CheckpointOptimizer>;
}

/** What {@link loadCheckpoint} returns. */
export interface LoadedCheckpoint {
  /** The training step saved. */
  step: number;
  /** The config saved (null when none was given). */
  config: unknown;
  /** The extra information saved. */
  metadata: Record<string, unknown>;
}

/** What {@link readCheckpointInfo} returns. */
export interface CheckpointInfo extends LoadedCheckpoint {
  /** The file's format version. */
  version: number;
  /** When it was written (ISO 8601). */
  createdAt: string;
  /** The model's tensors (names without the `model.` prefix), with dtype and shape. */
  tensors: {
    /** The tensor's dotted name in the model. */
    name: string;
    /** Its element type. */
    dtype: EntryDType;
    /** Its shape. */
    shape: number[];
  }[];
  /** The names of the saved tables. */
  tables: string[];
  /** The names of the saved optimizers. */
  optimizers: string[];
  /** Every payload entry as listed in the header. */
  entries: EntryInfo[];
}

/** Options of {@link readCheckpointInfo}. */
export interface ReadCheckpointInfoOptions {
  /** Also check every entry's CRC-32, reading the whole file (default false: only the header's). */
  verify?: boolean;
}

/** A directory means the file {@link CHECKPOINT_FILE} inside it. */
function resolvePath(p: unknown, name: string): string {
  if (typeof p !== 'string' || p.length === 0) throw invalid('a file or directory path', name, p);
  try {
    if (fs.statSync(p).isDirectory()) return path.join(p, CHECKPOINT_FILE);
  } catch {
    // Not there yet: a file path.
  }
  return p;
}

/** Every EmbeddingTable inside `model` (itself included), by dotted path, each once. */
export function findTables(model: Module): Record<string, EmbeddingTable> {
  const out: Record<string, EmbeddingTable> = {};
  for (const [name, m] of model.namedModules()) if (m instanceof EmbeddingTable) out[name || 'table'] = m;
  return out;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function checkRecord<T>(value: unknown, name: string, what: string, test: (v: unknown) => boolean): Record<string, T> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`an object of ${what} by name`, name, value);
  for (const [k, v] of Object.entries(value)) if (!test(v)) throw invalid(what.replace(/s$/, ''), `${name}.${k}`, v);
  return value as Record<string, T>;
}

const isOptimizer = (v: unknown) => v instanceof Optimizer || v instanceof SparseOptimizer || v instanceof OptimizerSet;

/** Replaces each Float32Array in an optimizer state by `{ $entry }` and lists the entries. */
function encodeOptimizerState(value: unknown, entryName: string, out: NewEntry[]): unknown {
  if (value instanceof Float32Array) {
    out.push({ name: entryName, kind: 'optimizer', dtype: 'float32', shape: [value.length], bytes: bytesOf(value) });
    return { $entry: entryName };
  }
  if (Array.isArray(value)) return value.map((v, i) => encodeOptimizerState(v, `${entryName}.${i}`, out));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeOptimizerState(v, `${entryName}.${k}`, out)]));
  return value;
}

/** The inverse of {@link encodeOptimizerState}: reads (and CRC-checks) each referenced entry. */
function decodeOptimizerState(value: unknown, c: Container): unknown {
  if (Array.isArray(value)) return value.map((v) => decodeOptimizerState(v, c));
  if (value && typeof value === 'object') {
    const ref = (value as { $entry?: unknown }).$entry;
    if (typeof ref === 'string') {
      const info = c.info(ref);
      if (info.kind !== 'optimizer' || info.dtype !== 'float32') throw new FormatError(`entry '${ref}' is not float32 optimizer state`);
      const bytes = c.read(ref);
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeOptimizerState(v, c)]));
  }
  return value;
}

/**
 * Saves a checkpoint to `file` (or `<dir>/checkpoint.gwck` when `file` is an existing directory)
 * atomically: a crash mid-save leaves the previous checkpoint intact. Returns the file path.
 */
export function saveCheckpoint(file: string, options: SaveCheckpointOptions): string {
  const target = resolvePath(file, 'file');
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['model', 'tables', 'optimizers', 'step', 'config', 'metadata', 'keepPrevious']);
  if (!(o.model instanceof Module)) throw invalid('a Module', 'options.model', o.model);
  const step = checkInt(o.step, 'options.step', 0);
  const tables = o.tables === undefined ? findTables(o.model) : checkRecord<EmbeddingTable>(o.tables, 'options.tables', 'EmbeddingTables', (v) => v instanceof EmbeddingTable);
  const optimizers = checkRecord<CheckpointOptimizer>(o.optimizers ?? {}, 'options.optimizers', 'optimizers', isOptimizer);
  const keepPrevious = o.keepPrevious === undefined ? false : checkBoolean(o.keepPrevious, 'options.keepPrevious');
  const metadata = o.metadata === undefined ? {} : o.metadata;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw invalid('a JSON object', 'options.metadata', metadata);
  const json = (v: unknown, name: string) => {
    try {
      return JSON.parse(JSON.stringify(v ?? null)) as unknown;
    } catch (e) {
      throw invalid(`a JSON-serializable value (${(e as Error).message})`, name, v);
    }
  };

  const tableBytes = Object.fromEntries(Object.entries(tables).map(([name, table]) => [name, table.export()]));
  const head = { step, config: json(o.config, 'options.config'), metadata: json(metadata, 'options.metadata') as Record<string, unknown> };
  const chunks = encodeState({ model: o.model, tables: tableBytes, optimizers, head });
  writeFileAtomic(target, chunks, { keepPrevious });
  return target;
}

function openCheckpoint(file: string): { path: string; container: Container } {
  const p = resolvePath(file, 'file');
  return { path: p, container: new Container(fs.readFileSync(p), p) };
}

/** The version, step, config, metadata and contents of a checkpoint, without a model. */
export function readCheckpointInfo(file: string, options: ReadCheckpointInfoOptions = {}): CheckpointInfo {
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['verify']);
  const { container: c } = openCheckpoint(file);
  if (o.verify !== undefined && checkBoolean(o.verify, 'options.verify')) c.verifyAll();
  const h = c.header;
  const byKind = (kind: string) => h.entries.filter((e) => e.kind === kind);
  return {
    version: c.version,
    step: h.step,
    config: h.config,
    metadata: h.metadata ?? {},
    createdAt: h.createdAt,
    tensors: byKind('tensor').map((e) => ({ name: e.name.slice('model.'.length), dtype: e.dtype, shape: e.shape })),
    tables: byKind('table').map((e) => e.name.slice('table.'.length)),
    optimizers: Object.keys(h.optimizers ?? {}),
    entries: h.entries,
  };
}

/**
 * Restores a checkpoint in place: the model's parameters and buffers, the tables (cleared, then
 * imported: their rows, metadata, optimizer state and step) and the optimizers' states. Every
 * check — format, version, checksums, names, shapes, dims — runs before anything changes.
 * A corrupt file throws a `FormatError`; a model, table or optimizer that does not match throws a
 * `ShapeError` or `ArgumentError` naming the entry. A table must not be past the checkpoint's step
 * (a table's step never goes back): load into a freshly built table.
 */
export function loadCheckpoint(file: string, options: LoadCheckpointOptions): LoadedCheckpoint {
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['model', 'tables', 'optimizers']);
  if (!(o.model instanceof Module)) throw invalid('a Module', 'options.model', o.model);
  const tables = o.tables === undefined ? findTables(o.model) : checkRecord<EmbeddingTable>(o.tables, 'options.tables', 'EmbeddingTables', (v) => v instanceof EmbeddingTable);
  const optimizers = checkRecord<CheckpointOptimizer>(o.optimizers ?? {}, 'options.optimizers', 'optimizers', isOptimizer);
  const { path: p, container: c } = openCheckpoint(file);
  const h = c.header;
  if ((h as { update?: unknown }).update !== undefined) throw new FormatError(`${p} is a serving update (exportUpdate), not a checkpoint: apply it with applyUpdate or loadUpdate`);
  const decoded = decodeState(c, {
    model: o.model,
    tables,
    optimizers,
    what: `checkpoint ${p}`,
    checkTable: (name, table, file, mine) => {
      if (file.stateWidth !== mine.stateWidth) {
        throw new ArgumentError(`Expected optimizer state of ${mine.stateWidth} floats per row for table ${name} but received ${file.stateWidth} from checkpoint ${p} (another sparse optimizer kind)`);
      }
      if (table.step > file.step) {
        throw new ArgumentError(`Expected table ${name} at step ${file.step} or earlier (the checkpoint's) but it is at step ${table.step}: a table's step cannot go back, load into a freshly built table`);
      }
    },
  });
  applyState(decoded, { replaceTables: true });
  return { step: h.step, config: h.config, metadata: h.metadata ?? {} };
}

// ---- shared by checkpoints and serving updates (lib/serve/update.ts)

/** @internal What goes into a container: a model's dense state, tables' exports, optimizers' states and the header's fields. */
export interface StateParts {
  model: Module;
  /** Each table's `export()` bytes, by name. */
  tables: Record<string, Uint8Array>;
  optimizers: Record<string, CheckpointOptimizer>;
  /** The header's fields besides entries, optimizers and createdAt. */
  head: { step: number; config: unknown; metadata: Record<string, unknown> } & Record<string, unknown>;
}

/**
 * @internal The container's chunks: every parameter and buffer of `model.stateDict()` under
 * `model.<dotted name>`, each table's export under `table.<name>`, the optimizers' state tensors
 * under `optimizer.<name>.<path>` (the rest of their state in the header).
 */
export function encodeState(parts: StateParts): Uint8Array[] {
  const entries: NewEntry[] = [];
  for (const [name, t] of Object.entries(parts.model.stateDict())) {
    entries.push({ name: `model.${name}`, kind: 'tensor', dtype: t.dtype, shape: t.shape.slice(), bytes: bytesOf(t.toArraySync()) });
  }
  for (const [name, bytes] of Object.entries(parts.tables)) entries.push({ name: `table.${name}`, kind: 'table', dtype: 'uint8', shape: [bytes.length], bytes });
  const states: Record<string, unknown> = {};
  for (const [name, opt] of Object.entries(parts.optimizers)) states[name] = encodeOptimizerState(opt.stateDict(), `optimizer.${name}`, entries);
  return encodeContainer({ ...parts.head, optimizers: states, createdAt: new Date().toISOString() }, entries);
}

/** @internal The header of an `EmbeddingTable.export()`. */
export interface TableExportHeader {
  dim: number;
  /** Optimizer floats per row: 0 SGD, dim AdaGrad, 2·dim Adam. */
  stateWidth: number;
  /** Rows held. */
  rows: number;
  /** The table's step at export. */
  step: number;
  /** The incremental export's sinceStep, or null for a full one. */
  sinceStep: number | null;
}

const TABLE_MAGIC = 'GWEMBTAB';
const TABLE_HEADER = 64;

/**
 * @internal Checks a table export as `EmbeddingTable.import()` will — magic, version, header
 * checksum, length, ascending ids, finite values — so that a load can refuse it before it changes
 * anything (the payload's own checksum is left to import: the container's CRC covers the bytes).
 * `where` names it in errors.
 */
export function checkTableExport(bytes: Uint8Array, where: string): TableExportHeader {
  const fail = (what: string) => new FormatError(`${where} is not a valid table export: ${what}`);
  if (bytes.length < TABLE_HEADER + 4) throw fail(`it has ${bytes.length} bytes, fewer than the ${TABLE_HEADER + 4}-byte minimum`);
  if (Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== TABLE_MAGIC) throw fail(`Expected magic '${TABLE_MAGIC}'`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = v.getUint32(8, true);
  if (version !== 1) throw fail(`format version ${version}; this gatewise reads version 1`);
  if (v.getUint32(12, true) !== TABLE_HEADER || crc32(bytes.subarray(0, 60)) !== v.getUint32(60, true)) throw fail('its header is corrupt');
  const dim = v.getUint32(16, true);
  const stateWidth = v.getUint32(20, true);
  if (dim === 0 || (stateWidth !== 0 && stateWidth !== dim && stateWidth !== 2 * dim)) throw fail(`dim ${dim} with ${stateWidth} optimizer floats per row`);
  const n = Number(v.getBigUint64(32, true));
  const perRow = 44 + 4 * dim + 4 * stateWidth;
  if (TABLE_HEADER + n * perRow + 4 !== bytes.length) throw fail(`${n} rows of dim ${dim} need ${TABLE_HEADER + n * perRow + 4} bytes but it has ${bytes.length}`);
  const since = Number(v.getBigInt64(48, true));
  const header = { dim, stateWidth, rows: n, step: Number(v.getBigInt64(40, true)), sinceStep: since < 0 ? null : since };
  // Typed views need aligned offsets: copy when the bytes are not 8-byte aligned.
  const b = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const at = (k: number) => b.byteOffset + TABLE_HEADER + k * n;
  const ids = new BigInt64Array(b.buffer, at(0), n);
  for (let i = 1; i < n; ++i) if (ids[i] <= ids[i - 1]) throw fail(`ids are not strictly ascending at row ${i} (id ${ids[i]})`);
  const lastSeen = new BigInt64Array(b.buffer, at(8), n);
  const changed = new BigInt64Array(b.buffer, at(16), n);
  const time = new Float64Array(b.buffer, at(24), n);
  const updates = new Int32Array(b.buffer, at(32), n);
  const counts = new Float32Array(b.buffer, at(36), 2 * n); // lookup counts, then scores
  for (let i = 0; i < n; ++i) {
    if (lastSeen[i] < 0n || changed[i] < 0n || !Number.isFinite(time[i]) || updates[i] < 0 || !(counts[i] >= 0) || !(counts[n + i] >= 0)) {
      throw fail(`row ${i} (id ${ids[i]}) has negative or non-finite metadata`);
    }
  }
  const values = new Float32Array(b.buffer, at(44), n * (dim + stateWidth)); // weights, then optimizer state
  for (let i = 0; i < values.length; ++i) {
    if (!Number.isFinite(values[i])) throw fail(`${i < n * dim ? 'weight' : 'optimizer state'} of row ${i < n * dim ? Math.floor(i / dim) : Math.floor((i - n * dim) / stateWidth)} is not finite`);
  }
  return header;
}

/** @internal What {@link decodeState} is told. */
export interface DecodeStateOptions {
  model: Module;
  /** Tables to restore, by name; each must be in the container. */
  tables: Record<string, EmbeddingTable>;
  /** Optimizers to restore, by name; each must be in the container. */
  optimizers: Record<string, CheckpointOptimizer>;
  /** The container in messages, e.g. `checkpoint run/ckpt.gwck`. */
  what: string;
  /** Refuse a table in the container that is not in `tables` (default false: it is left out). */
  exactTables?: boolean;
  /** The caller's own checks of a table's export (`mine`: the table's own header, no rows). */
  checkTable?: (name: string, table: EmbeddingTable, file: TableExportHeader, mine: TableExportHeader) => void;
}

/** @internal A container checked against a model, its tables and optimizers: what {@link applyState} writes. */
export interface DecodedState {
  tensors: [Tensor, EntryDType, Uint8Array][];
  tables: { name: string; table: EmbeddingTable; bytes: Uint8Array; header: TableExportHeader }[];
  optimizers: [CheckpointOptimizer, unknown][];
}

/**
 * @internal Reads and checks everything a load needs — the model's names, dtypes and shapes, each
 * entry's checksum, the tables' exports, dims and capacities, the optimizers' states — and changes
 * nothing. Throws `FormatError`, `ShapeError`, `DTypeError` or `ArgumentError` naming the entry.
 */
export function decodeState(c: Container, o: DecodeStateOptions): DecodedState {
  const h = c.header;
  const what = o.what;

  // 1. Model: names, dtypes, shapes, checksums.
  const own = o.model.stateDict();
  const saved = new Set(h.entries.filter((e) => e.kind === 'tensor').map((e) => e.name.slice('model.'.length)));
  const missing = Object.keys(own).filter((k) => !saved.has(k));
  const unexpected = [...saved].filter((k) => !(k in own));
  if (missing.length || unexpected.length) {
    throw new ArgumentError(`${what} does not match the model: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`);
  }
  const tensors = Object.entries(own).map(([k, t]): [Tensor, EntryDType, Uint8Array] => {
    const e = c.info(`model.${k}`);
    if (e.shape.join() !== t.shape.join() || e.shape.length !== t.shape.length) {
      throw new ShapeError(`Expected shape [${t.shape}] for ${k} but received [${e.shape}] from ${what}`);
    }
    if (e.dtype !== t.dtype) throw new DTypeError(`Expected ${t.dtype} for ${k} but received ${e.dtype} from ${what}`);
    return [t, e.dtype, c.read(`model.${k}`)];
  });

  // 2. Tables: present, valid exports of the same dim, within capacity, and the caller's checks.
  const savedTables = h.entries.filter((e) => e.kind === 'table').map((e) => e.name.slice('table.'.length));
  if (o.exactTables) {
    const extra = savedTables.filter((name) => !(name in o.tables));
    if (extra.length) throw new ArgumentError(`${what} holds table(s) [${extra.join(', ')}] that were not given: pass every table it holds`);
  }
  const tables = Object.entries(o.tables).map(([name, table]) => {
    if (!c.has(`table.${name}`)) throw new ArgumentError(`Expected a table '${name}' in ${what} but it has [${savedTables.join(', ')}]`);
    const bytes = c.read(`table.${name}`);
    const header = checkTableExport(bytes, `entry 'table.${name}' of ${what}`);
    const mine = checkTableExport(table.export({ sinceStep: table.step + 1 }), `table ${name}`);
    if (header.dim !== mine.dim) throw new ShapeError(`Expected rows of dim ${mine.dim} for table ${name} but received dim ${header.dim} from ${what}`);
    if (header.rows > table.capacity) throw new ArgumentError(`Expected at most ${table.capacity} rows (the capacity of table ${name}) but ${what} holds ${header.rows}`);
    o.checkTable?.(name, table, header, mine);
    return { name, table, bytes, header };
  });

  // 3. Optimizers: present and matching.
  const saves = h.optimizers ?? {};
  const optimizers = Object.entries(o.optimizers).map(([name, opt]): [CheckpointOptimizer, unknown] => {
    if (!(name in saves)) throw new ArgumentError(`Expected an optimizer '${name}' in ${what} but it has [${Object.keys(saves).join(', ')}]`);
    const state = decodeOptimizerState(saves[name], c);
    const members = opt instanceof OptimizerSet ? opt.optimizers : [opt];
    const states = opt instanceof OptimizerSet ? (state as { optimizers?: unknown[] }).optimizers : [state];
    checkMemberStates(members, states, `optimizer ${name} in ${what}`);
    return [opt, state];
  });
  return { tensors, tables, optimizers };
}

/**
 * @internal Writes a {@link decodeState} result: the model's tensors in place, each table's rows
 * (`replaceTables`: the table cleared first, as a checkpoint restores it; otherwise imported over
 * the rows it has, as an update), the optimizers' states. Returns the rows written per table.
 */
export function applyState(d: DecodedState, options: { replaceTables: boolean }): Record<string, number> {
  for (const [t, dtype, bytes] of d.tensors) {
    const Typed = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array }[dtype];
    const src = tensor(new Typed(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / BYTES_PER[dtype]), { shape: t.shape, dtype, device: t.device });
    try {
      noGrad(() => t.copyFrom(src));
    } finally {
      src.dispose();
    }
  }
  const rows: Record<string, number> = {};
  for (const { name, table, bytes } of d.tables) {
    if (options.replaceTables) {
      table.clearGradients();
      table.evict({ expired: false, toSize: 0 });
    }
    rows[name] = table.import(bytes);
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  for (const [opt, state] of d.optimizers) (opt as { loadStateDict(s: any): void }).loadStateDict(state);
  return rows;
}

export { FORMAT_VERSION };
