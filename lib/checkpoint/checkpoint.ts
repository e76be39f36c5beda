/**
 * Checkpoints of a training run in one file: the model's parameters and buffers, its embedding
 * tables (rows, metadata and the rows' optimizer state, via `EmbeddingTable.export()`), the
 * optimizers' states, the step, a JSON config and metadata. Saving is atomic (see
 * {@link writeFileAtomic}); loading checks everything — format, version, checksums, names,
 * shapes — before it changes anything, and restores in place.
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

/** An optimizer a checkpoint can hold: a dense `Optimizer`, a `SparseOptimizer`, or an `OptimizerSet` of them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CheckpointOptimizer = Optimizer<any> | SparseOptimizer | OptimizerSet;

/** The file name used when a checkpoint path is an existing directory. */
export const CHECKPOINT_FILE = 'checkpoint.gwck';

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
  step: number;
  config: unknown;
  metadata: Record<string, unknown>;
}

/** What {@link readCheckpointInfo} returns. */
export interface CheckpointInfo extends LoadedCheckpoint {
  /** The file's format version. */
  version: number;
  /** When it was written (ISO 8601). */
  createdAt: string;
  /** The model's tensors (names without the `model.` prefix), with dtype and shape. */
  tensors: { name: string; dtype: EntryDType; shape: number[] }[];
  /** The names of the saved tables. */
  tables: string[];
  /** The names of the saved optimizers. */
  optimizers: string[];
  /** Every payload entry as listed in the header. */
  entries: EntryInfo[];
}

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
  const seen = new Set<Module>();
  const walk = (m: Module, prefix: string) => {
    if (seen.has(m)) return;
    seen.add(m);
    if (m instanceof EmbeddingTable) out[prefix || 'table'] = m;
    for (const [k, c] of m.namedChildren()) walk(c, prefix ? `${prefix}.${k}` : k);
  };
  walk(model, '');
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
function encodeState(value: unknown, entryName: string, out: NewEntry[]): unknown {
  if (value instanceof Float32Array) {
    out.push({ name: entryName, kind: 'optimizer', dtype: 'float32', shape: [value.length], bytes: bytesOf(value) });
    return { $entry: entryName };
  }
  if (Array.isArray(value)) return value.map((v, i) => encodeState(v, `${entryName}.${i}`, out));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeState(v, `${entryName}.${k}`, out)]));
  return value;
}

/** The inverse of {@link encodeState}: reads (and CRC-checks) each referenced entry. */
function decodeState(value: unknown, c: Container): unknown {
  if (Array.isArray(value)) return value.map((v) => decodeState(v, c));
  if (value && typeof value === 'object') {
    const ref = (value as { $entry?: unknown }).$entry;
    if (typeof ref === 'string') {
      const info = c.info(ref);
      if (info.kind !== 'optimizer' || info.dtype !== 'float32') throw new FormatError(`entry '${ref}' is not float32 optimizer state`);
      const bytes = c.read(ref);
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeState(v, c)]));
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

  const entries: NewEntry[] = [];
  for (const [name, t] of Object.entries(o.model.stateDict())) {
    entries.push({ name: `model.${name}`, kind: 'tensor', dtype: t.dtype, shape: t.shape.slice(), bytes: bytesOf(t.toArraySync()) });
  }
  for (const [name, table] of Object.entries(tables)) {
    const bytes = table.export();
    entries.push({ name: `table.${name}`, kind: 'table', dtype: 'uint8', shape: [bytes.length], bytes });
  }
  const states: Record<string, unknown> = {};
  for (const [name, opt] of Object.entries(optimizers)) states[name] = encodeState(opt.stateDict(), `optimizer.${name}`, entries);

  const head = { step, config: json(o.config, 'options.config'), metadata: json(metadata, 'options.metadata') as Record<string, unknown>, optimizers: states, createdAt: new Date().toISOString() };
  const chunks = encodeContainer(head, entries);
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

/** The table-export header fields a load must agree on. */
function tableHeader(bytes: Uint8Array, name: string): { dim: number; stateWidth: number; step: number } {
  if (bytes.length < 64) throw new FormatError(`checkpoint entry 'table.${name}' is too short for a table export (${bytes.length} bytes)`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { dim: v.getUint32(16, true), stateWidth: v.getUint32(20, true), step: Number(v.getBigInt64(40, true)) };
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

  // 1. Model: names, dtypes, shapes, checksums.
  const own = o.model.stateDict();
  const saved = new Set(h.entries.filter((e) => e.kind === 'tensor').map((e) => e.name.slice('model.'.length)));
  const missing = Object.keys(own).filter((k) => !saved.has(k));
  const unexpected = [...saved].filter((k) => !(k in own));
  if (missing.length || unexpected.length) {
    throw new ArgumentError(`checkpoint ${p} does not match the model: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`);
  }
  const values: [Tensor, EntryDType, Uint8Array][] = Object.entries(own).map(([k, t]) => {
    const e = c.info(`model.${k}`);
    if (e.shape.join() !== t.shape.join() || e.shape.length !== t.shape.length) {
      throw new ShapeError(`Expected shape [${t.shape}] for ${k} but received [${e.shape}] from checkpoint ${p}`);
    }
    if (e.dtype !== t.dtype) throw new DTypeError(`Expected ${t.dtype} for ${k} but received ${e.dtype} from checkpoint ${p}`);
    return [t, e.dtype, c.read(`model.${k}`)];
  });

  // 2. Tables: present, same dim and optimizer, not past the checkpoint.
  const tableData = Object.entries(tables).map(([name, table]): [EmbeddingTable, Uint8Array] => {
    if (!c.has(`table.${name}`)) throw new ArgumentError(`Expected a table '${name}' in checkpoint ${p} but it has [${h.entries.filter((e) => e.kind === 'table').map((e) => e.name.slice(6)).join(', ')}]`);
    const bytes = c.read(`table.${name}`);
    const file = tableHeader(bytes, name);
    const mine = tableHeader(table.export({ sinceStep: table.step + 1 }), name);
    if (file.dim !== mine.dim) throw new ShapeError(`Expected rows of dim ${mine.dim} for table ${name} but received dim ${file.dim} from checkpoint ${p}`);
    if (file.stateWidth !== mine.stateWidth) {
      throw new ArgumentError(`Expected optimizer state of ${mine.stateWidth} floats per row for table ${name} but received ${file.stateWidth} from checkpoint ${p} (another sparse optimizer kind)`);
    }
    if (table.step > file.step) {
      throw new ArgumentError(`Expected table ${name} at step ${file.step} or earlier (the checkpoint's) but it is at step ${table.step}: a table's step cannot go back, load into a freshly built table`);
    }
    return [table, bytes];
  });

  // 3. Optimizers: present and matching.
  const saves = h.optimizers ?? {};
  const optStates = Object.entries(optimizers).map(([name, opt]): [CheckpointOptimizer, unknown] => {
    if (!(name in saves)) throw new ArgumentError(`Expected an optimizer '${name}' in checkpoint ${p} but it has [${Object.keys(saves).join(', ')}]`);
    const state = decodeState(saves[name], c);
    const members = opt instanceof OptimizerSet ? opt.optimizers : [opt];
    const states = opt instanceof OptimizerSet ? (state as { optimizers?: unknown[] }).optimizers : [state];
    checkMemberStates(members, states, `optimizer ${name} in checkpoint ${p}`);
    return [opt, state];
  });

  // 4. Apply.
  for (const [t, dtype, bytes] of values) {
    const Typed = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array }[dtype];
    const src = tensor(new Typed(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / BYTES_PER[dtype]), { shape: t.shape, dtype, device: t.device });
    try {
      noGrad(() => t.copyFrom(src));
    } finally {
      src.dispose();
    }
  }
  for (const [table, bytes] of tableData) {
    table.clearGradients();
    table.evict({ expired: false, toSize: 0 });
    table.import(bytes);
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  for (const [opt, state] of optStates) (opt as { loadStateDict(s: any): void }).loadStateDict(state);
  return { step: h.step, config: h.config, metadata: h.metadata ?? {} };
}

export { FORMAT_VERSION };
