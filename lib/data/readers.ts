/**
 * Streaming readers of training rows: CSV/TSV ({@link readCsv}) and JSON Lines
 * ({@link readJsonl}) from a file (gzipped when the name ends in `.gz`) or any (async)
 * iterable of text, parsed against a {@link DataSchema} into typed {@link Row}s; a seeded
 * {@link shuffle} buffer; and {@link batches}, which turns rows into tensors for a model.
 *
 * Every reader, shuffle and batches result is re-iterable when its source is (a file path
 * is read again on each pass: one pass per epoch).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as zlib from 'node:zlib';
import { FormatError } from '../errors';
import { checkBoolean, checkKnownKeys, checkOneOf, checkOptions, invalid } from '../validate';
import { splitCsvRecord } from './csv';
import { hashId, parseInt64 } from './hash';
import { slog } from './numeric-stats';
import { DataSchema, defineSchema, ResolvedField, Schema } from './schema';

/** A file path, or text as an (async) iterable of chunks (or of lines, with `lines: true`). */
export type TextSource = string | AsyncIterable<string> | Iterable<string>;

/** One parsed row. */
export interface Row {
  /** The (first) line of the source it came from, 1-based. */
  line: number;
  /** sparse fields: the id. */
  ids: Record<string, bigint>;
  /** multi fields: the bag's ids (at most maxLength). */
  bags: Record<string, bigint[]>;
  /** sequence fields: the ids, oldest first, the most recent maxLength kept. */
  sequences: Record<string, bigint[]>;
  /** Every dense field's value as read (after a declared log1p; NaN for a missing value of a bucketized field), in the schema's `numeric` order; batches normalize and bucketize them. */
  dense: number[];
  /** Labels in the schema's `tasks` order; null where missing. */
  labels: (number | null)[];
  /** The domain id, or -1 without a domain field. */
  domain: number;
  /** The sample weight (1 without a weight field or when missing). */
  weight: number;
}

/**
 * Options every reader takes: error handling, the source's name, and how an iterable source is
 * split into lines.
 */
export interface ReaderOptions {
  /** 'fail' (default): a malformed row throws a FormatError; 'skip': it is skipped and counted in `stats`. */
  onError?: 'skip' | 'fail';
  /** The source's name in error messages (default: a file's base name, else 'input'). */
  name?: string;
  /** For an iterable source: each item is one whole line without its line break (default false: items are chunks of text that may split lines anywhere). */
  lines?: boolean;
}

/** Options of {@link readCsv}. */
export interface CsvOptions extends ReaderOptions {
  /** The first line names the columns (default true, or false when `columns` is given). */
  header?: boolean;
  /** Column names (required without a header; with one, they replace it). */
  columns?: string[];
  /** Field delimiter (default '\t' for a `.tsv` or `.tsv.gz` file, else ','). */
  delimiter?: string;
}

/** Options of {@link readJsonl}. */
export type JsonlOptions = ReaderOptions;

/** A reader's counts of one pass. */
export interface ReaderStats {
  /** Rows read. */
  rows: number;
  /** Malformed rows skipped (onError 'skip'). */
  skipped: number;
  /** The first 10 error messages. */
  errors: string[];
}

/** The rows of a source; `stats` counts the current (or last) pass. */
export interface RowReader extends AsyncIterable<Row> {
  /** The current (or last) pass's counts. */
  readonly stats: ReaderStats;
  /** The schema the rows are parsed with. */
  readonly schema: DataSchema;
}

/** A bad value: the reader adds the source and line. */
class RowError extends Error {
  constructor(
    readonly field: string | null,
    message: string,
  ) {
    super(message);
  }
}

function shown(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '…' : v}'`;
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? s.slice(0, 40) + '…' : s;
}

const isMissing = (v: unknown): boolean => v === undefined || v === null || v === '';

function toNumber(f: ResolvedField, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const x = Number(v);
    if (Number.isFinite(x)) return x;
  }
  if (typeof v === 'boolean' && f.kind === 'label') return v ? 1 : 0;
  throw new RowError(f.name, `expected a number but found ${shown(v)}`);
}

/** A dense value after its field's read-time transform ('log1p': sign(x)·log(1 + |x|)). */
function transformed(f: ResolvedField, x: number): number {
  return f.transform === 'log1p' ? slog(x) : x;
}

/** A dense cell: its value, its default, NaN (a bucketized field's missing bucket) or a row error. */
function denseValue(f: ResolvedField, v: unknown): number {
  if (!isMissing(v)) return transformed(f, toNumber(f, v));
  if (f.default !== undefined) return transformed(f, f.default as number);
  if (f.numeric?.bucketize) return NaN;
  throw new RowError(f.name, 'missing value (the field has no default)');
}

/** Hashed ids of recent values per field: categories repeat, and hashing is most of a reader's time. */
const idCache = new WeakMap<ResolvedField, Map<string, bigint>>();
const ID_CACHE_SIZE = 1 << 16;

function hashed(f: ResolvedField, value: string): bigint {
  let cache = idCache.get(f);
  if (!cache) idCache.set(f, (cache = new Map()));
  let id = cache.get(value);
  if (id === undefined) {
    id = hashId(f.hashKey, value);
    // A field of many distinct values (user ids) starts over rather than growing without bound.
    if (cache.size >= ID_CACHE_SIZE) cache.clear();
    cache.set(value, id);
  }
  return id;
}

function toId(f: ResolvedField, v: unknown): bigint {
  if (typeof v === 'number' && Number.isFinite(v)) {
    if (f.hash) return hashed(f, String(v));
    if (Number.isSafeInteger(v)) return BigInt(v);
    throw new RowError(f.name, `expected an integer id (ids beyond 2^53 as strings) but found ${shown(v)}`);
  }
  if (typeof v === 'string') {
    if (f.hash) return hashed(f, v);
    const id = parseInt64(v);
    if (id === undefined) throw new RowError(f.name, `expected an int64 id but found ${shown(v)}`);
    return id;
  }
  throw new RowError(f.name, `expected an id but found ${shown(v)}`);
}

function toIds(f: ResolvedField, v: unknown): bigint[] {
  let items: unknown[];
  if (isMissing(v)) items = [];
  else if (Array.isArray(v)) items = v;
  else if (typeof v === 'string') items = v.split(f.separator).filter((s) => s !== '');
  else items = [v];
  if (items.length > f.maxLength) items = f.kind === 'sequence' ? items.slice(items.length - f.maxLength) : items.slice(0, f.maxLength);
  return items.map((x) => toId(f, x));
}

/** Builds a Row from the raw value of each field. */
function toRow(schema: DataSchema, line: number, get: (f: ResolvedField) => unknown): Row {
  const row: Row = { line, ids: {}, bags: {}, sequences: {}, dense: [], labels: [], domain: -1, weight: 1 };
  for (const f of schema.fields) {
    const v = get(f);
    switch (f.kind) {
      case 'sparse':
        if (isMissing(v) && f.default === undefined) throw new RowError(f.name, 'missing value (the field has no default)');
        row.ids[f.name] = toId(f, isMissing(v) ? f.default : v);
        break;
      case 'multi':
        row.bags[f.name] = toIds(f, v);
        break;
      case 'sequence':
        row.sequences[f.name] = toIds(f, v);
        break;
      case 'dense':
        row.dense.push(denseValue(f, v));
        break;
      case 'label':
        row.labels.push(isMissing(v) ? null : f.positive ? (f.positive.includes(String(v).trim()) ? 1 : 0) : toNumber(f, v));
        break;
      case 'weight':
        if (!isMissing(v)) row.weight = toNumber(f, v);
        if (row.weight < 0) throw new RowError(f.name, `expected a non-negative weight but found ${shown(v)}`);
        break;
      case 'domain': {
        if (isMissing(v)) throw new RowError(f.name, 'missing domain');
        if (typeof v !== 'string' && typeof v !== 'number') throw new RowError(f.name, `expected a domain value but found ${shown(v)}`);
        const d = schema.domainId(String(v).trim());
        if (d < 0) {
          const known = schema.domainNames.map((n) => `'${n}'`).join(', ');
          throw new RowError(f.name, schema.fixedDomains ? `expected one of ${known} but found ${shown(v)}` : `found a domain past maxDomains ${schema.maxDomains}: ${shown(v)}`);
        }
        row.domain = d;
        break;
      }
    }
  }
  return row;
}

// ---- sources

function sourceName(source: TextSource, name: string | undefined): string {
  if (name !== undefined) {
    if (typeof name !== 'string') throw invalid('a string', 'options.name', name);
    return name;
  }
  return typeof source === 'string' ? path.basename(source) : 'input';
}

function checkSource(source: unknown): TextSource {
  if (typeof source === 'string') return source;
  if (source !== null && typeof source === 'object' && (Symbol.asyncIterator in source || Symbol.iterator in source)) return source as TextSource;
  throw invalid('a file path or an (async) iterable of strings', 'source', source);
}

/** The physical lines of a source, without line breaks. */
async function* readLines(source: TextSource, lines: boolean): AsyncGenerator<string> {
  if (typeof source === 'string') {
    const file = fs.createReadStream(source);
    let input: NodeJS.ReadableStream = file;
    if (source.endsWith('.gz')) {
      const gunzip = zlib.createGunzip();
      file.on('error', (e) => gunzip.destroy(e));
      input = file.pipe(gunzip);
    }
    let failed: Error | null = null;
    input.on('error', (e: Error) => (failed = e));
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of rl) yield line;
    } finally {
      rl.close();
      file.destroy();
    }
    if (failed) throw failed;
    return;
  }
  let rest = '';
  for await (const chunk of source as AsyncIterable<string>) {
    if (typeof chunk !== 'string') throw invalid('strings', 'source items', chunk);
    if (lines) {
      yield chunk.endsWith('\r') ? chunk.slice(0, -1) : chunk;
      continue;
    }
    rest += chunk;
    let start = 0;
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n', start)) {
      yield rest.charCodeAt(nl - 1) === 13 && nl > start ? rest.slice(start, nl - 1) : rest.slice(start, nl);
      start = nl + 1;
    }
    rest = rest.slice(start);
  }
  if (rest !== '') yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}

/** A source's records: [first line number, fields or parse error]. */
type Parsed = { line: number; get: (f: ResolvedField) => unknown } | { line: number; error: RowError };

function makeReader(schemaSpec: Schema | DataSchema, options: ReaderOptions | undefined, known: string[], records: (o: ReaderOptions, name: string) => AsyncIterable<Parsed>, source: unknown): RowReader {
  const schema = defineSchema(schemaSpec);
  const src = checkSource(source);
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['onError', 'name', 'lines', ...known]);
  const onError = checkOneOf(o.onError ?? 'fail', 'options.onError', ['skip', 'fail'] as const);
  if (o.lines !== undefined) checkBoolean(o.lines, 'options.lines');
  const name = sourceName(src, o.name);
  const stats: ReaderStats = { rows: 0, skipped: 0, errors: [] };
  return {
    stats,
    schema,
    async *[Symbol.asyncIterator]() {
      stats.rows = 0;
      stats.skipped = 0;
      stats.errors = [];
      for await (const rec of records(o, name)) {
        let row: Row;
        try {
          if ('error' in rec) throw rec.error;
          row = toRow(schema, rec.line, rec.get);
        } catch (e) {
          if (!(e instanceof RowError)) throw e;
          const msg = `${name} line ${rec.line}${e.field === null ? '' : `, field '${e.field}'`}: ${e.message}`;
          if (onError === 'fail') throw new FormatError(msg);
          stats.skipped++;
          if (stats.errors.length < 10) stats.errors.push(msg);
          continue;
        }
        stats.rows++;
        yield row;
      }
    },
  };
}

/**
 * Reads CSV (or TSV) rows: RFC 4180 quoting, CRLF or LF line breaks, blank lines ignored,
 * columns not in the schema ignored. Multi and sequence cells hold ids joined by their
 * field's separator.
 *
 * @throws (while iterating) FormatError "census.csv line 17, field 'age': expected a number
 * but found 'abc'" for a malformed row (unless onError 'skip'), and for a header that lacks
 * a schema field (always).
 */
export function readCsv(source: TextSource, schema: Schema | DataSchema, options?: CsvOptions): RowReader {
  const o = checkOptions(options, 'options');
  if (o.columns !== undefined && (!Array.isArray(o.columns) || o.columns.some((c) => typeof c !== 'string'))) throw invalid('an array of column names', 'options.columns', o.columns);
  const header = o.header === undefined ? o.columns === undefined : checkBoolean(o.header, 'options.header');
  if (!header && o.columns === undefined) throw invalid('column names (the source has no header)', 'options.columns', o.columns);
  const tsv = typeof source === 'string' && /\.tsv(\.gz)?$/i.test(source);
  const delimiter = o.delimiter === undefined ? (tsv ? '\t' : ',') : o.delimiter;
  if (typeof delimiter !== 'string' || delimiter.length === 0 || delimiter.includes('"') || delimiter.includes('\n')) throw invalid('a non-empty delimiter without quotes or line breaks', 'options.delimiter', delimiter);
  const defined = defineSchema(schema);
  const fields = defined.fields;
  return makeReader(
    defined,
    options,
    ['header', 'columns', 'delimiter'],
    async function* (ro, name) {
      let columns: string[] | null = o.columns ? o.columns.slice() : null;
      let at: number[] = [];
      const bind = (cols: string[], line: number) => {
        at = fields.map((f) => {
          const i = cols.indexOf(f.name);
          if (i < 0) throw new FormatError(`${name} line ${line}: no column for field '${f.name}' (columns: ${cols.join(', ')})`);
          return i;
        });
      };
      if (columns) bind(columns, 0);
      let pending: string | null = null;
      let start = 0;
      let lineNo = 0;
      let needHeader = header;
      for await (let line of readLines(source, ro.lines ?? false)) {
        ++lineNo;
        if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
        if (pending === null) {
          if (line.trim() === '') continue;
          start = lineNo;
        }
        const text: string = pending === null ? line : `${pending}\n${line}`;
        const rec = splitCsvRecord(text, delimiter);
        if ('open' in rec) {
          pending = text;
          continue;
        }
        pending = null;
        if ('error' in rec) {
          if (needHeader) throw new FormatError(`${name} line ${start}: ${rec.error}`);
          yield { line: start, error: new RowError(null, rec.error) };
          continue;
        }
        if (needHeader) {
          needHeader = false;
          if (!columns) bind((columns = rec.fields.map((c) => c.trim())), start);
          continue;
        }
        const cells = rec.fields;
        if (cells.length !== (columns as string[]).length) {
          yield { line: start, error: new RowError(null, `expected ${(columns as string[]).length} columns but found ${cells.length}`) };
          continue;
        }
        yield { line: start, get: (f: ResolvedField) => cells[at[f.index]] };
      }
      if (pending !== null) yield { line: start, error: new RowError(null, 'unterminated quoted field at the end of the input') };
    },
    source,
  );
}

/**
 * One row from a plain object (a JSON request body, say), read as readJsonl reads a line:
 * values by field name, missing labels masked. `where` names it in errors (default 'row').
 *
 * @throws FormatError "request 3, field 'age': expected a number but found 'abc'".
 */
export function rowFromObject(schema: Schema | DataSchema, obj: Record<string, unknown>, where = 'row'): Row {
  const s = defineSchema(schema);
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw invalid('a plain object', where, obj);
  try {
    return toRow(s, 0, (f) => (Object.prototype.hasOwnProperty.call(obj, f.name) ? obj[f.name] : undefined));
  } catch (e) {
    if (!(e instanceof RowError)) throw e;
    throw new FormatError(`${where}${e.field === null ? '' : `, field '${e.field}'`}: ${e.message}`);
  }
}

/**
 * Reads JSON Lines: one object per line, blank lines ignored. Values may be numbers,
 * strings, booleans (labels), arrays (multi and sequence fields) or null / absent (missing).
 *
 * @throws (while iterating) FormatError naming the line (and the field) of a malformed row, unless onError 'skip'.
 */
export function readJsonl(source: TextSource, schema: Schema | DataSchema, options?: JsonlOptions): RowReader {
  return makeReader(
    schema,
    options,
    [],
    async function* (ro) {
      let lineNo = 0;
      for await (const line of readLines(source, ro.lines ?? false)) {
        ++lineNo;
        if (line.trim() === '') continue;
        let obj: unknown;
        try {
          obj = JSON.parse(line);
        } catch (e) {
          yield { line: lineNo, error: new RowError(null, `invalid JSON (${(e as Error).message})`) };
          continue;
        }
        if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
          yield { line: lineNo, error: new RowError(null, `expected a JSON object but found ${shown(obj)}`) };
          continue;
        }
        const o = obj as Record<string, unknown>;
        yield { line: lineNo, get: (f: ResolvedField) => (Object.prototype.hasOwnProperty.call(o, f.name) ? o[f.name] : undefined) };
      }
    },
    source,
  );
}
