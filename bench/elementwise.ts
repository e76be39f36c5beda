/**
 * Memory-bound kernels: element-wise arithmetic (same shape and bias broadcast),
 * activations, softmax and reductions; rate in GB/s (bytes read + written) against the
 * measured STREAM triad bandwidth of the device.
 */
import { activation, add, init, mul, Rng, softmax, sum, tidy } from './lib-internal';
import { memoryBandwidth } from './ceilings';
import { report, Result, time } from './harness';

export function run(filter: (name: string) => boolean): Result[] {
  const results: Result[] = [];
  const bw = memoryBandwidth();
  const rng = new Rng(2);
  const rows = 1 << 15; // 128 MiB per operand: far past every cache
  const cols = 1024;
  const n = rows * cols;
  const cases: [string, number, (a: ReturnType<typeof init.uniform>, b: ReturnType<typeof init.uniform>, bias: ReturnType<typeof init.uniform>) => unknown][] = [
    ['add', 3, (a, b) => add(a, b)],
    ['mul', 3, (a, b) => mul(a, b)],
    ['add bias (broadcast)', 2, (a, _b, bias) => add(a, bias)],
    ['relu', 2, (a) => activation(a, 'relu')],
    ['sigmoid', 2, (a) => activation(a, 'sigmoid')],
    ['gelu', 2, (a) => activation(a, 'gelu')],
    ['softmax (rows)', 2, (a) => softmax(a)],
    ['sum (rows)', 1, (a) => sum(a, -1)],
  ];
  tidy(() => {
    const a = init.uniform([rows, cols], -2, 2, { rng, requiresGrad: false });
    const b = init.uniform([rows, cols], -2, 2, { rng, requiresGrad: false });
    const bias = init.uniform([cols], -2, 2, { rng, requiresGrad: false });
    for (const [name, touches, fn] of cases) {
      if (!filter(name)) continue;
      const ms = time(() => tidy(() => void fn(a, b, bias)));
      const bytes = touches * 4 * n;
      results.push(report({ bench: 'elementwise', case: name, config: { rows, cols }, medianMs: ms, rate: bytes / (ms * 1e6), unit: 'GB/s', ceiling: bw, ceilingSource: 'measured STREAM triad' }));
    }
  });
  return results;
}
