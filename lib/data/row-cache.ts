import * as fs from 'node:fs';
import * as path from 'node:path';
import { Device, defaultDevice } from '../backend';
import { Batch, BatchArrays, emptyBatchArrays, finishBatch, SEQUENCE_PAD_ID } from './batches';
import { DataSchema } from './schema';
import { ReaderStats, Row } from './readers';
import { shuffleSync, ShuffleOptions } from './shuffle';

/** Rows per chunk. */
export const CHUNK_ROWS = 16384;

/** Bytes the caches of one job may hold in memory together; what does not fit goes to disk. */
export interface CacheBudget {
  /**
   * The budget in bytes, shared by the caches drawing on it (each cache subtracts what it keeps in
   * memory).
   */
  bytes: number;
}

/** Options of {@link RowCache}. */
export interface RowCacheOptions {
  /** The in-memory budget, shared by the caches that draw on it. */
  budget: CacheBudget;
  /** The file the chunks beyond the budget are appended to (made when first needed). */
  spillFile: string;
}

/** Where a chunk is: in memory, or at [offset, offset + length) of the spill file. */
type ChunkRef = { rows: number; buffer: ArrayBuffer } | { rows: number; offset: number; length: number };

/**
 * A chunk's layout. Each row's fixed-size part is one record of `stride` 32-bit words — its
 * line number, single-hot ids (word pairs), dense values as read, labels (NaN where missing),
 * weight (float64 each) and domain (int32) — so a batch of shuffled rows reads each row from
 * one place, not a cache miss per column. Bag and sequence fields follow as sections of their
 * own (lengths, then the ids).
 */
interface Layout {
  sparse: string[];
  lists: { name: string; kind: 'multi' | 'sequence' }[];
  dense: number;
  tasks: number;
  /** Word offsets within a record. */
  at: { line: number; sparse: number; dense: number; labels: number; weight: number; domain: number };
  /** Words per record (even: the float64s stay aligned). */
  stride: number;
}

function layoutOf(schema: DataSchema): Layout {
  const names = (kind: string) => schema.fields.filter((f) => f.kind === kind).map((f) => f.name);
  const sparse = names('sparse');
  const dense = schema.numeric.length;
  const tasks = schema.tasks.length;
  const at = { line: 0, sparse: 2, dense: 2 + 2 * sparse.length, labels: 0, weight: 0, domain: 0 };
  at.labels = at.dense + 2 * dense;
  at.weight = at.labels + 2 * tasks;
  at.domain = at.weight + 2;
  return {
    sparse,
    lists: schema.fields.filter((f) => f.kind === 'multi' || f.kind === 'sequence').map((f) => ({ name: f.name, kind: f.kind as 'multi' | 'sequence' })),
    dense,
    tasks,
    at,
    stride: at.domain + 2,
  };
}

/** Bytes rounded up to whole 8-byte words (every section starts 8-byte aligned). */
const aligned = (bytes: number) => Math.ceil(bytes / 8) * 8;

/** A chunk as typed views: the records (as words and as float64s) and the list sections; ids as pairs of 32-bit words (copied without making BigInts). */
interface ChunkView {
  words: Int32Array;
  f64: Float64Array;
  ids: BigInt64Array;
  lists: { lengths: Int32Array; starts: Int32Array; ids: Int32Array }[];
}

/** Views of a chunk of n rows whose lists hold listIds[k] ids each (from the lengths when not given). */
function viewOf(layout: Layout, buf: ArrayBuffer, n: number, listIds?: number[]): ChunkView {
  const recordBytes = 4 * layout.stride * n;
  const view: ChunkView = {
    words: new Int32Array(buf, 0, layout.stride * n),
    f64: new Float64Array(buf, 0, (layout.stride * n) / 2),
    ids: new BigInt64Array(buf, 0, (layout.stride * n) / 2),
    lists: [],
  };
  let at = recordBytes;
  for (let k = 0; k < layout.lists.length; ++k) {
    const lengths = new Int32Array(buf, at, n);
    at += aligned(4 * n);
    const starts = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; ++i) {
      starts[i] = total;
      total += listIds ? 0 : lengths[i];
    }
    if (listIds) total = listIds[k];
    view.lists.push({ lengths, starts, ids: new Int32Array(buf, at, 2 * total) });
    at += 8 * total;
  }
  return view;
}

/** Packs rows into one chunk buffer. */
function encode(layout: Layout, rows: readonly Row[]): ArrayBuffer {
  const n = rows.length;
  const { at, stride } = layout;
  const listOf = (r: Row, k: number) => (layout.lists[k].kind === 'multi' ? r.bags : r.sequences)[layout.lists[k].name];
  const listIds = layout.lists.map((_, k) => rows.reduce((s, r) => s + listOf(r, k).length, 0));
  const buf = new ArrayBuffer(4 * stride * n + layout.lists.reduce((s, _, k) => s + aligned(4 * n) + 8 * listIds[k], 0));
  const v = viewOf(layout, buf, n, listIds);
  const h = stride / 2; // float64s per record
  rows.forEach((r, i) => {
    v.f64[i * h + at.line / 2] = r.line;
    layout.sparse.forEach((name, k) => (v.ids[i * h + at.sparse / 2 + k] = r.ids[name]));
    for (let j = 0; j < layout.dense; ++j) v.f64[i * h + at.dense / 2 + j] = r.dense[j];
    r.labels.forEach((y, t) => (v.f64[i * h + at.labels / 2 + t] = y === null ? NaN : y));
    v.f64[i * h + at.weight / 2] = r.weight;
    v.words[i * stride + at.domain] = r.domain;
  });
  v.lists.forEach((l, k) => {
    const ids = new BigInt64Array(l.ids.buffer, l.ids.byteOffset, l.ids.length / 2);
    let p = 0;
    rows.forEach((r, i) => {
      const list = listOf(r, k);
      l.lengths[i] = list.length;
      for (const id of list) ids[p++] = id;
    });
  });
  return buf;
}

/** The rows of a chunk buffer, as the reader made them. */
function* decode(layout: Layout, buf: ArrayBuffer, n: number): Generator<Row> {
  const v = viewOf(layout, buf, n);
  const { at, stride } = layout;
  const h = stride / 2;
  const lists = v.lists.map((l) => ({ lengths: l.lengths, starts: l.starts, ids: new BigInt64Array(l.ids.buffer, l.ids.byteOffset, l.ids.length / 2) }));
  for (let i = 0; i < n; ++i) {
    const f = i * h;
    const row: Row = { line: v.f64[f + at.line / 2], ids: {}, bags: {}, sequences: {}, dense: [], labels: [], domain: v.words[i * stride + at.domain], weight: v.f64[f + at.weight / 2] };
    layout.sparse.forEach((name, k) => (row.ids[name] = v.ids[f + at.sparse / 2 + k]));
    layout.lists.forEach(({ name, kind }, k) => {
      const l = lists[k];
      const list = Array.from(l.ids.subarray(l.starts[i], l.starts[i] + l.lengths[i]));
      if (kind === 'multi') row.bags[name] = list;
      else row.sequences[name] = list;
    });
    row.dense = Array.from(v.f64.subarray(f + at.dense / 2, f + at.dense / 2 + layout.dense));
    row.labels = Array.from(v.f64.subarray(f + at.labels / 2, f + at.labels / 2 + layout.tasks), (y) => (Number.isNaN(y) ? null : y));
    yield row;
  }
}

/** pickArrays' copy of the batch's records, reused from batch to batch. */
let scratch = new Int32Array(0);
/** Where pickArrays' touching pass leaves its result, so that it is not optimized away. */
const touchSink = { value: 0 };

/** The host arrays of the batch of rows picks[0..B) (global row indices over the chunks). */
function pickArrays(schema: DataSchema, layout: Layout, views: ChunkView[], picks: Int32Array, B: number): BatchArrays {
  const T = layout.tasks;
  const D = layout.dense;
  const { at, stride } = layout;
  const chunk = new Int32Array(B);
  const row = new Int32Array(B);
  for (let b = 0; b < B; ++b) {
    chunk[b] = Math.floor(picks[b] / CHUNK_ROWS);
    row[b] = picks[b] - chunk[b] * CHUNK_ROWS;
  }
  const a = emptyBatchArrays(schema, B);
  // Each row's record in one copy, then every field's column out of the (cache-resident) copy.
  if (scratch.length < stride * B) scratch = new Int32Array(stride * B);
  const records = scratch;
  // First touch a word in every cache line of the batch's records: these loads do not wait on
  // each other, so the core has many of their cache misses in flight at once; the copy below
  // then reads from the cache instead of missing row after row.
  let touched = 0;
  for (let b = 0; b < B; ++b) {
    const src = views[chunk[b]].words;
    for (let w = stride * row[b], end = w + stride; w < end; w += 16) touched ^= src[w];
  }
  touchSink.value = touched;
  for (let b = 0; b < B; ++b) {
    const src = views[chunk[b]].words;
    for (let w = 0, from = stride * row[b], to = stride * b; w < stride; ++w) records[to + w] = src[from + w];
  }
  const f64 = new Float64Array(records.buffer);
  const h = stride / 2;
  const F = layout.sparse.length;
  if (F > 0) {
    const columns = new BigInt64Array(F * B); // field k's ids at [k·B, (k + 1)·B)
    const out = new Int32Array(columns.buffer);
    for (let k = 0; k < F; ++k) {
      const base = 2 * k * B;
      for (let b = 0, src = at.sparse + 2 * k; b < B; ++b, src += stride) {
        out[base + 2 * b] = records[src];
        out[base + 2 * b + 1] = records[src + 1];
      }
      a.ids[layout.sparse[k]] = columns.subarray(k * B, (k + 1) * B);
    }
  }
  for (let b = 0; b < B; ++b) {
    const f = b * h;
    for (let j = 0; j < D; ++j) a.numeric[b * D + j] = f64[f + at.dense / 2 + j];
    for (let t = 0; t < T; ++t) {
      const y = f64[f + at.labels / 2 + t];
      if (!Number.isNaN(y)) {
        a.labels[b * T + t] = y;
        a.labelMask[b * T + t] = 1;
      }
    }
    if (a.domain) a.domain[b] = records[b * stride + at.domain];
    if (a.weight) a.weight[b] = f64[f + at.weight / 2];
    a.lines[b] = f64[f + at.line / 2];
  }
  layout.lists.forEach(({ name, kind }, k) => {
    const list = (b: number) => views[chunk[b]].lists[k];
    if (kind === 'multi') {
      const offsets = new BigInt64Array(B);
      let n = 0;
      for (let b = 0; b < B; ++b) {
        offsets[b] = BigInt(n);
        n += list(b).lengths[row[b]];
      }
      const ids = new BigInt64Array(n);
      const out = new Int32Array(ids.buffer);
      let p = 0;
      for (let b = 0; b < B; ++b) {
        const l = list(b);
        const start = l.starts[row[b]];
        out.set(l.ids.subarray(2 * start, 2 * (start + l.lengths[row[b]])), 2 * p);
        p += l.lengths[row[b]];
      }
      a.bags[name] = { ids, offsets };
    } else {
      const L = schema.field(name)!.maxLength;
      const padded = new BigInt64Array(B * L).fill(SEQUENCE_PAD_ID);
      const out = new Int32Array(padded.buffer);
      const lengths = new Int32Array(B);
      for (let b = 0; b < B; ++b) {
        const l = list(b);
        const len = l.lengths[row[b]];
        const kept = Math.min(len, L); // the most recent L
        const start = l.starts[row[b]] + len - kept;
        out.set(l.ids.subarray(2 * start, 2 * (start + kept)), 2 * b * L);
        lengths[b] = kept;
      }
      a.sequences[name] = { padded, lengths, maxLength: L };
    }
  });
  return a;
}

/** Options of `RowCache.batches()`. */
export interface CacheBatchOptions {
  /** Rows per batch. */
  batchSize: number;
  /** Device of the tensors (default: `defaultDevice()`). */
  device?: Device;
  /** Drop the last batch when it has fewer than batchSize rows (default false). */
  dropLast?: boolean;
  /** A sparse field whose ids come in `raw.group`. */
  groupField?: string;
}

/**
 * RowCache: the rows of one pass over a source, kept as columnar chunks, so that later passes
 * (the next epochs, the validation rows every epoch) skip parsing and hashing. A chunk holds up
 * to CHUNK_ROWS rows, encoded into one ArrayBuffer of typed sections (line numbers, the
 * single-hot ids row-major, each bag and sequence field's lengths and ids, the dense values as read (the
 * numeric treatment applies as batches are built, so one cache serves any fitted state), the
 * labels — NaN where missing —, the domain and the weight). Chunks stay in memory while a
 * shared budget lasts; after that each one is appended to a spill file and read back on every
 * pass. A pass over the cache gives back rows equal to the source's, in the same order.
 */
export class RowCache implements AsyncIterable<Row> {
  private readonly layout: Layout;
  private readonly chunks: ChunkRef[] = [];
  private pending: Row[] = [];
  private spillBytes = 0;
  private done = false;
  private readerStats: ReaderStats = { rows: 0, skipped: 0, errors: [] };

  constructor(
    private readonly schema: DataSchema,
    private readonly options: RowCacheOptions,
  ) {
    this.layout = layoutOf(schema);
  }

  /** Whether a whole pass has been recorded (only then can the cache be read). */
  get complete(): boolean {
    return this.done;
  }
  /** The source reader's counts of the recorded pass. */
  get stats(): ReaderStats {
    return this.readerStats;
  }
  /** Rows held. */
  get rows(): number {
    return this.chunks.reduce((s, c) => s + c.rows, 0) + this.pending.length;
  }
  /** Bytes held in memory, and in the spill file. */
  get memoryBytes(): number {
    return this.chunks.reduce((s, c) => s + ('buffer' in c ? c.buffer.byteLength : 0), 0);
  }
  /** Bytes of chunks written to the spill file. */
  get spilledBytes(): number {
    return this.spillBytes;
  }

  /**
   * The source's rows, passed through while they are recorded. When the pass ends, the cache is
   * complete and `stats()` (the reader's counts, read then) is kept with it; a pass given up
   * midway leaves it incomplete and empty.
   */
  record(source: AsyncIterable<Row>, stats: () => ReaderStats): AsyncIterable<Row> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        self.clear();
        let finished = false;
        try {
          for await (const row of source) {
            self.add(row);
            yield row;
          }
          finished = true;
        } finally {
          if (finished) {
            self.flush();
            const s = stats();
            self.readerStats = { rows: s.rows, skipped: s.skipped, errors: [...s.errors] };
            self.done = true;
          } else {
            self.clear();
          }
        }
      },
    };
  }

  /** The cached rows, in the order recorded (a fresh pass per call). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Row> {
    yield* this.rowsSync();
  }

  /** The recorded rows, synchronously (a pipeline with no await per row: shuffleSync, batchesSync). */
  *rowsSync(): Generator<Row> {
    if (!this.done) throw new Error('RowCache: the pass was not recorded whole; read the source instead');
    for (const chunk of this.chunks) yield* decode(this.layout, this.load(chunk), chunk.rows);
  }

  /**
   * The recorded rows as batches built straight from the columns (no Row objects), in
   * recorded order or shuffled: the same batches as
   * `batchesSync(order ? shuffleSync(rowsSync(), order) : rowsSync(), schema, options)`.
   * Every chunk is in memory for the pass (spilled ones read back): with spilled chunks, the
   * rowsSync() pipeline keeps to the budget.
   */
  *batches(options: CacheBatchOptions, order: ShuffleOptions | null = null): Generator<Batch> {
    if (!this.done) throw new Error('RowCache: the pass was not recorded whole; read the source instead');
    const device = options.device ?? defaultDevice();
    const group = options.groupField ?? null;
    const views = this.chunks.map((c) => viewOf(this.layout, this.load(c), c.rows));
    const n = this.rows;
    const size = options.batchSize;
    const all = (function* () {
      for (let g = 0; g < n; ++g) yield g;
    })();
    let picks = new Int32Array(size);
    let B = 0;
    for (const g of order ? shuffleSync(all, order) : all) {
      picks[B++] = g;
      if (B === size) {
        yield finishBatch(pickArrays(this.schema, this.layout, views, picks, B), this.schema, device, group);
        picks = new Int32Array(size);
        B = 0;
      }
    }
    if (B > 0 && !options.dropLast) yield finishBatch(pickArrays(this.schema, this.layout, views, picks, B), this.schema, device, group);
  }

  /** Whether every chunk is in memory (batches() reads the spilled ones once per pass). */
  get inMemory(): boolean {
    return this.spillBytes === 0;
  }

  /** Frees the chunks and deletes the spill file; what was held goes back to the budget. */
  dispose(): void {
    this.clear();
  }

  private add(row: Row): void {
    this.pending.push(row);
    if (this.pending.length === CHUNK_ROWS) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const buffer = encode(this.layout, this.pending);
    const rows = this.pending.length;
    this.pending = [];
    const budget = this.options.budget;
    if (buffer.byteLength <= budget.bytes) {
      budget.bytes -= buffer.byteLength;
      this.chunks.push({ rows, buffer });
      return;
    }
    const file = this.options.spillFile;
    if (this.spillBytes === 0) fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, new Uint8Array(buffer), { flag: this.spillBytes === 0 ? 'w' : 'a' });
    this.chunks.push({ rows, offset: this.spillBytes, length: buffer.byteLength });
    this.spillBytes += buffer.byteLength;
  }

  private load(chunk: ChunkRef): ArrayBuffer {
    if ('buffer' in chunk) return chunk.buffer;
    const buf = new ArrayBuffer(chunk.length);
    const fd = fs.openSync(this.options.spillFile, 'r');
    try {
      let got = 0;
      while (got < chunk.length) {
        const k = fs.readSync(fd, new Uint8Array(buf, got), 0, chunk.length - got, chunk.offset + got);
        if (k === 0) throw new Error(`RowCache: ${this.options.spillFile} ended early (${got} of ${chunk.length} bytes at ${chunk.offset})`);
        got += k;
      }
    } finally {
      fs.closeSync(fd);
    }
    return buf;
  }

  private clear(): void {
    this.options.budget.bytes += this.memoryBytes;
    this.chunks.length = 0;
    this.pending = [];
    this.done = false;
    if (this.spillBytes > 0) fs.rmSync(this.options.spillFile, { force: true });
    this.spillBytes = 0;
  }
}
