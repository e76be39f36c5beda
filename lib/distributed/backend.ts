/**
 * The collective backends a process group can run on. A backend moves host arrays (Gloo
 * stages CUDA tensors through host memory, as PyTorch's Gloo backend does); a device-side
 * backend (NCCL) would register here too and take device buffers. Only 'gloo' exists today.
 */
import type { HostArray, NativeWork } from './gloo';
import type { Store } from './store';

export type ReduceOp = 'sum' | 'max' | 'min';

/** One connected group of ranks. Every rank must call the same collectives in the same order. */
export interface Backend {
  readonly name: string;
  allReduce(array: HostArray, op: ReduceOp): NativeWork;
  broadcast(array: HostArray, root: number): NativeWork;
  /** output = every rank's input in rank order; counts[r] elements from rank r. */
  allGather(input: HostArray, output: HostArray, counts: number[]): NativeWork;
  /** sendCounts[r] elements of input go to rank r; recvCounts[r] elements of output come from it. */
  allToAll(input: HostArray, sendCounts: number[], output: HostArray, recvCounts: number[]): NativeWork;
  barrier(): NativeWork;
  /** Runs what was queued, then frees the connections. */
  close(): void;
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
