/**
 * Serving updates: a training process ships its model to serving copies. An update holds the
 * model's dense state (every parameter and buffer: small) and, per embedding table, the rows
 * inserted or updated since the last sync (`EmbeddingTable.export({ sinceStep })`), in the
 * checkpoint container (GWCK, a CRC-32 per entry) marked as an update, without optimizer
 * states. Applying one checks everything first — format, checksums, names, shapes, dtypes,
 * dims, every table present — and changes nothing when anything is wrong.
 *
 *   trainer side:  const bytes = exportUpdate({ model, tables, step, sinceStep: lastSync }); lastSync = tables.items.step;
 *   serving side:  applyUpdate(bytes, { model, tables });   // between batches: both are synchronous
 */
import * as fs from 'node:fs';
import { writeFileAtomic } from '../checkpoint/atomic-write';
import { applyState, decodeState, encodeState, findTables } from '../checkpoint/checkpoint';
import { Container } from '../checkpoint/container';
import { EmbeddingTable } from '../embedding/table';
import { ArgumentError, FormatError } from '../errors';
import { Module } from '../nn/module';
import { checkFunction, checkInt, checkKnownKeys, checkOptions, invalid } from '../validate';

/** Options of {@link exportUpdate}. */
export interface ExportUpdateOptions {
  /** The model: every parameter and buffer of `model.stateDict()` is sent. */
  model: Module;
  /** Embedding tables by name (default: every EmbeddingTable inside `model`, by its dotted path). */
  tables?: Record<string, EmbeddingTable>;
  /** The training step the update is from (a non-negative integer). */
  step: number;
  /**
   * Send only the table rows inserted or updated at or after this table step (the tables' `step`
   * at the last sync); default: every row (a full update). Rows the trainer evicted since are
   * not removed from the serving tables, which evict by their own policy.
   */
  sinceStep?: number;
  /** JSON-serializable data the serving copy needs besides the weights (a config job's domain vocabulary and fitted numeric treatment) (default {}). */
  metadata?: Record<string, unknown>;
}

/** Options of {@link applyUpdate}. */
export interface ApplyUpdateOptions {
  /** The serving model; its parameter and buffer names, dtypes and shapes must match the update's. */
  model: Module;
  /** The serving tables by name (default: every EmbeddingTable inside `model`); exactly the update's tables. */
  tables?: Record<string, EmbeddingTable>;
  /** Checks the update's metadata before anything changes; throw to refuse the update (default: none). */
  checkMetadata?: (metadata: Record<string, unknown>) => void;
}

/** What {@link applyUpdate} returns. */
export interface AppliedUpdate {
  /** The training step the update is from. */
  step: number;
  /** The tables' sinceStep, or null for a full update. */
  sinceStep: number | null;
  /** Rows written per table. */
  rows: Record<string, number>;
  /** The update's metadata. */
  metadata: Record<string, unknown>;
}

interface UpdateMark {
  sinceStep: number | null;
}

function tablesOf(model: Module, tables: unknown, name: string): Record<string, EmbeddingTable> {
  if (tables === undefined) return findTables(model);
  if (tables === null || typeof tables !== 'object' || Array.isArray(tables)) throw invalid('an object of EmbeddingTables by name', name, tables);
  for (const [k, v] of Object.entries(tables)) if (!(v instanceof EmbeddingTable)) throw invalid('an EmbeddingTable', `${name}.${k}`, v);
  return tables as Record<string, EmbeddingTable>;
}

/** The container's chunks (for exportUpdate and saveUpdate). */
function encodeUpdate(options: ExportUpdateOptions): Uint8Array[] {
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['model', 'tables', 'step', 'sinceStep', 'metadata']);
  if (!(o.model instanceof Module)) throw invalid('a Module', 'options.model', o.model);
  const tables = tablesOf(o.model, o.tables, 'options.tables');
  const step = checkInt(o.step, 'options.step', 0);
  const sinceStep = o.sinceStep === undefined ? null : checkInt(o.sinceStep, 'options.sinceStep', 0);
  const bytes = Object.fromEntries(Object.entries(tables).map(([name, table]) => [name, sinceStep === null ? table.export() : table.export({ sinceStep })]));
  const update: UpdateMark = { sinceStep };
  const metadata = o.metadata ?? {};
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw invalid('a JSON object', 'options.metadata', metadata);
  return encodeState({ model: o.model, tables: bytes, optimizers: {}, head: { step, config: null, metadata: JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>, update } });
}

/**
 * A serving update: the model's dense state and each table's rows changed at or after
 * `sinceStep` (all rows without it), as bytes to send to serving copies.
 */
export function exportUpdate(options: ExportUpdateOptions): Uint8Array {
  const chunks = encodeUpdate(options);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Applies an update's bytes, read from `file` or given (null). */
function apply(data: Uint8Array, file: string | null, options: ApplyUpdateOptions): AppliedUpdate {
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['model', 'tables', 'checkMetadata']);
  if (!(o.model instanceof Module)) throw invalid('a Module', 'options.model', o.model);
  if (o.checkMetadata !== undefined) checkFunction(o.checkMetadata, 'options.checkMetadata');
  const tables = tablesOf(o.model, o.tables, 'options.tables');
  const c = new Container(data, file ?? 'serving update');
  const what = file === null ? 'serving update' : `serving update ${file}`;
  const mark = (c.header as { update?: unknown }).update as UpdateMark | undefined;
  if (mark === undefined) throw new FormatError(`${file ?? 'data'} is a checkpoint, not a serving update: load it with loadCheckpoint`);
  const since = mark?.sinceStep;
  if (mark === null || typeof mark !== 'object' || !(since === null || (Number.isSafeInteger(since) && (since as number) >= 0))) {
    throw new FormatError(`${what} is malformed: its header's update mark ${JSON.stringify(mark)} is not { sinceStep }`);
  }
  if (Object.keys(c.header.optimizers ?? {}).length > 0 || c.header.entries.some((e) => e.kind === 'optimizer')) {
    throw new FormatError(`${what} is malformed: it holds optimizer state, which updates never carry`);
  }
  const decoded = decodeState(c, {
    model: o.model,
    tables,
    optimizers: {},
    what,
    exactTables: true,
    checkTable: (name, _table, file, mine) => {
      // A table without optimizer state (SGD) can take any rows; otherwise the kinds must agree.
      if (mine.stateWidth !== 0 && file.stateWidth !== mine.stateWidth) {
        throw new ArgumentError(`Expected optimizer state of ${mine.stateWidth} floats per row (or a serving table with SGD, which keeps none) for table ${name} but received ${file.stateWidth} from ${what}`);
      }
      if (file.sinceStep !== since) throw new FormatError(`${what} is malformed: table ${name} was exported since step ${file.sinceStep}, the update says ${since}`);
    },
  });
  const metadata = c.header.metadata ?? {};
  o.checkMetadata?.(metadata);
  const rows = applyState(decoded, { replaceTables: false });
  return { step: c.header.step, sinceStep: since, rows, metadata };
}

/**
 * Applies an update in place: the model's dense weights, then each table's rows (inserted or
 * overwritten; the other rows stay). Every check runs first and nothing changes when one fails:
 * a corrupt or truncated update throws a FormatError, a model or table that does not match a
 * ShapeError, DTypeError or ArgumentError, each naming the entry. Apply updates in the order
 * they were exported: an incremental update carries only the rows changed since the previous one.
 */
export function applyUpdate(data: Uint8Array, options: ApplyUpdateOptions): AppliedUpdate {
  if (!(data instanceof Uint8Array)) throw invalid('a Uint8Array (an exportUpdate result)', 'data', data);
  return apply(data, null, options);
}

/** Writes an update to `file` atomically (see writeFileAtomic); returns the path. */
export function saveUpdate(file: string, options: ExportUpdateOptions): string {
  if (typeof file !== 'string' || file.length === 0) throw invalid('a file path', 'file', file);
  writeFileAtomic(file, encodeUpdate(options));
  return file;
}

/** Reads an update written by {@link saveUpdate} and applies it as {@link applyUpdate} does. */
export function loadUpdate(file: string, options: ApplyUpdateOptions): AppliedUpdate {
  if (typeof file !== 'string' || file.length === 0) throw invalid('a file path', 'file', file);
  return apply(fs.readFileSync(file), file, options);
}
