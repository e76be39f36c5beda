/**
 * APG's layer y = ((x·U)·S(z))·V + b with S(z) (K×K) generated per sample, forward and
 * forward + backward, two ways on the current backend:
 *   decomposed    x·U (GEMM) → ·S(z) per sample (sampleLinear) → ·V + b (GEMM): what
 *                 ApgLinear runs, O(NK + K² + KM) per sample
 *   materialized  W(z) = U·S(z)·V formed per sample (two batched GEMMs, B·N·M floats), then
 *                 x·W(z) per sample: the naive dynamic-weight layer, O(NK² + NKM + NM)
 * S(z) is an input here (the generator is the same for both and is left out). Each line:
 * median time and GFLOP/s of the variant's own arithmetic against the measured FMA peak
 * (CPU); the materialized variant is skipped where W(z) would pass 1 GB.
 */
import { defaultDevice, init, linear, matmul, Rng, sampleLinear, Tensor, tidy } from './lib-internal';
import { cpuFmaPeak } from './ceilings';
import { report, Result, timeVariants } from './harness';

const B = 256;
const SIZES = [256, 512, 1024];
const RANKS = [8, 16, 32, 64];
const TIMING = { minTimeMs: 250, maxReps: 200 };
const MAX_W_FLOATS = 256 * 1024 * 1024;

export function run(filter: (name: string) => boolean): Result[] {
  const results: Result[] = [];
  const peak = defaultDevice() === 'cpu' ? cpuFmaPeak() : 0;
  const rng = new Rng(3);
  for (const n of SIZES) {
    for (const k of RANKS) {
      const label = `N${n} M${n} K${k}`;
      if (!filter(`apg ${label}`)) continue;
      tidy(() => {
        const x = init.uniform([B, n], -1, 1, { rng });
        const u = init.uniform([k, n], -1 / Math.sqrt(n), 1 / Math.sqrt(n), { rng }); // (K, N): x·Uᵀ
        const v = init.uniform([n, k], -1 / Math.sqrt(k), 1 / Math.sqrt(k), { rng }); // (M, K)
        const b = init.uniform([n], -0.1, 0.1, { rng });
        const s = init.uniform([B, k, k], -1 / Math.sqrt(k), 1 / Math.sqrt(k), { rng });
        const dy = init.uniform([B, n], -1, 1, { rng, requiresGrad: false });
        const materialize = B * n * n <= MAX_W_FLOATS;
        const variants: [string, () => Tensor][] = [['decomposed', () => linear(sampleLinear(linear(x, u), s), v, b)]];
        if (materialize) {
          variants.push([
            'materialized',
            () => {
              const us = matmul(s, u, { transA: true }); // (B, K, N) = (U·S)ᵀ
              const w = matmul(us, v, { transA: true, transB: true }); // (B, N, M)
              return sampleLinear(x, w, null).add(b);
            },
          ]);
        }
        const flops: Record<string, number> = {
          decomposed: 2 * B * (n * k + k * k + k * n),
          materialized: 2 * B * (n * k * k + n * k * n + n * n),
        };
        for (const backward of [false, true]) {
          const ms = timeVariants(variants, backward, dy, [x, u, v, b, s], 2, TIMING);
          for (const [name] of variants) {
            const f = flops[name] * (backward ? 3 : 1);
            const note = name === 'decomposed' && materialize ? `${(ms.materialized / ms.decomposed).toFixed(1)}× faster than materialized` : name === 'decomposed' ? `materialized skipped: W(z) would take ${((B * n * n * 4) / 2 ** 30).toFixed(1)} GB` : '';
            results.push(
              report({
                bench: 'apg',
                case: `${label} ${name} ${backward ? 'fwd+bwd' : 'fwd'}`,
                config: { B, N: n, M: n, K: k },
                medianMs: ms[name],
                rate: f / (ms[name] * 1e6),
                unit: 'GFLOP/s',
                ceiling: peak,
                ceilingSource: 'measured FMA peak',
                note,
              }),
            );
          }
        }
      });
    }
  }
  return results;
}
