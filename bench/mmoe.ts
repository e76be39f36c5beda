/**
 * The MMoE layer (experts + task gates + combination; T = 2 tasks, one expert layer of H
 * units with ReLU over an input of width IN), forward and forward + backward, three ways:
 *   batched   every expert in ONE batched GEMM launch (expertLinear), moeGate, the fused
 *             moeCombine — what MMoE runs
 *   loop      a loop of E per-expert GEMMs (linear with the bias and ReLU fused), stacked,
 *             then the same gate and fused combination: isolates the batching of the experts
 *   naive     the loop, a softmax gate and the combination as broadcast multiply + sum over
 *             (B, T, E, H) — what a framework without the fused ops runs
 * Each line: median time and GFLOP/s of the expert GEMMs (2·B·IN·H·E forward, 3× that forward +
 * backward) against the measured FMA peak on a CPU (on a GPU, compare with
 * bench/torch_reference.py mmoe).
 */
import { concat, defaultDevice, expertLinear, init, linear, moeCombine, moeGate, mul, permute, Rng, softmax, sum, Tensor, tidy } from './lib-internal';
import { cpuFmaPeak } from './ceilings';
import { report, Result, timeVariants } from './harness';

const IN = 256;
const H = 64;
const T = 2;
/** Experts × batch, the range: 6 cases, the whole bench about a minute on 2 cores. */
const CASES: [number, number][] = [
  [4, 1024],
  [8, 1024],
  [16, 1024],
  [4, 16384],
  [8, 16384],
  [16, 16384],
];
const TIMING = { minTimeMs: 300, maxReps: 200 };
const ROUNDS = 2;

export function run(filter: (name: string) => boolean): Result[] {
  const results: Result[] = [];
  const peak = defaultDevice() === 'cpu' ? cpuFmaPeak() : 0;
  const rng = new Rng(7);
  for (const [E, B] of CASES) {
    const label = `E${E} B${B}`;
    if (!filter(`mmoe ${label}`)) continue;
    tidy(() => {
      const bound = Math.sqrt(6 / IN);
      const x = init.uniform([B, IN], -1, 1, { rng });
      const w = init.uniform([E, H, IN], -bound, bound, { rng });
      const b = init.uniform([E, H], -0.1, 0.1, { rng });
      const ws = Array.from({ length: E }, () => init.uniform([H, IN], -bound, bound, { rng }));
      const bs = Array.from({ length: E }, () => init.uniform([H], -0.1, 0.1, { rng }));
      const wg = init.uniform([T * E, IN], -0.1, 0.1, { rng });
      const dy = init.uniform([T, B, H], -1, 1, { rng, requiresGrad: false });
      const gates = () => linear(x, wg).reshape(B, T, E);
      const stacked = () => concat(ws.map((we, e) => linear(x, we, bs[e], 'relu').reshape(1, B, H)), 0);
      const variants: [string, () => Tensor][] = [
        ['batched', () => moeCombine(expertLinear(x, w, b, 'relu'), moeGate(gates()))],
        ['loop', () => moeCombine(stacked(), moeGate(gates()))],
        ['naive', () => permute(sum(mul(permute(stacked(), [1, 0, 2]).reshape(B, 1, E, H), softmax(gates()).reshape(B, T, E, 1)), 2), [1, 0, 2])],
      ];
      const leaves = [x, w, b, ...ws, ...bs, wg];
      for (const backward of [false, true]) {
        const flops = (backward ? 6 : 2) * B * IN * H * E;
        const ms = timeVariants(variants, backward, dy, leaves, ROUNDS, TIMING);
        for (const [name] of variants) {
          const vs = name === 'batched' ? ` · ${(ms.loop / ms.batched).toFixed(2)}× the loop, ${(ms.naive / ms.batched).toFixed(2)}× naive` : '';
          results.push(
            report({
              bench: 'mmoe',
              case: `${label} ${name} ${backward ? 'fwd+bwd' : 'fwd'}`,
              config: { E, B, in: IN, H, T },
              medianMs: ms[name],
              rate: flops / (ms[name] * 1e6),
              unit: 'GFLOP/s',
              ceiling: peak,
              ceilingSource: 'measured FMA peak',
              note: vs.slice(3),
            }),
          );
        }
      }
    });
  }
  return results;
}
