import { record } from '../autograd';
import { Device } from '../backend';
import { DTypeError, DisposedError, fromNativeError, ShapeError } from '../errors';
import { native, NativeTensor } from '../native';
import { Module } from '../nn/module';
import { concat } from '../ops/layout';
import { keep } from '../scope';
import { Tensor, tensor, zeros } from '../tensor';
import { checkBoolean, checkInt, checkKnownKeys, checkOneOf, checkOptions, checkRange, invalid } from '../validate';
import { EmbeddingTableOptions, EvictionPolicy, ResolvedTableOptions, resolveTableOptions } from './options';

/** Ids: a BigInt64Array, an int64 tensor, or an array of integers (numbers or bigints). */
export type Ids = BigInt64Array | Tensor | readonly (number | bigint)[];

/** Options of `EmbeddingTable.lookupBag()`. */
export interface LookupBagOptions {
  /** 'sum' (default) or 'mean' over each bag. */
  mode?: 'sum' | 'mean';
  /** A weight per id (n), e.g. a tag's strength; a float32 tensor that requires grad gets its gradient. */
  weights?: Float32Array | readonly number[] | Tensor;
}

/** Options of `EmbeddingTable.evict()`: which rows to remove now. */
export interface EvictOptions {
  /** Remove rows expired under ttlSteps / ttlSeconds (default true). */
  expired?: boolean;
  /** Remove rows updated fewer than this many times (default 0: none). */
  minUpdates?: number;
  /** Then remove the lowest-valued rows until at most this many remain. */
  toSize?: number;
}

/** Bytes each row of a table costs (the table allocates `capacity` rows up front). */
export interface RowBytes {
  /** The embedding: 4·dim. */
  embedding: number;
  /** The optimizer's state: 0 (SGD), 4·dim (AdaGrad) or 8·dim (Adam). */
  optimizer: number;
  /** Id, last lookup step and time, last change, lookup count and score, update count: 36. */
  metadata: number;
  /** The bucket index: a digest byte and an 8-byte eviction value: 9. */
  index: number;
  /** The sum of the parts. */
  total: number;
}

/** What `EmbeddingTable.stats()` reports: occupancy, the step clock, the bucket layout and the memory. */
export interface TableStats {
  /** Rows in use. */
  size: number;
  /** Rows allocated (the hard cap). */
  capacity: number;
  /** size / capacity. */
  loadFactor: number;
  /** Optimizer steps taken (the clock of lru, score and ttlSteps). */
  step: number;
  /** Slots per bucket, and buckets (see options.bucketSize). */
  bucketSize: number;
  /** Number of buckets (capacity / bucketSize, rounded up). */
  buckets: number;
  /** What one row costs, by part. */
  bytesPerRow: RowBytes;
  /** The whole table: capacity · bytesPerRow.total, plus the admission sketch. */
  memoryBytes: number;
  /** Ids looked up, repeats included. */
  lookups: number;
  /** Of those, the ones whose id held a live row (hit rate = hits / lookups). */
  hits: number;
  /** Rows given to new ids. */
  inserts: number;
  /** Expired rows re-initialized when their id came back before they were removed. */
  reinits: number;
  /** Training sightings of ids not yet admitted (admitAfter). */
  rejected: number;
  /** Admitted ids that found no row: every row of their bucket was in use in the current step. */
  dropped: number;
  /** Rows freed to make room (capacity) or by evict({ toSize }). */
  evictions: number;
  /** Rows removed for expiry. */
  expired: number;
  /** Rows removed for too few updates. */
  pruned: number;
}

/** The native bookkeeping of one lookup, kept for its backward. */
interface Prepared {
  ukeys: NativeTensor;
  urow: NativeTensor;
  inverse: NativeTensor;
  perm: NativeTensor;
  seg: NativeTensor;
  n: number;
  unique: number;
}

/** A deduplicated gradient waiting for the optimizer step: rows and ids (U), grads (U, dim). */
interface PendingGrad {
  rows: Tensor;
  keys: Tensor;
  grads: Tensor;
}

interface Internals {
  handle: unknown;
  anchor: Tensor;
  defaultRow: Tensor | null;
  pending: PendingGrad[];
  /** Recorded lookups whose bookkeeping waits for their graph to be released. */
  recorded: { out: WeakRef<Tensor>; prep: Prepared }[];
  opts: ResolvedTableOptions;
}

function disposePrepared(p: Prepared): void {
  for (const h of [p.ukeys, p.urow, p.inverse, p.perm, p.seg]) h.dispose();
}

/**
 * EmbeddingTable: int64 ids → rows of `dim` floats, under a hard capacity, with eviction
 * (lru | lfu | feature score), expiry, admission and min-update pruning, pooled lookups, and
 * a sparse optimizer whose state lives in the rows. A training lookup of a new id inserts
 * it (evicting when full); an eval lookup never changes the table.
 *
 * Gradients: a lookup is recorded on the autograd tape; its backward deduplicates the
 * gradient per id and leaves it with the table until {@link SparseOptimizer.step} applies
 * the fused sparse update. The rows are not module parameters: dense optimizers never see
 * them, and `export()` / `import()` (not `stateDict()`) save and restore them.
 */
export class EmbeddingTable extends Module {
  /** Floats per row. */
  readonly dim: number;
  /** Rows allocated: a hard cap on the ids held. */
  readonly capacity: number;
  /** Where the rows live. */
  readonly device: Device;
  /** Which rows make room when the table is full. */
  readonly policy: EvictionPolicy;
  // One non-Tensor field, so Module's discovery finds no parameters or buffers here.
  private readonly _s: Internals;

  constructor(options: EmbeddingTableOptions) {
    super();
    const opts = resolveTableOptions(options);
    this.dim = opts.dim;
    this.capacity = opts.capacity;
    this.device = opts.device;
    this.policy = opts.policy;
    const handle = native.embCreate(opts.native);
    // The lookups' stand-in on the tape: a leaf that needs a gradient but never gets one.
    const anchor = keep(zeros([1], { device: opts.device })).requiresGrad_(true);
    const defaultRow = opts.defaultRow ? keep(tensor(opts.defaultRow, { device: opts.device })) : null;
    this._s = { handle, anchor, defaultRow, pending: [], recorded: [], opts };
  }

  /** lookup(ids). */
  forward(ids: Ids): Tensor {
    return this.lookup(ids);
  }

  private get _h(): unknown {
    if (this._s.handle === null) throw new DisposedError('this EmbeddingTable was disposed');
    return this._s.handle;
  }

  /** Rows in use. */
  get size(): number {
    return native.embInfo(this._h).size;
  }
  /** Optimizer steps taken (the clock of lru, score and ttlSteps). */
  get step(): number {
    return native.embInfo(this._h).step;
  }
  /** size / capacity. */
  get loadFactor(): number {
    return this.size / this.capacity;
  }

  /** The table's occupancy, step, bucket layout and memory, read from the native table. */
  stats(): TableStats {
    const i = native.embInfo(this._h);
    return {
      size: i.size,
      capacity: i.capacity,
      loadFactor: i.size / i.capacity,
      step: i.step,
      bucketSize: i.bucketSize,
      buckets: i.buckets,
      bytesPerRow: { ...i.bytesPerRow },
      memoryBytes: i.bytes,
      ...i.stats,
    };
  }

  /**
   * One row per id: (n, dim), or ids.shape ++ [dim] for an int64 tensor of any shape (as
   * torch.nn.Embedding). Training mode inserts missing ids; eval mode reads the default
   * row for them.
   */
  lookup(ids: Ids): Tensor {
    if (ids instanceof Tensor && ids.dtype === 'int64' && ids.ndim !== 1) {
      return this.lookup(ids.reshape(ids.size)).reshape(...ids.shape, this.dim);
    }
    return this.withIds(ids, (idsT) => {
      const prep: Prepared = native.embPrepare(this._h, idsT._h, this.training, this.now());
      const out = new Tensor(native.embGather(this._h, prep, this._s.defaultRow?._h ?? null));
      return this.recordLookup(out, prep, null, null, false);
    });
  }

  /**
   * Pooled lookup of multi-hot bags: bag b is ids[offsets[b] .. offsets[b+1]) (the last bag
   * runs to the end; PyTorch's EmbeddingBag convention). Returns (bags, dim): the sum or the
   * mean of each bag's rows, each times its weight; an empty bag gives zeros.
   */
  lookupBag(ids: Ids, offsets: BigInt64Array | Int32Array | readonly number[] | Tensor, options: LookupBagOptions = {}): Tensor {
    const opts = checkOptions(options, 'options');
    checkKnownKeys(opts, 'options', ['mode', 'weights']);
    const mean = (opts.mode === undefined ? 'sum' : checkOneOf(opts.mode, 'options.mode', ['sum', 'mean'] as const)) === 'mean';
    return this.withIds(ids, (idsT) => {
      const n = idsT.size;
      const offs = this.offsetsTensor(offsets, n);
      const weights = opts.weights === undefined ? null : this.weightsTensor(opts.weights, n);
      // Tensors made here live as long as the backward needs them.
      const owned = [offs, ...(weights && weights !== opts.weights ? [weights] : [])];
      const prep: Prepared = native.embPrepare(this._h, idsT._h, this.training, this.now());
      const out = new Tensor(native.embBag(this._h, prep, offs._h, weights?._h ?? null, mean, this._s.defaultRow?._h ?? null));
      return this.recordLookup(out, prep, offs, weights, mean, owned);
    });
  }

  /**
   * lookup() on a worker thread: the event loop stays free while the table works. Several
   * calls may be in flight; each is applied whole, one at a time.
   */
  lookupAsync(ids: Ids): Promise<Tensor> {
    try {
      return this.withIds(ids, (idsT) => {
        const p = native.embLookupAsync(this._h, idsT._h, this.training, this.now(), this._s.defaultRow?._h ?? null) as Promise<{ out: NativeTensor; prepared: Prepared }>;
        return p.then(
          (r) => this.recordLookup(new Tensor(r.out), r.prepared, null, null, false),
          (e: unknown) => {
            throw fromNativeError(e);
          },
        );
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Whether each id has a row (a pure read: nothing is inserted or touched, nor counted in stats()). */
  contains(ids: Ids): boolean[] {
    return this.withIds(ids, (idsT) => {
      const prep: Prepared = native.embPrepare(this._h, idsT._h, false, this.now(), false);
      const urow = native.toTypedArray(prep.urow) as Int32Array;
      const inverse = native.toTypedArray(prep.inverse) as Int32Array;
      return Array.from(inverse, (u) => urow[u] >= 0);
    });
  }

  /** The ids that have rows, ascending (reads the whole index: O(capacity)). */
  keys(): BigInt64Array {
    const data = this.export();
    const n = Number(new DataView(data.buffer, data.byteOffset + 32, 8).getBigUint64(0, true));
    return new BigInt64Array(new Uint8Array(data.buffer, data.byteOffset + 64, 8 * n).slice().buffer);
  }

  /**
   * Removes rows now: expired ones, ones updated fewer than `minUpdates` times, then the
   * lowest-valued ones down to `toSize`. Returns how many rows were removed.
   */
  evict(options: EvictOptions = {}): number {
    const o = checkOptions(options, 'options');
    checkKnownKeys(o, 'options', ['expired', 'minUpdates', 'toSize']);
    const expired = o.expired === undefined ? true : checkBoolean(o.expired, 'options.expired');
    const minUpdates = o.minUpdates === undefined ? 0 : checkInt(o.minUpdates, 'options.minUpdates', 0, 2 ** 31 - 1);
    const toSize = o.toSize === undefined ? -1 : checkInt(o.toSize, 'options.toSize', 0);
    return native.embEvict(this._h, expired, minUpdates, toSize, this.now());
  }

  /** The learning rate of the rows' optimizer; set it to follow a schedule. */
  get lr(): number {
    return this._s.opts.optimizer.lr;
  }
  /** Sets the rows' learning rate (a non-negative number), effective from the next step. */
  set lr(value: number) {
    const lr = checkRange(value, 'lr', 0, Infinity, 'a non-negative learning rate');
    native.embSetLr(this._h, lr);
    this._s.opts.optimizer.lr = lr;
  }

  /** Advances the step without an update (the optimizer's step does this itself). */
  advance(): void {
    native.embAdvance(this._h);
    this.afterStep();
  }

  /**
   * Every row with its id, metadata and optimizer state in gatewise's versioned binary format
   * (see the README); with `sinceStep`, only rows inserted or updated at or after that step.
   */
  export(options: { sinceStep?: number } = {}): Uint8Array {
    const o = checkOptions(options, 'options');
    checkKnownKeys(o, 'options', ['sinceStep']);
    const since = o.sinceStep === undefined ? -1 : checkInt(o.sinceStep, 'options.sinceStep', 0);
    return native.embExport(this._h, since);
  }

  /**
   * Inserts or overwrites the rows of an export (full or incremental), evicting by policy
   * when room is needed. Corrupt, truncated or mismatched data is rejected whole with an
   * ERR_GATEWISE_FORMAT (or shape) error and the table is left unchanged. Returns rows written.
   */
  import(data: Uint8Array): number {
    if (!(data instanceof Uint8Array)) throw invalid('a Uint8Array (an export)', 'data', data);
    return native.embImport(this._h, data, this.now());
  }

  /** This table stays where it was created. */
  override to(device: Device): this {
    if (device !== this.device) throw invalid(`'${this.device}' (an EmbeddingTable cannot move; export and import instead)`, 'device', device);
    return this;
  }

  /** Frees the rows now. */
  dispose(): void {
    if (this._s.handle === null) return;
    this.clearGradients();
    for (const { prep } of this._s.recorded) disposePrepared(prep);
    this._s.recorded = [];
    native.embRelease(this._s.handle);
    this._s.handle = null;
    this._s.anchor.dispose();
    this._s.defaultRow?.dispose();
  }

  /** @internal Applies the pending gradients with the fused sparse step and advances the step. */
  _applyGradients(): void {
    const pending = this._s.pending;
    if (pending.length === 0) {
      this.advance();
      return;
    }
    this._s.pending = [];
    try {
      if (pending.length === 1) {
        native.embApply(this._h, pending[0].rows._h, pending[0].keys._h, pending[0].grads._h, false);
      } else {
        const rows = concat(pending.map((p) => p.rows));
        const keys = concat(pending.map((p) => p.keys));
        const grads = concat(pending.map((p) => p.grads));
        native.embApply(this._h, rows._h, keys._h, grads._h, true);
        for (const t of [rows, keys, grads]) t.dispose();
      }
    } finally {
      for (const p of pending) for (const t of [p.rows, p.keys, p.grads]) t.dispose();
    }
    this.releaseRecorded();
    this.afterStep();
  }

  /** Frees the bookkeeping of recorded lookups whose graph is gone (backward ran without retainGraph, or the output was disposed). */
  private releaseRecorded(): void {
    this._s.recorded = this._s.recorded.filter(({ out, prep }) => {
      const t = out.deref();
      if (t && t._gradFn !== null && !t.disposed) return true;
      disposePrepared(prep);
      return false;
    });
  }

  /** Drops the gradients not yet applied. */
  clearGradients(): void {
    for (const p of this._s.pending) for (const t of [p.rows, p.keys, p.grads]) t.dispose();
    this._s.pending = [];
  }

  // ---- internals

  private now(): number {
    const t = this._s.opts.clock();
    if (typeof t !== 'number' || !Number.isFinite(t)) throw invalid('a finite number of seconds from options.clock()', 'clock()', t);
    return t;
  }

  private afterStep(): void {
    const every = this._s.opts.expireEvery;
    if (every > 0 && this.step % every === 0) this.evict({ expired: true });
  }

  /** Runs fn with ids as an int64 tensor on the table's device (made here when needed, then freed). */
  private withIds<T>(ids: Ids, fn: (ids: Tensor) => T): T {
    let t: Tensor;
    if (ids instanceof Tensor) {
      if (ids.dtype !== 'int64') throw new DTypeError(`Expected an int64 tensor for ids but received ${ids.dtype}`);
      if (ids.ndim !== 1) throw new ShapeError(`Expected a 1-D tensor for ids but received shape [${ids.shape}]`);
      t = ids.device === this.device ? ids : ids.to(this.device);
    } else if (ids instanceof BigInt64Array) {
      t = tensor(ids, { dtype: 'int64', device: this.device });
    } else if (Array.isArray(ids)) {
      const a = new BigInt64Array(ids.length);
      ids.forEach((v, i) => {
        const ok = typeof v === 'bigint' ? BigInt.asIntN(64, v) === v : Number.isSafeInteger(v);
        if (!ok) throw invalid('an int64 id (a safe integer or a bigint)', `ids[${i}]`, v);
        a[i] = BigInt(v);
      });
      t = tensor(a, { dtype: 'int64', device: this.device });
    } else {
      throw invalid('ids as a BigInt64Array, an int64 Tensor or an array of integers', 'ids', ids);
    }
    try {
      return fn(t);
    } finally {
      if (t !== ids) t.dispose();
    }
  }

  /** Offsets as an int64 tensor on the table's device, checked: starts at 0, ascending, ≤ n. */
  private offsetsTensor(offsets: BigInt64Array | Int32Array | readonly number[] | Tensor, n: number): Tensor {
    let values: ArrayLike<number | bigint>;
    if (offsets instanceof Tensor) {
      if (offsets.dtype !== 'int64' && offsets.dtype !== 'int32') throw new DTypeError(`Expected an int32 or int64 tensor for offsets but received ${offsets.dtype}`);
      if (offsets.ndim !== 1) throw new ShapeError(`Expected a 1-D tensor for offsets but received shape [${offsets.shape}]`);
      values = offsets.toArraySync() as ArrayLike<number | bigint>;
    } else if (offsets instanceof BigInt64Array || offsets instanceof Int32Array || Array.isArray(offsets)) {
      values = offsets as ArrayLike<number | bigint>;
    } else {
      throw invalid('offsets as a BigInt64Array, an Int32Array, an array of integers or a Tensor', 'offsets', offsets);
    }
    const out = new BigInt64Array(values.length);
    for (let b = 0; b < values.length; ++b) {
      const v = Number(values[b]);
      const lo = b === 0 ? 0 : Number(out[b - 1]);
      if (!Number.isInteger(v) || v < lo || v > n || (b === 0 && v !== 0)) {
        throw invalid(b === 0 ? 'offsets[0] = 0' : `an integer in [offsets[${b - 1}], ${n}] (ascending, at most the number of ids)`, `offsets[${b}]`, values[b]);
      }
      out[b] = BigInt(v);
    }
    if (values.length === 0 && n > 0) throw invalid(`at least one bag for ${n} ids`, 'offsets', offsets);
    return tensor(out, { dtype: 'int64', device: this.device });
  }

  private weightsTensor(w: Float32Array | readonly number[] | Tensor, n: number): Tensor {
    if (w instanceof Tensor) {
      if (w.dtype !== 'float32') throw new DTypeError(`Expected a float32 tensor for options.weights but received ${w.dtype}`);
      if (w.shape.length !== 1 || w.shape[0] !== n) throw new ShapeError(`Expected shape [${n}] (one weight per id) for options.weights but received [${w.shape}]`);
      if (w.device !== this.device) throw invalid(`a tensor on '${this.device}'`, 'options.weights', w);
      return w;
    }
    if (!(w instanceof Float32Array) && !Array.isArray(w)) throw invalid('a Float32Array, an array of numbers or a Tensor', 'options.weights', w);
    if (w.length !== n) throw new ShapeError(`Expected ${n} weights (one per id) for options.weights but received ${w.length}`);
    for (let i = 0; i < w.length; ++i) if (!Number.isFinite(w[i])) throw invalid('a finite number', `options.weights[${i}]`, w[i]);
    return tensor(w instanceof Float32Array ? w : Float32Array.from(w), { device: this.device });
  }

  /** Puts the lookup on the tape: its backward hands the per-id gradient to the table. */
  private recordLookup(out: Tensor, prep: Prepared, offsets: Tensor | null, weights: Tensor | null, mean: boolean, owned: Tensor[] = []): Tensor {
    const wantW = weights !== null && weights.requiresGrad;
    const result = record(out, offsets ? 'embeddingBag' : 'embeddingLookup', [this._s.anchor, wantW ? weights : null], (g) => {
      const grads: NativeTensor[] = native.embBackward(this._h, prep, g._h, offsets?._h ?? null, weights?._h ?? null, mean, this._s.defaultRow?._h ?? null, wantW);
      const u = prep.unique;
      this._s.pending.push({
        rows: keep(new Tensor(native.view(prep.urow, [u]))),
        keys: keep(new Tensor(native.narrow0(prep.ukeys, 0, u))),
        grads: keep(new Tensor(grads[0])),
      });
      return [null, wantW ? new Tensor(grads[1]) : null];
    });
    for (const t of owned) {
      if (result.requiresGrad) keep(t);
      else t.dispose();
    }
    if (result.requiresGrad) {
      // Released at the next step, or here when lookups pile up without steps (inference with grad on).
      if (this._s.recorded.length >= 64) this.releaseRecorded();
      this._s.recorded.push({ out: new WeakRef(result), prep });
    } else {
      disposePrepared(prep);
    }
    return result;
  }
}
