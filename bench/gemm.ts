/**
 * GEMM: C = A·B (+ bias, activation) on the current backend, square and recommendation-
 * shaped (batch × features) problems; rate in GFLOP/s against the measured FMA peak on
 * the CPU (on a GPU the line has no ceiling: compare with bench/torch_reference.py).
 */
import { defaultDevice, init, linear, matmul, Rng, tidy } from './lib-internal';
import { cpuFmaPeak } from './ceilings';
import { report, Result, time } from './harness';

function rand(shape: number[], rng: Rng) {
  return init.uniform(shape, -1, 1, { rng, requiresGrad: false });
}

export function run(filter: (name: string) => boolean): Result[] {
  const results: Result[] = [];
  const onCpu = defaultDevice() === 'cpu';
  const peak = onCpu ? cpuFmaPeak() : 0;
  const rng = new Rng(1);
  const square = onCpu ? [256, 512, 1024, 2048] : [512, 1024, 2048, 4096, 8192];
  for (const n of square) {
    if (!filter(`gemm ${n}`)) continue;
    tidy(() => {
      const a = rand([n, n], rng);
      const b = rand([n, n], rng);
      const ms = time(() => tidy(() => void matmul(a, b)));
      results.push(report({ bench: 'gemm', case: `matmul ${n}³`, config: { m: n, n, k: n }, medianMs: ms, rate: (2 * n ** 3) / (ms * 1e6), unit: 'GFLOP/s', ceiling: peak, ceilingSource: 'measured FMA peak' }));
    });
  }
  // A recommendation tower layer: batch × in → out with fused bias + ReLU.
  const layers: [number, number, number][] = onCpu ? [[2048, 512, 256], [4096, 256, 128]] : [[16384, 1024, 512], [65536, 512, 256]];
  for (const [m, k, n] of layers) {
    if (!filter(`linear ${m}`)) continue;
    tidy(() => {
      const x = rand([m, k], rng);
      const w = rand([n, k], rng);
      const bias = rand([n], rng);
      const ms = time(() => tidy(() => void linear(x, w, bias, 'relu')));
      results.push(report({ bench: 'gemm', case: `linear+bias+relu`, config: { m, k, n }, medianMs: ms, rate: (2 * m * n * k) / (ms * 1e6), unit: 'GFLOP/s', ceiling: peak, ceilingSource: 'measured FMA peak' }));
    });
  }
  // Transposed operands (the backward pass's shapes).
  const t = onCpu ? 1024 : 4096;
  for (const [ta, tb] of [[true, false], [false, true]] as const) {
    if (!filter(`gemm T`)) continue;
    tidy(() => {
      const a = rand([t, t], rng);
      const b = rand([t, t], rng);
      const ms = time(() => tidy(() => void matmul(a, b, { transA: ta, transB: tb })));
      results.push(report({ bench: 'gemm', case: `matmul ${ta ? 'Aᵀ·B' : 'A·Bᵀ'} ${t}³`, config: { m: t, n: t, k: t }, medianMs: ms, rate: (2 * t ** 3) / (ms * 1e6), unit: 'GFLOP/s', ceiling: peak, ceilingSource: 'measured FMA peak' }));
    });
  }
  return results;
}
