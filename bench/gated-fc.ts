/**
 * The gated FC layer (POSO / PPNet): fused `gatedLinear` against the unfused sequence a
 * framework without the fused op runs (the GEMM via `linear` without bias or activation, then
 * the bias add, the activation and the gate multiply as separate ops; eager: the gate
 * multiply first), inference forward and training forward + backward, on the current
 * backend. scale = 1, so the unfused sequence needs no extra op for it.
 *
 * Each line: median time; GFLOP/s of the GEMMs (2·B·in·out forward, 3× that forward +
 * backward) against the measured FMA peak (CPU; on a GPU the line has no ceiling: compare with
 * bench/torch_reference.py); and, in the note, the speed of the epilogue traffic against the
 * measured STREAM triad. That traffic is what the fused layer must move besides the GEMMs'
 * operands, the same count for both variants (so the unfused line shows how far the extra
 * passes slow it):
 *   lazy  forward   gate read, y written                                     8·B·out bytes
 *         fwd+bwd   + z written; backward pass: dy, gate, z read, dz, dgate  32·B·out
 *   eager forward   x, gate read, xg written; y written                      12·B·in + 4·B·out
 *         fwd+bwd   + z; dz pass: dy, z, dz; gate pass: dxg, gate, x, dx, dgate  32·B·in + 20·B·out
 */
import { activation, add, defaultDevice, gatedLinear, init, linear, mul, Rng, Tensor, tidy } from './lib-internal';
import type { Activation, GatePlacement } from './lib-internal';
import { cpuFmaPeak, memoryBandwidth } from './ceilings';
import { report, Result, timeVariants } from './harness';

interface Case {
  rows: number;
  inF: number;
  outF: number;
  act: Activation;
  placement: GatePlacement;
}

/** ~6–8 cases: the whole bench stays under a minute on a 2-core CPU. */
const CASES: Case[] = [
  { rows: 16384, inF: 64, outF: 64, act: 'relu', placement: 'lazy' },
  { rows: 16384, inF: 256, outF: 256, act: 'sigmoid', placement: 'lazy' },
  { rows: 4096, inF: 256, outF: 256, act: 'relu', placement: 'lazy' },
  { rows: 4096, inF: 512, outF: 512, act: 'gelu', placement: 'lazy' },
  { rows: 1024, inF: 1024, outF: 1024, act: 'relu', placement: 'lazy' },
  { rows: 16384, inF: 64, outF: 64, act: 'relu', placement: 'eager' },
  { rows: 4096, inF: 256, outF: 256, act: 'sigmoid', placement: 'eager' },
];

/**
 * Fused and unfused differ by a few percent where the GEMMs dominate, less than a shared VM's
 * drift: each is timed in ROUNDS alternating rounds and keeps its best median.
 */
const TIMING = { minTimeMs: 400, maxReps: 300 };
const ROUNDS = 2;

function epilogueBytes(c: Case, backward: boolean): number {
  const { rows: b, inF, outF } = c;
  if (c.placement === 'lazy') return (backward ? 32 : 8) * b * outF;
  return backward ? 32 * b * inF + 20 * b * outF : 12 * b * inF + 4 * b * outF;
}

function unfused(x: Tensor, g: Tensor, w: Tensor, b: Tensor, c: Case): Tensor {
  if (c.placement === 'eager') return activation(add(linear(mul(x, g), w), b), c.act);
  return mul(activation(add(linear(x, w), b), c.act), g);
}

export function run(filter: (name: string) => boolean): Result[] {
  const results: Result[] = [];
  const onCpu = defaultDevice() === 'cpu';
  const peak = onCpu ? cpuFmaPeak() : 0;
  const bw = memoryBandwidth();
  const rng = new Rng(5);
  for (const c of CASES) {
    const label = `${c.placement} ${c.act}`;
    if (!filter(`gated-fc ${label}`)) continue;
    tidy(() => {
      const x = init.uniform([c.rows, c.inF], -1, 1, { rng });
      const g = init.uniform([c.rows, c.placement === 'lazy' ? c.outF : c.inF], 0, 2, { rng });
      const w = init.uniform([c.outF, c.inF], -1 / Math.sqrt(c.inF), 1 / Math.sqrt(c.inF), { rng });
      const b = init.uniform([c.outF], -0.1, 0.1, { rng });
      const dy = init.uniform([c.rows, c.outF], -1, 1, { rng, requiresGrad: false });
      const leaves = [x, g, w, b];
      const variants: [string, () => Tensor][] = [
        ['fused', () => gatedLinear(x, g, w, b, { activation: c.act, placement: c.placement })],
        ['unfused', () => unfused(x, g, w, b, c)],
      ];
      for (const backward of [false, true]) {
        const flops = (backward ? 6 : 2) * c.rows * c.inF * c.outF;
        const bytes = epilogueBytes(c, backward);
        const ms = timeVariants(variants, backward, dy, leaves, ROUNDS, TIMING);
        for (const [name] of variants) {
          const epi = bytes / (ms[name] * 1e6);
          const vs = name === 'fused' ? ` · ${(ms.unfused / ms.fused).toFixed(2)}× faster than unfused` : '';
          results.push(
            report({
              bench: 'gated-fc',
              case: `${label} ${name} ${backward ? 'fwd+bwd' : 'fwd'}`,
              config: { B: c.rows, in: c.inF, out: c.outF },
              medianMs: ms[name],
              rate: flops / (ms[name] * 1e6),
              unit: 'GFLOP/s',
              ceiling: peak,
              ceilingSource: 'measured FMA peak',
              note: `epilogue ${epi.toFixed(1)} GB/s (${((100 * epi) / bw).toFixed(0)}% of STREAM ${bw.toFixed(1)})${vs}`,
            }),
          );
        }
      }
    });
  }
  return results;
}
