/**
 * Fused optimizer steps over a group of parameters (a dense tower's worth of tensors):
 * rate in GB/s of state traffic (Adam reads p, g, m, v and writes p, m, v: 28 bytes per
 * parameter; AdaGrad 20; SGD with momentum 20) against the measured STREAM triad bandwidth.
 */
import { Adagrad, Adam, defaultDevice, init, Optimizer, BaseOptions, Rng, SGD, Tensor, tidy, keep } from './lib-internal';
import { memoryBandwidth } from './ceilings';
import { report, Result, time } from './harness';

export function run(filter: (name: string) => boolean): Result[] {
  const results: Result[] = [];
  const bw = memoryBandwidth();
  const rng = new Rng(3);
  const total = defaultDevice() === 'cuda' ? 128 << 20 : 32 << 20; // state far past every cache
  // 16 tensors of uneven sizes, like a multi-layer tower.
  const sizes = Array.from({ length: 16 }, (_, i) => Math.round((total / 16) * (0.5 + (i % 4) / 4)));
  const params: Tensor[] = sizes.map((n) => init.uniform([n], -1, 1, { rng }));
  for (const p of params) p.grad = keep(init.uniform(p.shape, -1, 1, { rng, requiresGrad: false }));
  const count = sizes.reduce((a, b) => a + b, 0);
  const cases: [string, number, () => Optimizer<BaseOptions>][] = [
    ['adam', 28, () => new Adam(params, { lr: 1e-3 })],
    ['adagrad', 20, () => new Adagrad(params, { lr: 0.05 })],
    ['sgd momentum', 20, () => new SGD(params, { lr: 0.01, momentum: 0.9 })],
  ];
  for (const [name, bytesPerParam, make] of cases) {
    if (!filter(name)) continue;
    const opt = make();
    const ms = time(() => tidy(() => opt.step()));
    results.push(report({ bench: 'optim', case: name, config: { tensors: params.length, params: count }, medianMs: ms, rate: (bytesPerParam * count) / (ms * 1e6), unit: 'GB/s', ceiling: bw, ceilingSource: 'measured STREAM triad' }));
  }
  for (const p of params) {
    p.grad?.dispose();
    p.dispose();
  }
  return results;
}
