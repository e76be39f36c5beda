import { onGradAccumulated } from '../autograd';
import { Module } from '../nn/module';
import { keep } from '../scope';
import { Tensor, tensor } from '../tensor';
import { checkOptions, checkPositive, invalid } from '../validate';
import { ProcessGroup, Work } from './process-group';
import { ShardedEmbeddingTable } from './sharded-table';

/** Options of {@link DistributedDataParallel}. */
export interface DdpOptions {
  /** Bucket size in MiB (default 25, PyTorch's). */
  bucketMB?: number;
  /** Launch buckets during backward (default true); false: all of them in synchronize(). */
  overlap?: boolean;
  /** Sharded tables whose gradients synchronize() exchanges (default: those inside the module). */
  tables?: ShardedEmbeddingTable[];
}

interface Bucket {
  params: number[];
  /** Floats before each parameter in the bucket's flat array. */
  offsets: number[];
  floats: number;
}

interface InFlight {
  bucket: Bucket;
  /** The bucket's gradients, then one flag per parameter (1: it had a gradient here). */
  flat: Float32Array;
  work: Work;
}

/**
 * Data-parallel training of the dense weights, as PyTorch's DistributedDataParallel: every
 * rank holds the whole model, the parameters are broadcast from rank 0 at the start, and after
 * each backward the gradients are averaged over the ranks with all-reduce, so every rank's
 * optimizer (unchanged) takes the same step.
 *
 * The gradients travel in buckets of about `bucketMB` (parameters in reverse registration
 * order, roughly the order backward finishes them). A bucket's all-reduce is launched during
 * backward, from the autograd hook `onGradAccumulated`, as soon as every parameter in it has
 * its gradient of the pass — and the buckets before it were launched (every rank launches them
 * in the same order) — so communication overlaps the rest of backward. `synchronize()`, called
 * after backward, launches the buckets still waiting (parameters that got no gradient on this
 * rank count as zeros), waits for all, writes the averages back into `.grad` and exchanges the
 * sharded tables' gradients. A parameter no rank gave a gradient keeps none (as in one process).
 */
export class DistributedDataParallel {
  /** The parameters it averages, in registration order. */
  readonly params: Tensor[];
  /** @internal the gradient buckets, in launch order */
  readonly buckets: Bucket[];
  /** Buckets launched during backward in the last step (the rest waited for synchronize). */
  launchedDuringBackward = 0;
  private readonly index = new Map<Tensor, number>();
  private readonly bucketOf: number[];
  private readonly tables: ShardedEmbeddingTable[];
  private readonly overlap: boolean;
  private ready = new Set<number>();
  private inFlight: InFlight[] = [];
  private removeHook: (() => void) | null;

  /** Broadcasts the parameters from rank 0 (a collective), then watches their gradients. */
  constructor(
    /** The process group the gradients are averaged over. */
    readonly group: ProcessGroup,
    model: Module | Tensor[],
    options: DdpOptions = {},
  ) {
    if (!(group instanceof ProcessGroup)) throw invalid('a ProcessGroup', 'group', group);
    const o = checkOptions(options, 'options');
    const bucketFloats = (checkPositive(o.bucketMB ?? 25, 'options.bucketMB') * 2 ** 20) / 4;
    this.overlap = o.overlap ?? true;
    if (model instanceof Module) this.params = model.parameters();
    else if (Array.isArray(model) && model.every((p) => p instanceof Tensor)) this.params = model.slice();
    else throw invalid('a Module or an array of parameter Tensors', 'model', model);
    this.params.forEach((p, i) => this.index.set(p, i));
    this.tables = o.tables ?? (model instanceof Module ? model.namedModules().map(([, m]) => m).filter((m): m is ShardedEmbeddingTable => m instanceof ShardedEmbeddingTable) : []);
    // Buckets over the parameters in reverse order.
    this.buckets = [];
    this.bucketOf = new Array<number>(this.params.length);
    let current: Bucket = { params: [], offsets: [], floats: 0 };
    for (let i = this.params.length - 1; i >= 0; --i) {
      const n = this.params[i].size;
      if (current.params.length > 0 && current.floats + n > bucketFloats) {
        this.buckets.push(current);
        current = { params: [], offsets: [], floats: 0 };
      }
      current.offsets.push(current.floats);
      current.params.push(i);
      current.floats += n;
      this.bucketOf[i] = this.buckets.length;
    }
    if (current.params.length) this.buckets.push(current);
    this.broadcastParameters();
    this.removeHook = onGradAccumulated((leaf: Tensor) => this.onGrad(leaf));
  }

  /** Copies rank root's parameter values to every rank (one broadcast per bucket). */
  broadcastParameters(root = 0): void {
    for (const b of this.buckets) {
      const flat = new Float32Array(b.floats);
      b.params.forEach((p, k) => flat.set(this.params[p].toArraySync() as Float32Array, b.offsets[k]));
      this.group.broadcast(flat, root).wait();
      b.params.forEach((p, k) => writeInto(this.params[p], flat.subarray(b.offsets[k], b.offsets[k] + this.params[p].size)));
    }
  }

  /**
   * After backward: every bucket all-reduced and averaged into `.grad`, and the sharded
   * tables' gradients sent to their owners. A collective.
   */
  synchronize(): void {
    this.launchedDuringBackward = this.inFlight.length;
    this.launchReady(true);
    const W = this.group.worldSize;
    const flights = this.inFlight;
    this.inFlight = [];
    this.ready = new Set();
    for (const f of flights) {
      f.work.wait();
      const b = f.bucket;
      b.params.forEach((p, k) => {
        if (f.flat[b.floats + k] === 0) return; // no rank had a gradient for it
        const avg = f.flat.subarray(b.offsets[k], b.offsets[k] + this.params[p].size);
        for (let i = 0; i < avg.length; ++i) avg[i] /= W;
        const param = this.params[p];
        if (param.grad) writeInto(param.grad, avg);
        else param.grad = keep(tensor(avg.slice(), { shape: param.shape, device: param.device }));
      });
    }
    for (const t of this.tables) t.exchangeGradients();
  }

  /** Stops watching the gradients. */
  dispose(): void {
    this.removeHook?.();
    this.removeHook = null;
  }

  private onGrad(leaf: Tensor): void {
    const i = this.index.get(leaf);
    if (i === undefined) return;
    this.ready.add(i);
    if (this.overlap) this.launchReady(false);
  }

  /** Launches, in order, the buckets whose parameters all have gradients (all of them when `all`). */
  private launchReady(all: boolean): void {
    while (this.inFlight.length < this.buckets.length) {
      const b = this.buckets[this.inFlight.length];
      if (!all && !b.params.every((p) => this.ready.has(p))) return;
      const flat = new Float32Array(b.floats + b.params.length);
      b.params.forEach((p, k) => {
        const g = this.ready.has(p) ? this.params[p].grad : null;
        if (!g) return;
        flat.set(g.toArraySync() as Float32Array, b.offsets[k]);
        flat[b.floats + k] = 1;
      });
      this.inFlight.push({ bucket: b, flat, work: this.group.allReduce(flat) });
    }
  }
}

/** t ← values (same size), on t's device. */
function writeInto(t: Tensor, values: Float32Array): void {
  const src = tensor(values, { shape: t.shape, device: t.device });
  try {
    t.copyFrom(src);
  } finally {
    src.dispose();
  }
}
