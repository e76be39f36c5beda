/**
 * RowCache: the rows of one pass over a source, kept as columnar chunks, so that later passes
 * (the next epochs, the validation rows every epoch) skip parsing and hashing. A chunk holds up
 * to CHUNK_ROWS rows, encoded into one ArrayBuffer of typed sections (line numbers, each
 * sparse field's ids, each bag and sequence field's lengths and ids, the dense values as read (the
 * numeric treatment applies as batches are built, so one cache serves any fitted state), the
 * labels — NaN where missing —, the domain and the weight). Chunks stay in memory while a
 * shared budget lasts; after that each one is appended to a spill file and read back on every
 * pass. A pass over the cache gives back rows equal to the source's, in the same order.
 */
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
  bytes: number;
}

export interface RowCacheOptions {
  /** The in-memory budget, shared by the caches that draw on it. */
  budget: CacheBudget;
  /** The file the chunks beyond the budget are appended to (made when first needed). */
  spillFile: string;
}

/** Where a chunk is: in memory, or at [offset, offset + length) of the spill file. */
type ChunkRef = { rows: number; buffer: ArrayBuffer } | { rows: number; offset: number; length: number };

/** The schema's fields by kind, in schema order: the sections of a chunk. */
interface Layout {
  sparse: string[];
  lists: { name: string; kind: 'multi' | 'sequence' }[];
  dense: number;
  tasks: number;
}

function layoutOf(schema: DataSchema): Layout {
  const names = (kind: string) => schema.fields.filter((f) => f.kind === kind).map((f) => f.name);
  return {
    sparse: names('sparse'),
    lists: schema.fields.filter((f) => f.kind === 'multi' || f.kind === 'sequence').map((f) => ({ name: f.name, kind: f.kind as 'multi' | 'sequence' })),
    dense: schema.numeric.length,
    tasks: schema.tasks.length,
  };
}

/** Bytes rounded up to whole 8-byte words (every section starts 8-byte aligned). */
const aligned = (bytes: number) => Math.ceil(bytes / 8) * 8;

/** Packs rows into one chunk buffer. */
function encode(layout: Layout, rows: readonly Row[]): ArrayBuffer {
  const n = rows.length;
  const listIds = layout.lists.map(({ name, kind }) => rows.reduce((s, r) => s + (kind === 'multi' ? r.bags[name] : r.sequences[name]).length, 0));
  const size =
    8 * n + // line (f64)
    layout.sparse.length * 8 * n +
    layout.lists.reduce((s, _, i) => s + aligned(4 * n) + 8 * listIds[i], 0) +
    8 * n * layout.dense +
    8 * n * layout.tasks +
    aligned(4 * n) + // domain
    8 * n; // weight
  const buf = new ArrayBuffer(size);
  let at = 0;
  const take = <T>(make: (b: ArrayBuffer, o: number, len: number) => T, len: number, bytesPer: number): T => {
    const view = make(buf, at, len);
    at += aligned(len * bytesPer);
    return view;
  };
  const f64 = (len: number) => take((b, o, l) => new Float64Array(b, o, l), len, 8);
  const i64 = (len: number) => take((b, o, l) => new BigInt64Array(b, o, l), len, 8);
  const i32 = (len: number) => take((b, o, l) => new Int32Array(b, o, l), len, 4);
  const line = f64(n);
  rows.forEach((r, i) => (line[i] = r.line));
  for (const name of layout.sparse) {
    const ids = i64(n);
    rows.forEach((r, i) => (ids[i] = r.ids[name]));
  }
  layout.lists.forEach(({ name, kind }, k) => {
    const lengths = i32(n);
    const ids = i64(listIds[k]);
    let p = 0;
    rows.forEach((r, i) => {
      const list = kind === 'multi' ? r.bags[name] : r.sequences[name];
      lengths[i] = list.length;
      for (const id of list) ids[p++] = id;
    });
  });
  const dense = f64(n * layout.dense);
  rows.forEach((r, i) => dense.set(r.dense, i * layout.dense));
  const labels = f64(n * layout.tasks);
  rows.forEach((r, i) => r.labels.forEach((v, t) => (labels[i * layout.tasks + t] = v === null ? NaN : v)));
  const domain = i32(n);
  rows.forEach((r, i) => (domain[i] = r.domain));
  const weight = f64(n);
  rows.forEach((r, i) => (weight[i] = r.weight));
  return buf;
}

/** The rows of a chunk buffer, as the reader made them. */
function* decode(layout: Layout, buf: ArrayBuffer, n: number): Generator<Row> {
  const v = viewOf(layout, buf, n);
  const big = (w: Int32Array) => new BigInt64Array(w.buffer, w.byteOffset, w.length / 2);
  const sparse = v.sparse.map(big);
  const lists = v.lists.map((l) => ({ lengths: l.lengths, starts: l.starts, ids: big(l.ids) }));
  for (let i = 0; i < n; ++i) {
    const row: Row = { line: v.line[i], ids: {}, bags: {}, sequences: {}, dense: [], labels: [], domain: v.domain[i], weight: v.weight[i] };
    layout.sparse.forEach((name, k) => (row.ids[name] = sparse[k][i]));
    layout.lists.forEach(({ name, kind }, k) => {
      const l = lists[k];
      const list = Array.from(l.ids.subarray(l.starts[i], l.starts[i] + l.lengths[i]));
      if (kind === 'multi') row.bags[name] = list;
      else row.sequences[name] = list;
    });
    row.dense = Array.from(v.dense.subarray(i * layout.dense, (i + 1) * layout.dense));
    row.labels = Array.from(v.labels.subarray(i * layout.tasks, (i + 1) * layout.tasks), (y) => (Number.isNaN(y) ? null : y));
    yield row;
  }
}

/** A chunk's columns as typed views; ids as pairs of 32-bit words (copied without making BigInts). */
interface ChunkView {
  line: Float64Array;
  sparse: Int32Array[];
  lists: { lengths: Int32Array; starts: Int32Array; ids: Int32Array }[];
  dense: Float64Array;
  labels: Float64Array;
  domain: Int32Array;
  weight: Float64Array;
}

function viewOf(layout: Layout, buf: ArrayBuffer, n: number): ChunkView {
  let at = 0;
  const take = <T>(make: (o: number, len: number) => T, len: number, bytesPer: number): T => {
    const view = make(at, len);
    at += aligned(len * bytesPer);
    return view;
  };
  const f64 = (len: number) => take((o, l) => new Float64Array(buf, o, l), len, 8);
  const words = (len: number) => take((o, l) => new Int32Array(buf, o, 2 * l), len, 8);
  const i32 = (len: number) => take((o, l) => new Int32Array(buf, o, l), len, 4);
  const line = f64(n);
  const sparse = layout.sparse.map(() => words(n));
  const lists = layout.lists.map(() => {
    const lengths = i32(n);
    const starts = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; ++i) {
      starts[i] = total;
      total += lengths[i];
    }
    return { lengths, starts, ids: words(total) };
  });
  return { line, sparse, lists, dense: f64(n * layout.dense), labels: f64(n * layout.tasks), domain: i32(n), weight: f64(n) };
}

/** The host arrays of the batch of rows picks[0..B) (global row indices over the chunks). */
function pickArrays(schema: DataSchema, layout: Layout, views: ChunkView[], picks: Int32Array, B: number): BatchArrays {
  const T = layout.tasks;
  const D = layout.dense;
  const chunk = new Int32Array(B);
  const row = new Int32Array(B);
  for (let b = 0; b < B; ++b) {
    chunk[b] = Math.floor(picks[b] / CHUNK_ROWS);
    row[b] = picks[b] - chunk[b] * CHUNK_ROWS;
  }
  const a = emptyBatchArrays(schema, B);
  layout.sparse.forEach((name, k) => {
    const ids = new BigInt64Array(B);
    const out = new Int32Array(ids.buffer);
    for (let b = 0; b < B; ++b) {
      const src = views[chunk[b]].sparse[k];
      out[2 * b] = src[2 * row[b]];
      out[2 * b + 1] = src[2 * row[b] + 1];
    }
    a.ids[name] = ids;
  });
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
  for (let b = 0; b < B; ++b) {
    const v = views[chunk[b]];
    const i = row[b];
    for (let j = 0; j < D; ++j) a.numeric[b * D + j] = v.dense[i * D + j];
    for (let t = 0; t < T; ++t) {
      const y = v.labels[i * T + t];
      if (!Number.isNaN(y)) {
        a.labels[b * T + t] = y;
        a.labelMask[b * T + t] = 1;
      }
    }
    if (a.domain) a.domain[b] = v.domain[i];
    if (a.weight) a.weight[b] = v.weight[i];
    a.lines[b] = v.line[i];
  }
  return a;
}

export interface CacheBatchOptions {
  batchSize: number;
  /** Device of the tensors (default: `defaultDevice()`). */
  device?: Device;
  dropLast?: boolean;
  /** A sparse field whose ids come in `raw.group`. */
  groupField?: string;
}

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
