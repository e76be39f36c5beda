/**
 * POSO multi-head attention: the fused `posoAttention` against `posoAttentionReference`, the
 * naive formula from general ops (gated keys stored, N per-fold attention outputs summed with
 * the fold gates), inference forward and training forward + backward, on the current backend.
 * Target attention (one query per sample, q of shape (B, D)), N = 4 value folds, gates
 * (B, D) and (B, N), lengths drawn in [L/2, L] per sample (seeded), so masking is exercised.
 * Cases are named "B<batch> L<keys> D<dim> h<heads>" (e.g. `npm run bench -- L1000`, `-- h8`).
 *
 * Each line: median time and the bytes the fused op must move per second against the
 * measured STREAM triad (the same count for both variants, so the naive line shows the cost of
 * its extra passes); in the note, GFLOP/s (against the measured FMA peak on the CPU) and the
 * speedup. K = Σ lengths is the number of valid keys: the fused op neither reads nor computes
 * on padded keys, though its backward writes zeros to their dk and dv rows. 4-byte floats:
 *   forward   reads  q, gk (B·D), gv (B·N), lengths (B), k (K·D), v (K·N·D); writes out (B·D)
 *   fwd+bwd   + lse (B·H) written; backward reads dout, out, lse, q, gates, lengths, k, v
 *             (K·D, K·N·D) and writes dq, dgk, dgv, dk (B·L·D), dv (B·L·N·D)
 *   FLOPs     forward 2·K·D (scores) + 2·K·N·D (fold mixing) + 2·K·D (P·V);
 *             backward 2.5× the attention part (scores recomputed, dP, dV, dQ, dK) + 2× the mixing
 * The naive time includes its host-side mask expansion (B·H·L bytes, see
 * lib/ops/poso-attention-reference.ts: ~2% of it on the CPU at B=1024, L=1000; more on a GPU).
 * bench/torch_reference.py times the same shapes in PyTorch (naive: N SDPA calls; mixed: the
 * folds mixed first, then one SDPA call).
 */
import { defaultDevice, posoAttention, posoAttentionReference, Rng, Tensor, tensor, tidy } from './lib-internal';
import { cpuFmaPeak, memoryBandwidth } from './ceilings';
import { report, Result, timeVariants } from './harness';

interface Case {
  B: number;
  L: number;
  D: number;
  heads: number;
}

const FOLDS = 4;

/** On the CPU v (B·L·N·D floats) stays ≤ 1 GB and the whole bench within a few minutes on 2 cores. */
const CPU_CASES: Case[] = [
  { B: 1024, L: 50, D: 64, heads: 4 },
  { B: 1024, L: 200, D: 64, heads: 1 },
  { B: 1024, L: 200, D: 64, heads: 4 },
  { B: 1024, L: 200, D: 64, heads: 8 },
  { B: 1024, L: 1000, D: 64, heads: 4 },
  { B: 8192, L: 50, D: 64, heads: 4 },
];

/**
 * On a GPU the range: B up to 8192, L up to 1000, D 64–256, up to 8 heads. v stays
 * ≤ 4.2 GB: the naive forward + backward allocates up to about 7.3× v's size (measured on the
 * CPU at B=1024, L=1000), so it fits in 80 GB.
 */
const CUDA_CASES: Case[] = [
  { B: 1024, L: 200, D: 64, heads: 4 },
  { B: 8192, L: 50, D: 64, heads: 4 },
  { B: 8192, L: 200, D: 64, heads: 4 },
  { B: 8192, L: 500, D: 64, heads: 4 },
  { B: 4096, L: 1000, D: 64, heads: 4 },
  { B: 8192, L: 200, D: 128, heads: 8 },
  { B: 1024, L: 1000, D: 128, heads: 8 },
  { B: 1024, L: 200, D: 256, heads: 1 },
  { B: 1024, L: 1000, D: 256, heads: 4 },
];

/** A shared VM drifts by up to 2× between runs: each variant is timed in ROUNDS alternating rounds, keeping its best median. */
const TIMING = { minTimeMs: 300, maxReps: 100 };
const ROUNDS = 2;

function bytes(c: Case, K: number, backward: boolean): number {
  const { B, L, D, heads: H } = c;
  const N = FOLDS;
  const inputs = 2 * B * D + B * N + B + K * D + K * N * D; // q, gk, gv, lengths, the valid rows of k and v
  const fwd = inputs + B * D; // + out
  if (!backward) return 4 * fwd;
  // reads the inputs, dout, out and lse; writes dq, dgk, dgv, dk, dv
  const bwd = inputs + 2 * B * D + H * B + (2 * B * D + B * N + B * L * D + B * L * N * D);
  return 4 * (fwd + H * B + bwd); // the training forward also writes lse
}

function flops(c: Case, K: number, backward: boolean): number {
  const attention = 4 * K * c.D;
  const mixing = 2 * K * FOLDS * c.D;
  return backward ? 3.5 * attention + 3 * mixing : attention + mixing;
}

/** A float32 leaf with values in [lo, hi): a seeded pool of up to 2^20 + 7 values, repeated (fast at any size). */
function random(shape: number[], lo: number, hi: number, rng: Rng): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const pool = new Float32Array(Math.min(n, (1 << 20) + 7));
  for (let i = 0; i < pool.length; ++i) pool[i] = lo + (hi - lo) * rng.uniform();
  const values = new Float32Array(n);
  for (let i = 0; i < n; i += pool.length) values.set(pool.subarray(0, Math.min(pool.length, n - i)), i);
  return tensor(values, { shape, device: defaultDevice() }).requiresGrad_(true);
}

export function run(filter: (name: string) => boolean): Result[] {
  const results: Result[] = [];
  const device = defaultDevice();
  const peak = device === 'cpu' ? cpuFmaPeak() : 0;
  const bw = memoryBandwidth();
  const rng = new Rng(11);
  for (const c of device === 'cpu' ? CPU_CASES : CUDA_CASES) {
    const { B, L, D, heads } = c;
    if (!filter(`poso-mha B${B} L${L} D${D} h${heads}`)) continue;
    tidy(() => {
      const q = random([B, D], -1, 1, rng);
      const k = random([B, L, D], -1, 1, rng);
      const v = random([B, L, FOLDS * D], -1, 1, rng);
      const keyGate = random([B, D], 0, 2, rng);
      const valueGate = random([B, FOLDS], 0, 2, rng);
      const lengths = Int32Array.from({ length: B }, () => L - rng.int(Math.floor(L / 2) + 1));
      const K = lengths.reduce((a, b) => a + b, 0);
      const dy = random([B, D], -1, 1, rng).requiresGrad_(false);
      const leaves = [q, k, v, keyGate, valueGate];
      // The fused op gets lengths as a tensor on its device; the naive one as host integers (it expands them on the host).
      const fusedOptions = { heads, keyGate, valueGate, lengths: tensor(lengths, { device }) };
      const naiveOptions = { heads, keyGate, valueGate, lengths };
      const variants: [string, () => Tensor][] = [
        ['fused', () => posoAttention(q, k, v, fusedOptions)],
        ['naive', () => posoAttentionReference(q, k, v, naiveOptions)],
      ];
      for (const backward of [false, true]) {
        const ms = timeVariants(variants, backward, dy, leaves, ROUNDS, TIMING);
        for (const [name] of variants) {
          const gflops = flops(c, K, backward) / (ms[name] * 1e6);
          const ofPeak = peak > 0 ? ` (${((100 * gflops) / peak).toFixed(0)}% of FMA peak ${peak.toFixed(1)})` : '';
          const vs = name === 'fused' ? ` · ${(ms.naive / ms.fused).toFixed(2)}× faster than naive` : '';
          results.push(
            report({
              bench: 'poso-mha',
              case: `${name} ${backward ? 'fwd+bwd' : 'fwd'}`,
              config: { B, L, Lq: 1, D, heads, N: FOLDS },
              medianMs: ms[name],
              rate: bytes(c, K, backward) / (ms[name] * 1e6),
              unit: 'GB/s',
              ceiling: bw,
              ceilingSource: 'STREAM triad',
              note: `${gflops.toFixed(1)} GFLOP/s${ofPeak}${vs}`,
            }),
          );
        }
      }
    });
  }
  return results;
}
