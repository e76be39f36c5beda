/**
 * The ceilings benchmarks are measured against, measured on this machine rather than
 * taken from a data sheet: the CPU's single-precision FMA peak (a register-only FMA loop
 * on every thread) and the memory bandwidth of a large device-to-device copy.
 */
import { backend, defaultDevice, empty, native, tidy } from './lib-internal';
import { time } from './harness';

let fmaPeak: number | undefined;
let copyBw: number | undefined;

/** Measured single-precision FMA peak of the CPU, GFLOP/s (all threads). */
export function cpuFmaPeak(): number {
  fmaPeak ??= native.cpuFmaPeakGflops(0.3) as number;
  return fmaPeak;
}

/** Measured copy bandwidth of the current device, GB/s (bytes read + written). */
export function memoryBandwidth(): number {
  if (copyBw === undefined) {
    const n = defaultDevice() === 'cuda' ? 1 << 28 : 1 << 25; // 1 GiB on GPU, 128 MiB on CPU
    copyBw = tidy(() => {
      const a = empty([n]);
      const b = empty([n]);
      native.fill(a._h, 1);
      const ms = time(() => native.copy(b._h, a._h));
      return (2 * 4 * n) / (ms * 1e6);
    });
  }
  return copyBw;
}

export function ceilingNote(): string {
  const b = backend();
  return b.kind === 'cuda' ? `${b.deviceName} (cc ${b.computeCapability})` : b.deviceName;
}
