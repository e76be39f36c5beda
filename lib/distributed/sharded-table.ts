import { isGradEnabled, record } from '../autograd';
import { ArgumentError, DTypeError, ShapeError } from '../errors';
import { EmbeddingTableOptions } from '../embedding/options';
import { EmbeddingTable, Ids, LookupBagOptions } from '../embedding/table';
import { keep } from '../scope';
import { Tensor, tensor, zeros } from '../tensor';
import { checkInt, checkKnownKeys, checkOneOf, checkOptions, invalid } from '../validate';
import { ProcessGroup } from './process-group';
import { distinctIds, joinExports, ownerOf, ownersOf } from './table-shards';

/** One recorded lookup's gradient on its way to the owners. */
interface Exchange {
  /** Distinct ids' gradients in send order (U·dim), summed over the lookup's rows, over worldSize. */
  grad: Float32Array;
  sendCounts: number[];
  recvCounts: number[];
  /** The owner-side rows this rank looked up for the others (recorded on the shard's tape). */
  ownerRows: Tensor;
}

/** The distinct ids of a lookup and their rows, fetched from their owners. */
interface Fetched {
  /** Each id's index among the distinct ids, in send order. */
  slot: Int32Array;
  /** The distinct ids' rows in send order (U·dim). */
  rows: Float32Array;
  sendCounts: number[];
  recvCounts: number[];
  /** The owner-side lookup (kept when it was recorded for a backward, else null). */
  ownerRows: Tensor | null;
}

/**
 * An embedding table sharded across the ranks by id, as TorchRec's row-wise sharding: id x
 * lives on rank hash(x) mod worldSize (table-shards.ts), whose shard is this object's own
 * EmbeddingTable storage, with capacity ⌈capacity / worldSize⌉, its own sparse optimizer
 * state, step clock and eviction.
 *
 * A lookup (every rank at once: it is a collective) takes the batch's distinct ids, sends each
 * to its owner (all-to-all), the owners look them up in their shards (training mode inserts,
 * eval mode reads the default row) and send the rows back (all-to-all); the output is built
 * from them on the host. Pooled bags are pooled here after the exchange; sequences go through
 * lookup(). Backward sums each distinct id's gradient, divided by worldSize (the data-parallel
 * mean, as the dense gradients are averaged), and {@link exchangeGradients} — run by
 * DistributedDataParallel.synchronize after backward — sends them to the owners (all-to-all),
 * where they enter the shard's pending gradients; SparseOptimizer.step applies them there.
 *
 * It is an EmbeddingTable to everything that takes one (TabularModel, PEPNet, SparseOptimizer,
 * checkpoints): `capacity` is the whole table's; `export()` is collective and returns every
 * shard's rows joined (the ordinary format, as one process writes it); `import()` keeps the
 * ids this rank owns. So checkpoints load into any world size. `size`, `stats()`, `evict()`
 * and `contains()` are this rank's shard's.
 */
export class ShardedEmbeddingTable extends EmbeddingTable {
  /** Rows one shard holds at most: ⌈capacity / worldSize⌉. */
  readonly shardCapacity: number;
  /** Lookups (and pooled lookups) made, and the distinct ids they sent to owners, for cost accounting. */
  readonly exchangeStats = {
    /** Lookups made (plain and pooled). */
    lookups: 0,
    /** Distinct ids those lookups sent to their owners. */
    distinctIds: 0,
  };
  // No Tensor fields, so Module's discovery finds no parameters or buffers here.
  private readonly _sh: { group: ProcessGroup; anchor: Tensor; exchanges: Exchange[] };

  /** `options` as EmbeddingTable's; capacity is the whole table's, and seed is required (every rank must draw the same rows). */
  constructor(group: ProcessGroup, options: EmbeddingTableOptions) {
    if (!(group instanceof ProcessGroup)) throw invalid('a ProcessGroup', 'group', group);
    const o = checkOptions(options, 'options');
    const capacity = checkInt(o.capacity, 'options.capacity', 1);
    if (o.seed === undefined) throw invalid('a seed (every rank must start a row from the same values)', 'options.seed', o.seed);
    const shardCapacity = Math.ceil(capacity / group.worldSize);
    super({ ...options, capacity: shardCapacity });
    Object.defineProperty(this, 'capacity', { value: capacity, enumerable: true });
    this.shardCapacity = shardCapacity;
    this._sh = { group, anchor: keep(zeros([1], { device: this.device })).requiresGrad_(true), exchanges: [] };
  }

  /** This rank's shard's size / shardCapacity. */
  override get loadFactor(): number {
    return this.size / this.shardCapacity;
  }

  /** The process group the table is sharded over. */
  get group(): ProcessGroup {
    return this._sh.group;
  }

  /** (n, dim), or ids.shape ++ [dim] for an int64 tensor of any shape. A collective. */
  override lookup(ids: Ids): Tensor {
    if (ids instanceof Tensor && ids.dtype === 'int64' && ids.ndim !== 1) {
      return this.lookup(ids.reshape(ids.size)).reshape(...ids.shape, this.dim);
    }
    const host = hostIds(ids);
    const f = this.fetch(host);
    const dim = this.dim;
    const out = new Float32Array(host.length * dim);
    for (let i = 0; i < host.length; ++i) {
      const s = f.slot[i] * dim;
      const o = i * dim;
      for (let k = 0; k < dim; ++k) out[o + k] = f.rows[s + k];
    }
    return this.recordSharded(tensor(out, { shape: [host.length, dim], device: this.device }), 'shardedLookup', f, (g, grad) => {
      for (let i = 0; i < host.length; ++i) {
        const s = f.slot[i] * dim;
        for (let k = 0; k < dim; ++k) grad[s + k] += g[i * dim + k];
      }
    });
  }

  /** Pooled bags as EmbeddingTable.lookupBag (weights that need a gradient are not supported here). A collective. */
  override lookupBag(ids: Ids, offsets: BigInt64Array | Int32Array | readonly number[] | Tensor, options: LookupBagOptions = {}): Tensor {
    const opts = checkOptions(options, 'options');
    checkKnownKeys(opts, 'options', ['mode', 'weights']);
    const mean = (opts.mode === undefined ? 'sum' : checkOneOf(opts.mode, 'options.mode', ['sum', 'mean'] as const)) === 'mean';
    const host = hostIds(ids);
    const n = host.length;
    const starts = hostOffsets(offsets, n);
    const weights = hostWeights(opts.weights, n);
    const bags = starts.length;
    const f = this.fetch(host);
    const dim = this.dim;
    // Each id's factor: its weight, over its bag's size for 'mean'.
    const factor = new Float32Array(n);
    const bagOf = new Int32Array(n);
    for (let b = 0; b < bags; ++b) {
      const end = b + 1 < bags ? starts[b + 1] : n;
      for (let i = starts[b]; i < end; ++i) {
        bagOf[i] = b;
        factor[i] = (weights ? weights[i] : 1) / (mean ? end - starts[b] : 1);
      }
    }
    const out = new Float32Array(bags * dim);
    for (let i = 0; i < n; ++i) {
      const s = f.slot[i] * dim;
      const o = bagOf[i] * dim;
      for (let k = 0; k < dim; ++k) out[o + k] += factor[i] * f.rows[s + k];
    }
    return this.recordSharded(tensor(out, { shape: [bags, dim], device: this.device }), 'shardedLookupBag', f, (g, grad) => {
      for (let i = 0; i < n; ++i) {
        const s = f.slot[i] * dim;
        const o = bagOf[i] * dim;
        for (let k = 0; k < dim; ++k) grad[s + k] += factor[i] * g[o + k];
      }
    });
  }

  /** lookup(), resolved (the exchange is collective, so it runs now). */
  override lookupAsync(ids: Ids): Promise<Tensor> {
    try {
      return Promise.resolve(this.lookup(ids));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Sends the gradients of the lookups recorded since the last call to their owners, in lookup
   * order, and hands them to the owners' shards (applied by the next SparseOptimizer.step).
   * A collective: every rank calls it after backward (DistributedDataParallel.synchronize does).
   */
  exchangeGradients(): void {
    const pending = this._sh.exchanges;
    this._sh.exchanges = [];
    const dim = this.dim;
    try {
      for (const x of pending) {
        const { data } = this.group.allToAllV(x.grad, x.sendCounts.map((c) => c * dim), x.recvCounts.map((c) => c * dim)).wait();
        const n = x.recvCounts.reduce((s, c) => s + c, 0);
        const g = tensor(data as Float32Array, { shape: [n, dim], device: this.device });
        try {
          x.ownerRows.backward(g);
        } finally {
          g.dispose();
        }
      }
    } finally {
      for (const x of pending) x.ownerRows.dispose();
    }
  }

  /** Every shard's rows joined (`sinceStep`: those changed since), in the ordinary export format. A collective. */
  override export(options: { sinceStep?: number } = {}): Uint8Array {
    const mine = super.export(options);
    const parts = this.group.allGather(mine).wait();
    return joinExports(parts);
  }

  /** Imports the rows of an export (of any world size) that this rank owns; returns how many. */
  override import(data: Uint8Array): number {
    if (!(data instanceof Uint8Array)) throw invalid('a Uint8Array (an export)', 'data', data);
    const { rank, worldSize } = this.group;
    return super.import(joinExports([data], (id) => ownerOf(id, worldSize) === rank));
  }

  /** Whether each id has a row in this rank's shard (ids it does not own: false). */
  override contains(ids: Ids): boolean[] {
    const host = hostIds(ids);
    const owners = ownersOf(host, this.group.worldSize);
    const local = super.contains(host);
    return local.map((c, i) => c && owners[i] === this.group.rank);
  }

  /**
   * Drops the gradients not yet applied. Lookups recorded but not yet exchanged stay queued
   * (the Trainer zeroes gradients between forward and backward), with their gradients zeroed.
   */
  override clearGradients(): void {
    super.clearGradients();
    for (const x of this._sh?.exchanges ?? []) x.grad.fill(0);
  }

  override dispose(): void {
    super.dispose();
    for (const x of this._sh.exchanges) x.ownerRows.dispose();
    this._sh.exchanges = [];
    this._sh.anchor.dispose();
  }

  // ---- internals

  /** Distinct ids → owners → their rows back (two all-to-alls after one of the counts). */
  private fetch(ids: BigInt64Array): Fetched {
    const group = this.group;
    const W = group.worldSize;
    const dim = this.dim;
    // Distinct ids in first-seen order, then grouped by owner (send order).
    const { distinct, index: local } = distinctIds(ids);
    this.exchangeStats.lookups += 1;
    this.exchangeStats.distinctIds += distinct.length;
    const owners = ownersOf(distinct, W);
    const sendCounts = new Array<number>(W).fill(0);
    for (const r of owners) sendCounts[r] += 1;
    const at = new Array<number>(W).fill(0);
    for (let r = 1; r < W; ++r) at[r] = at[r - 1] + sendCounts[r - 1];
    const sendIds = new BigInt64Array(distinct.length);
    const position = new Int32Array(distinct.length);
    for (let u = 0; u < distinct.length; ++u) {
      const p = at[owners[u]]++;
      position[u] = p;
      sendIds[p] = distinct[u];
    }
    const slot = local.map((u) => position[u]);
    const asked = group.allToAllV(sendIds, sendCounts).wait();
    const recvCounts = asked.counts;
    // The owner's side: look the ids others asked for up in this shard.
    const recording = this.training && isGradEnabled();
    const ownerRows = super.lookup(asked.data as BigInt64Array);
    const served = ownerRows.toArraySync() as Float32Array;
    if (!recording || !ownerRows.requiresGrad) ownerRows.dispose();
    else keep(ownerRows);
    const back = group.allToAllV(served, recvCounts.map((c) => c * dim), sendCounts.map((c) => c * dim)).wait();
    return { slot, rows: back.data as Float32Array, sendCounts, recvCounts, ownerRows: recording && !ownerRows.disposed ? ownerRows : null };
  }

  /** Puts a sharded lookup on the tape; its backward (accumulate) sums the distinct ids' gradients for the owners. */
  private recordSharded(out: Tensor, name: string, f: Fetched, accumulate: (g: Float32Array, grad: Float32Array) => void): Tensor {
    if (f.ownerRows === null) return out;
    const exchange: Exchange = { grad: new Float32Array(f.rows.length), sendCounts: f.sendCounts, recvCounts: f.recvCounts, ownerRows: f.ownerRows };
    // Queued now, so that every rank exchanges every recorded lookup (a zero gradient if none reached it).
    this._sh.exchanges.push(exchange);
    const scale = 1 / this.group.worldSize;
    return record(out, name, [this._sh.anchor], (g) => {
      accumulate(g.toArraySync() as Float32Array, exchange.grad);
      for (let k = 0; k < exchange.grad.length; ++k) exchange.grad[k] *= scale;
      return [null];
    });
  }
}

/** Ids as a host BigInt64Array (a copy for tensors and arrays), checked as EmbeddingTable checks them. */
function hostIds(ids: Ids): BigInt64Array {
  if (ids instanceof Tensor) {
    if (ids.dtype !== 'int64') throw new DTypeError(`Expected an int64 tensor for ids but received ${ids.dtype}`);
    if (ids.ndim !== 1) throw new ShapeError(`Expected a 1-D tensor for ids but received shape [${ids.shape}]`);
    return ids.toArraySync() as BigInt64Array;
  }
  if (ids instanceof BigInt64Array) return ids;
  if (Array.isArray(ids)) {
    return BigInt64Array.from(ids as (number | bigint)[], (v, i) => {
      const ok = typeof v === 'bigint' ? BigInt.asIntN(64, v) === v : Number.isSafeInteger(v);
      if (!ok) throw invalid('an int64 id (a safe integer or a bigint)', `ids[${i}]`, v);
      return BigInt(v);
    });
  }
  throw invalid('ids as a BigInt64Array, an int64 Tensor or an array of integers', 'ids', ids);
}

/** Bag starts, checked: offsets[0] = 0, ascending, at most n. */
function hostOffsets(offsets: BigInt64Array | Int32Array | readonly number[] | Tensor, n: number): Int32Array {
  let values: ArrayLike<number | bigint>;
  if (offsets instanceof Tensor) {
    if (offsets.dtype !== 'int64' && offsets.dtype !== 'int32') throw new DTypeError(`Expected an int32 or int64 tensor for offsets but received ${offsets.dtype}`);
    values = offsets.toArraySync() as ArrayLike<number | bigint>;
  } else if (offsets instanceof BigInt64Array || offsets instanceof Int32Array || Array.isArray(offsets)) {
    values = offsets as ArrayLike<number | bigint>;
  } else {
    throw invalid('offsets as a BigInt64Array, an Int32Array, an array of integers or a Tensor', 'offsets', offsets);
  }
  if (values.length === 0 && n > 0) throw invalid(`at least one bag for ${n} ids`, 'offsets', offsets);
  const out = new Int32Array(values.length);
  for (let b = 0; b < values.length; ++b) {
    const v = Number(values[b]);
    const lo = b === 0 ? 0 : out[b - 1];
    if (!Number.isInteger(v) || v < lo || v > n || (b === 0 && v !== 0)) {
      throw invalid(b === 0 ? 'offsets[0] = 0' : `an integer in [offsets[${b - 1}], ${n}] (ascending, at most the number of ids)`, `offsets[${b}]`, values[b]);
    }
    out[b] = v;
  }
  return out;
}

function hostWeights(w: Float32Array | readonly number[] | Tensor | undefined, n: number): Float32Array | null {
  if (w === undefined) return null;
  if (w instanceof Tensor) {
    if (w.requiresGrad) throw new ArgumentError('a sharded table does not learn per-id weights: pass options.weights that need no gradient');
    if (w.dtype !== 'float32') throw new DTypeError(`Expected a float32 tensor for options.weights but received ${w.dtype}`);
    w = w.toArraySync() as Float32Array;
  }
  if (!(w instanceof Float32Array) && !Array.isArray(w)) throw invalid('a Float32Array, an array of numbers or a Tensor', 'options.weights', w);
  if (w.length !== n) throw new ShapeError(`Expected ${n} weights (one per id) for options.weights but received ${w.length}`);
  const out = Float32Array.from(w as ArrayLike<number>);
  for (let i = 0; i < n; ++i) if (!Number.isFinite(out[i])) throw invalid('a finite number', `options.weights[${i}]`, out[i]);
  return out;
}
