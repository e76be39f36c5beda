/**
 * The ceilings benchmarks are measured against, measured on this machine rather than
 * taken from a data sheet: the CPU's single-precision FMA peak (a register-only FMA loop
 * on every thread) and the memory bandwidth of a STREAM triad over arrays far larger than
 * the caches (counted as the benchmarks count: bytes read + bytes written).
 */
import { backend, defaultDevice, native } from './lib-internal';

let fmaPeak: number | undefined;
let copyBw: number | undefined;

/** Measured single-precision FMA peak of the CPU, GFLOP/s (all threads). */
export function cpuFmaPeak(): number {
  fmaPeak ??= native.cpuFmaPeakGflops(0.3) as number;
  return fmaPeak;
}

/** Measured memory bandwidth of the current device, GB/s (STREAM triad, best of 10). */
export function memoryBandwidth(): number {
  const device = defaultDevice();
  copyBw ??= native.streamTriadGBs(device, device === 'cuda' ? 1 << 28 : 1 << 25, 10) as number;
  return copyBw;
}

export function ceilingNote(): string {
  const b = backend();
  return b.kind === 'cuda' ? `${b.deviceName} (cc ${b.computeCapability})` : b.deviceName;
}
