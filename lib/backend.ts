/**
 * The backend: CUDA when this build has it and a device is present, CPU otherwise, or
 * whatever the user forces with `setBackend()` or GATEWISE_BACKEND=cpu|cuda.
 */
import { NoCudaError } from './errors';
import { native } from './native';
import { checkInt, checkOneOf } from './validate';

/** Where a tensor lives: host memory (`'cpu'`) or the current CUDA device (`'cuda'`). */
export type Device = 'cpu' | 'cuda';

/** What `backend()` reports: the device new tensors go to and what this build and machine support. */
export interface BackendInfo {
  /** The device new tensors go to. */
  kind: Device;
  /** GPU name, or the CPU instruction set in use. */
  deviceName: string;
  /** CUDA compute capability ("9.0"), when on CUDA. */
  computeCapability?: string;
  /** Global memory of the GPU in bytes, when one is present. */
  totalMemory?: number;
  /** Free GPU memory in bytes right now, when one is present. */
  freeMemory?: number;
  /** Whether this binary was built with CUDA kernels. */
  cudaBuilt: boolean;
  /** Number of CUDA devices found (0 without a driver or GPU). */
  cudaDeviceCount: number;
  /** Why CUDA is not available, if it is not. */
  cudaUnavailableReason?: string;
  /** CPU kernels' instruction set: 'avx512', 'avx2' or 'scalar'. */
  cpuIsa: string;
  /** Threads the CPU kernels use. */
  numThreads: number;
}

function cudaAvailable(): boolean {
  return native.backendInfo().cudaDeviceCount > 0;
}

function initialDevice(): Device {
  const forced = process.env.GATEWISE_BACKEND;
  if (forced === 'cpu') return 'cpu';
  if (forced === 'cuda' && cudaAvailable()) return 'cuda';
  return cudaAvailable() ? 'cuda' : 'cpu';
}

let current: Device = initialDevice();

/** Reports the backend in use and what the machine offers. */
export function backend(): BackendInfo {
  const n = native.backendInfo();
  const info: BackendInfo = {
    kind: current,
    deviceName: current === 'cuda' ? n.deviceName : `CPU (${n.cpuIsa}, ${n.numThreads} threads)`,
    cudaBuilt: n.cudaBuilt,
    cudaDeviceCount: n.cudaDeviceCount,
    cpuIsa: n.cpuIsa,
    numThreads: n.numThreads,
  };
  if (n.cudaDeviceCount > 0) {
    info.computeCapability = n.computeCapability;
    info.totalMemory = n.totalMemory;
    info.freeMemory = n.freeMemory;
  } else {
    info.cudaUnavailableReason = n.cudaUnavailableReason;
  }
  return info;
}

/** Chooses where new tensors live. 'cuda' throws NoCudaError when no GPU can be used. */
export function setBackend(device: Device): void {
  checkOneOf(device, 'device', ['cpu', 'cuda'] as const);
  if (device === 'cuda' && !cudaAvailable()) {
    throw new NoCudaError(`cannot use the CUDA backend: ${native.backendInfo().cudaUnavailableReason}`);
  }
  current = device;
}

/** The device new tensors go to. */
export function defaultDevice(): Device {
  return current;
}

/** Whether a CUDA device can be used. */
export function hasCuda(): boolean {
  return cudaAvailable();
}

/** Threads the CPU kernels use (1–256). */
export function setNumThreads(n: number): void {
  native.setNumThreads(checkInt(n, 'n', 1, 256));
}

/** Waits until all queued GPU work has finished (for timing). */
export function synchronize(): void {
  native.synchronize();
}

/** The caching allocator's counters for one device (from `memoryStats()`). Sizes are in bytes. */
export interface MemoryStats {
  /** Bytes held by live tensors now. */
  allocated: number;
  /** The most bytes held by live tensors at once since the process started. */
  peakAllocated: number;
  /**
   * Bytes the allocator holds from the system (live tensors plus cached free blocks);
   * `emptyCache()` returns the cached part.
   */
  reserved: number;
  /** Number of tensor allocations served so far (from the cache or the system). */
  allocCount: number;
  /**
   * Number of those allocations that had to go to the system (cudaMalloc / malloc) because no
   * cached block fitted.
   */
  systemAllocs: number;
}

/** The caching allocator's counters for a device. */
export function memoryStats(device: Device = current): MemoryStats {
  return native.memoryStats(checkOneOf(device, 'device', ['cpu', 'cuda'] as const));
}

/** Returns cached GPU blocks to the driver. */
export function emptyCache(): void {
  native.emptyCache();
}
