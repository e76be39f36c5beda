/**
 * The collective backends a process group can run on. A backend moves host arrays (Gloo
 * stages CUDA tensors through host memory, as PyTorch's Gloo backend does); a device-side
 * backend (NCCL) would register here too and take device buffers. Only 'gloo' exists today.
 */
import type { NativeGroup } from './gloo';
import type { Store } from './store';

/** How allReduce combines the ranks' values, element-wise. */
export type ReduceOp = 'sum' | 'max' | 'min';

/**
 * One connected group of ranks: the collectives of the Gloo addon's groups (see NativeGroup in
 * gloo.ts: allGather's output is every rank's input in rank order; allToAll sends
 * sendCounts[r] elements to rank r), already connected. Every rank must call the same
 * collectives in the same order.
 */
export interface Backend extends Omit<NativeGroup, 'connect'> {
  /** The backend's registered name (e.g. 'gloo'). */
  readonly name: string;
}

/** What a {@link BackendFactory} is given to connect one rank. */
export interface BackendOptions {
  /** This process's rank, in [0, worldSize). */
  rank: number;
  /** Ranks in the group. */
  worldSize: number;
  /** A collective (and the rendezvous) that sees nothing from a peer for this long fails, in ms. */
  timeoutMs: number;
  /** The connected store the rendezvous runs through. */
  store: Store;
  /** The address the other ranks reach this one at. */
  hostname?: string;
  /** Or the network interface whose address to use. */
  iface?: string;
}

/** Connects a backend (the rendezvous runs through options.store). */
export type BackendFactory = (options: BackendOptions) => Promise<Backend>;

const factories = new Map<string, BackendFactory>();

/** Makes `name` available to initProcessGroup({ backend: name }). */
export function registerBackend(name: string, factory: BackendFactory): void {
  factories.set(name, factory);
}

export function backendFactory(name: string): BackendFactory | undefined {
  return factories.get(name);
}

export function backendNames(): string[] {
  return [...factories.keys()];
}
