/**
 * The collective backends a process group can run on. A backend moves host arrays (Gloo
 * stages CUDA tensors through host memory, as PyTorch's Gloo backend does); a device-side
 * backend (NCCL) would register here too and take device buffers. Only 'gloo' exists today.
 */
import type { NativeGroup } from './gloo';
import type { Store } from './store';

export type ReduceOp = 'sum' | 'max' | 'min';

/**
 * One connected group of ranks: the collectives of the Gloo addon's groups (see NativeGroup in
 * gloo.ts: allGather's output is every rank's input in rank order; allToAll sends
 * sendCounts[r] elements to rank r), already connected. Every rank must call the same
 * collectives in the same order.
 */
export interface Backend extends Omit<NativeGroup, 'connect'> {
  readonly name: string;
}

export interface BackendOptions {
  rank: number;
  worldSize: number;
  timeoutMs: number;
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
