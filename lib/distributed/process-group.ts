import * as os from 'node:os';
import { DistributedError } from '../errors';
import { Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, invalid } from '../validate';
import { Backend, backendFactory, backendNames, ReduceOp } from './backend';
import './gloo-backend';
import type { HostArray, NativeWork } from './gloo';
import { stageIn, Staged } from './staging';
import { Store, TcpStore, TcpStoreServer } from './store';

/** Options of {@link initProcessGroup}; each defaults to the environment torchrun sets. */
export interface ProcessGroupOptions {
  /** The collective backend (default 'gloo'). */
  backend?: string;
  /** This process's rank (default: RANK). */
  rank?: number;
  /** Ranks in the group (default: WORLD_SIZE). */
  worldSize?: number;
  /** A connected store; default: rank 0 hosts a TCP store at masterAddr:masterPort, every rank connects to it. */
  store?: Store;
  /** Default: MASTER_ADDR, else 127.0.0.1. */
  masterAddr?: string;
  /** Default: MASTER_PORT, else 29500. */
  masterPort?: number;
  /** A collective (and the rendezvous) that sees nothing from a peer for this long fails (ms; default GATEWISE_DIST_TIMEOUT_MS, else 300000). */
  timeoutMs?: number;
  /** The address other ranks reach this one at (default: 127.0.0.1 when masterAddr is a loopback address, else this host's name); GLOO_SOCKET_IFNAME picks an interface instead. */
  hostname?: string;
}

/** Where this process sits, as torchrun describes it in the environment. */
export interface EnvRendezvous {
  /** RANK: this process's global rank. */
  rank: number;
  /** WORLD_SIZE: ranks in the group. */
  worldSize: number;
  /** LOCAL_RANK: this process's rank on its machine (default 0). */
  localRank: number;
  /** MASTER_ADDR: where rank 0 hosts the store (default 127.0.0.1). */
  masterAddr: string;
  /** MASTER_PORT: the store's port (default 29500). */
  masterPort: number;
}

/** Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT (null when RANK or WORLD_SIZE is unset). */
export function envRendezvous(env: NodeJS.ProcessEnv = process.env): EnvRendezvous | null {
  if (env.RANK === undefined || env.WORLD_SIZE === undefined) return null;
  const int = (name: string, v: string | undefined, def: number, min: number) => checkInt(v === undefined || v === '' ? def : Number(v), name, min);
  const worldSize = int('WORLD_SIZE', env.WORLD_SIZE, 1, 1);
  return {
    rank: checkInt(Number(env.RANK), 'RANK', 0, worldSize - 1),
    worldSize,
    localRank: int('LOCAL_RANK', env.LOCAL_RANK, 0, 0),
    masterAddr: env.MASTER_ADDR || '127.0.0.1',
    masterPort: checkInt(Number(env.MASTER_PORT || 29500), 'MASTER_PORT', 1, 65535),
  };
}

/** Communication counters of a group (all ranks count their own). */
export interface CommStats {
  /** Collectives issued. */
  ops: number;
  /** Bytes this rank sent: exact for allToAllV, the ring algorithm's share for allReduce and allGather, the root's sends for broadcast. */
  bytesSent: number;
  /** bytesSent by collective. */
  bytesByOp: Record<'allReduce' | 'broadcast' | 'allGather' | 'allToAllV', number>;
  /** Seconds the collectives ran on the communication thread. */
  commSeconds: number;
  /** Seconds the caller was blocked in wait(). */
  waitSeconds: number;
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

/** A queued collective: `wait()` blocks until it finished (and returns its result); `promise()` does not. */
export class Work<T = void> {
  private settled = false;
  private value: T | undefined;

  constructor(
    private readonly native: NativeWork | null,
    private readonly finish: () => T,
    private readonly group: ProcessGroup,
    private readonly what: string,
  ) {}

  /** Whether the operation has finished (then wait() does not block). */
  get done(): boolean {
    return this.settled || this.native === null || this.native.done;
  }

  /** Blocks until the operation finished; returns its result (throws a DistributedError if it failed). */
  wait(): T {
    if (this.settled) return this.value as T;
    const t0 = performance.now();
    try {
      this.native?.wait();
    } catch (e) {
      throw this.group._failed(this.what, e);
    } finally {
      this.group.stats.waitSeconds += (performance.now() - t0) / 1000;
    }
    return this.complete();
  }

  /** Resolves when the operation finished, without blocking the event loop. */
  async promise(): Promise<T> {
    if (this.settled) return this.value as T;
    try {
      await this.native?.promise();
    } catch (e) {
      throw this.group._failed(this.what, e);
    }
    return this.complete();
  }

  private complete(): T {
    if (!this.settled) {
      this.group.stats.commSeconds += this.native?.seconds ?? 0;
      this.value = this.finish();
      this.settled = true;
    }
    return this.value as T;
  }
}

/** What a collective moves: a tensor (CUDA ones are staged through host memory) or a host typed array. */
export type Data = Tensor | HostArray;

function elementSize(a: HostArray): number {
  return a.BYTES_PER_ELEMENT;
}

function sameKind<T extends HostArray>(like: T, n: number): T {
  // A Node Buffer is a Uint8Array: answer with a plain one.
  if (like instanceof Uint8Array) return new Uint8Array(n) as T;
  return new (like.constructor as new (n: number) => T)(n);
}

/**
 * Process groups: `initProcessGroup({ backend: 'gloo', rank, worldSize, store })`, or with no
 * arguments from the environment torchrun (and `gatewise train --nproc`) sets: RANK,
 * WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT. Rank 0 hosts the TCP rendezvous store at
 * MASTER_ADDR:MASTER_PORT (lib/distributed/store.ts); every rank connects to it, and the
 * backend's rendezvous publishes the ranks' addresses through it.
 *
 * Collectives take host typed arrays or Tensors (CPU ones are copied to the host and back;
 * CUDA ones go through pinned host memory, see staging.ts) and return a {@link Work}: queued
 * on the backend's communication thread in call order, waited for with `wait()` (blocks) or
 * `promise()`. Every rank must issue the same collectives in the same order.
 *
 * Faults: a collective fails when a peer's connection closes or nothing arrives within
 * timeoutMs. The group is then unusable; `explain(error)` finds which rank is at fault (its
 * store connection closed: it exited; or it did not check in within the check window: it
 * hangs) and returns a DistributedError naming it.
 */
export class ProcessGroup {
  /** This rank's communication counters since the group was made. */
  readonly stats: CommStats = { ops: 0, bytesSent: 0, bytesByOp: { allReduce: 0, broadcast: 0, allGather: 0, allToAllV: 0 }, commSeconds: 0, waitSeconds: 0 };
  private failure: DistributedError | null = null;
  private destroyed = false;

  /** @internal use initProcessGroup. */
  constructor(
    /** This process's rank, in [0, worldSize). */
    readonly rank: number,
    /** Ranks in the group. */
    readonly worldSize: number,
    /** A collective that sees nothing from a peer for this long fails, in ms. */
    readonly timeoutMs: number,
    private readonly backend: Backend,
    /** The rendezvous store. */
    readonly store: Store,
    private readonly server: TcpStoreServer | null,
  ) {}

  /** The backend's name ('gloo'). */
  get backendName(): string {
    return this.backend.name;
  }

  /** The first failure of this group, if any (every later collective fails with it). */
  get failed(): DistributedError | null {
    return this.failure;
  }

  /** Reduces `data` over the ranks in place (every rank ends with the same values). */
  allReduce(data: Data, op: ReduceOp = 'sum'): Work {
    checkOneOf(op, 'op', ['sum', 'max', 'min'] as const);
    const s = this.stage(data, 'data');
    const n = s.array.length * elementSize(s.array);
    this.count((2 * (this.worldSize - 1) * n) / this.worldSize, 'allReduce');
    return this.queue(() => this.backend.allReduce(s.array, op), () => s.writeBack(), 'allReduce');
  }

  /** Copies root's `data` to every rank, in place. */
  broadcast(data: Data, root = 0): Work {
    checkInt(root, 'root', 0, this.worldSize - 1);
    const s = this.stage(data, 'data');
    this.count(this.rank === root ? (this.worldSize - 1) * s.array.length * elementSize(s.array) : 0, 'broadcast');
    return this.queue(() => this.backend.broadcast(s.array, root), () => s.writeBack(), 'broadcast');
  }

  /**
   * Every rank's `input`, in rank order. `counts` (elements per rank) may be left out: the
   * lengths are then exchanged first (a small collective waited for here).
   */
  allGather<T extends HostArray>(input: T, counts?: number[]): Work<T[]> {
    this.checkArray(input, 'input');
    const c = counts ? this.checkCounts(counts, 'counts') : this.exchangeLengths(input.length);
    if (c[this.rank] !== input.length) throw invalid(`counts[${this.rank}] = input.length (${input.length})`, 'counts', counts);
    const total = c.reduce((s, x) => s + x, 0);
    const output = sameKind(input, total);
    this.count(((this.worldSize - 1) / this.worldSize) * total * elementSize(input), 'allGather');
    return this.queue(
      () => this.backend.allGather(input, output, c),
      () => {
        const parts: T[] = [];
        let at = 0;
        for (const n of c) parts.push(output.subarray(at, (at += n)) as T);
        return parts;
      },
      'allGather',
    );
  }

  /**
   * Sends sendCounts[r] consecutive elements of `input` to rank r; returns what every rank
   * sent here, in rank order, with recvCounts. recvCounts may be left out: the counts are then
   * exchanged first (a small all-to-all waited for here).
   */
  allToAllV<T extends HostArray>(
    input: T,
    sendCounts: number[],
    recvCounts?: number[],
  ): Work<{
    /** What every rank sent here, in rank order. */
    data: T;
    /** Elements received from each rank (recvCounts). */
    counts: number[];
  }> {
    this.checkArray(input, 'input');
    const send = this.checkCounts(sendCounts, 'sendCounts');
    if (send.reduce((s, x) => s + x, 0) !== input.length) throw invalid(`counts summing to input.length (${input.length})`, 'sendCounts', sendCounts);
    const recv = recvCounts ? this.checkCounts(recvCounts, 'recvCounts') : this.exchangeCounts(send);
    const output = sameKind(input, recv.reduce((s, x) => s + x, 0));
    const size = elementSize(input);
    this.count(send.reduce((s, x, r) => s + (r === this.rank ? 0 : x * size), 0), 'allToAllV');
    return this.queue(() => this.backend.allToAll(input, send, output, recv), () => ({ data: output, counts: recv }), 'allToAllV');
  }

  /** Returns once every rank reached it. */
  barrier(): Work {
    return this.queue(() => this.backend.barrier(), () => undefined, 'barrier');
  }

  /**
   * Turns a collective's failure into one naming the rank at fault: a rank whose store
   * connection closed exited; else the ranks that do not check in within `windowMs` (default
   * min(timeoutMs, 10 s)) hang; when the store itself is gone, rank 0 (its host) is.
   */
  async explain(error: unknown, windowMs = Math.min(this.timeoutMs, 10000)): Promise<DistributedError> {
    const base = error instanceof Error ? error.message : String(error);
    const named = (rank: number, why: string) => new DistributedError(`rank ${rank} ${why}; on rank ${this.rank}: ${base}`, rank);
    // The store's host may be the rank that hangs: no answer within the window names it.
    const silent0 = 'the rendezvous store (hosted by rank 0) did not answer';
    const ask = <T>(p: Promise<T>): Promise<T> =>
      Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new DistributedError(silent0, 0)), windowMs).unref())]);
    try {
      await ask(this.store.set(`health/${this.rank}`, new Uint8Array([1])));
      const deadline = Date.now() + windowMs;
      for (;;) {
        const gone = (await ask(this.store.departed())).filter((r) => r !== this.rank);
        if (gone.length) return named(gone[0], `exited (its connection to the rendezvous store closed)${gone.length > 1 ? `, as did ranks ${gone.slice(1).join(', ')}` : ''}`);
        const found = await ask(this.store.check(Array.from({ length: this.worldSize }, (_, r) => `health/${r}`)));
        const silent = found.map((f, r) => (f ? -1 : r)).filter((r) => r >= 0);
        if (silent.length === 0) return error instanceof DistributedError ? error : new DistributedError(base);
        if (Date.now() >= deadline) return named(silent[0], `did not respond within ${windowMs} ms after the failure (hung, or stuck outside the collectives)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch (e) {
      if (e instanceof DistributedError && e.message === silent0 && this.rank !== 0) return named(0, `did not respond within ${windowMs} ms after the failure (it hosts the rendezvous store, which did not answer either: hung)`);
      if (e instanceof DistributedError && e.rank === 0 && this.rank !== 0) return named(0, 'exited (it hosts the rendezvous store, which is gone)');
      return new DistributedError(`${base} (and the rendezvous store could not tell which rank failed: ${(e as Error).message})`);
    }
  }

  /** Waits for the other ranks (unless the group failed), then closes the backend and the store. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    if (!this.failure) {
      try {
        await this.barrier().promise();
      } catch {
        /* closing anyway */
      }
    }
    this.backend.close();
    await this.store.close();
    this.server?.close();
  }

  /** @internal Records a failure (the first one is kept) and returns the error to throw. */
  _failed(what: string, e: unknown): DistributedError {
    const err = e instanceof DistributedError ? e : new DistributedError(`${what} failed on rank ${this.rank} of ${this.worldSize}: ${(e as Error).message ?? e}`);
    this.failure ??= err;
    return err;
  }

  private queue<T>(start: () => NativeWork, finish: () => T, what: string): Work<T> {
    if (this.destroyed) throw new DistributedError('this process group was destroyed');
    this.stats.ops += 1;
    let native: NativeWork;
    try {
      native = start();
    } catch (e) {
      throw this._failed(what, e);
    }
    return new Work(native, finish, this, what);
  }

  private count(bytes: number, op: keyof CommStats['bytesByOp']): void {
    this.stats.bytesSent += bytes;
    this.stats.bytesByOp[op] += bytes;
  }

  private stage(data: Data, name: string): Staged {
    if (data instanceof Tensor) return stageIn(data, name);
    this.checkArray(data, name);
    return { array: data, writeBack: () => {} };
  }

  private checkArray(a: unknown, name: string): void {
    const ok = a instanceof Float32Array || a instanceof Float64Array || a instanceof Int32Array || a instanceof BigInt64Array || a instanceof Uint8Array;
    if (!ok) throw invalid('a Tensor or a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array', name, a);
  }

  private checkCounts(counts: unknown, name: string): number[] {
    if (!Array.isArray(counts) || counts.length !== this.worldSize) throw invalid(`an array of ${this.worldSize} counts (one per rank)`, name, counts);
    return counts.map((c, r) => checkInt(c, `${name}[${r}]`, 0));
  }

  private exchangeLengths(n: number): number[] {
    const mine = new Float64Array([n]);
    const all = new Float64Array(this.worldSize);
    const ones = new Array<number>(this.worldSize).fill(1);
    this.count(((this.worldSize - 1) / this.worldSize) * 8 * this.worldSize, 'allGather');
    this.queue(() => this.backend.allGather(mine, all, ones), () => undefined, 'allGather (lengths)').wait();
    return Array.from(all);
  }

  private exchangeCounts(send: number[]): number[] {
    const out = new Float64Array(this.worldSize);
    const ones = new Array<number>(this.worldSize).fill(1);
    this.count(8 * (this.worldSize - 1), 'allToAllV');
    this.queue(() => this.backend.allToAll(Float64Array.from(send), ones, out, ones), () => undefined, 'allToAllV (counts)').wait();
    return Array.from(out);
  }
}

/**
 * Returns once `worldSize` ranks reached the barrier named `name` (through the store, without
 * blocking). The store's host returns last, once every other rank has had its answer: after
 * it, the host may block in a collective without leaving a rank waiting on the store.
 */
async function storeBarrier(store: Store, name: string, worldSize: number, timeoutMs: number, host: boolean): Promise<void> {
  const key = `barrier/${name}`;
  if ((await store.add(key, 1)) === worldSize) await store.set(`${key}/done`, new Uint8Array([1]));
  await store.wait([`${key}/done`], timeoutMs);
  if ((await store.add(`${key}/left`, 1)) === worldSize) await store.set(`${key}/all-left`, new Uint8Array([1]));
  if (host) await store.wait([`${key}/all-left`], timeoutMs);
}

/**
 * Joins (or, on rank 0, hosts) the rendezvous and connects the backend. Resolves on every rank
 * once all worldSize ranks have connected, or rejects after timeoutMs.
 */
export async function initProcessGroup(options: ProcessGroupOptions = {}): Promise<ProcessGroup> {
  const o = checkOptions(options, 'options');
  const env = o.rank === undefined || o.worldSize === undefined ? envRendezvous() : null;
  const worldSize = checkInt(o.worldSize ?? env?.worldSize, 'options.worldSize (or WORLD_SIZE)', 1);
  const rank = checkInt(o.rank ?? env?.rank, 'options.rank (or RANK)', 0, worldSize - 1);
  const backendName = o.backend ?? 'gloo';
  const factory = backendFactory(backendName);
  if (!factory) throw invalid(`one of ${backendNames().map((n) => `'${n}'`).join(', ')}`, 'options.backend', o.backend);
  const timeoutMs = checkInt(o.timeoutMs ?? Number(process.env.GATEWISE_DIST_TIMEOUT_MS || 300000), 'options.timeoutMs', 1);
  const masterAddr = o.masterAddr ?? process.env.MASTER_ADDR ?? '127.0.0.1';
  const masterPort = checkInt(o.masterPort ?? Number(process.env.MASTER_PORT || 29500), 'options.masterPort (or MASTER_PORT)', 1, 65535);
  let server: TcpStoreServer | null = null;
  let store = o.store;
  if (!store) {
    if (rank === 0) server = await TcpStoreServer.listen(masterPort, isLoopback(masterAddr) ? masterAddr : '0.0.0.0');
    store = await TcpStore.connect({ host: masterAddr, port: masterPort, rank, timeoutMs });
  }
  const iface = process.env.GLOO_SOCKET_IFNAME || undefined;
  const hostname = o.hostname ?? (iface ? undefined : isLoopback(masterAddr) ? '127.0.0.1' : os.hostname());
  try {
    const backend = await factory({ rank, worldSize, timeoutMs, store, hostname, iface });
    // A rank's rendezvous can finish before a peer's, which may still need the store; rank 0
    // hosts it on its event loop, which a blocking collective would stop. So every rank waits
    // here, without blocking, until all have connected, and rank 0 until all have left.
    await storeBarrier(store, 'init', worldSize, timeoutMs, server !== null);
    return new ProcessGroup(rank, worldSize, timeoutMs, backend, store, server);
  } catch (e) {
    if (!o.store) await store.close();
    server?.close();
    throw e;
  }
}
