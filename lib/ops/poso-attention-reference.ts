/**
 * POSO attention spelled the naive way, from general ops: the gated keys g_k ⊙ K are stored,
 * each head's score matrix is a batched matmul, and each of the N value folds gets its own
 * attention output, summed with the fold gates:
 *   out = C · Σ_i g_i · softmax(σ·Q·(g_k⊙K)ᵀ) · V⁽ⁱ⁾
 * It takes the same arguments as {@link posoAttention} and returns the same values; autograd
 * differentiates it op by op. It is the formula the fused kernel is tested against and the
 * "unfused" side of `npm run bench -- poso-mha`; use posoAttention itself in models.
 */
import { ShapeError } from '../errors';
import { tensor, Tensor } from '../tensor';
import { add, mul } from './elementwise';
import { permute, slice } from './layout';
import { matmul } from './matmul';
import { softmax } from './nn';
import { PosoAttentionOptions } from './poso-attention';

/** The (B·H, Lq, L) uint8 mask of valid keys, or null when every key is valid. */
function scoreMask(options: PosoAttentionOptions, B: number, H: number, Lq: number, L: number, device: Tensor['device']): Tensor | null {
  let valid: (b: number, l: number) => boolean;
  if (options.mask) {
    const m = options.mask.toArraySync() as Uint8Array;
    valid = (b, l) => m[b * L + l] !== 0;
  } else if (options.lengths) {
    const n = options.lengths instanceof Tensor ? (options.lengths.toArraySync() as Int32Array) : options.lengths;
    valid = (b, l) => l < n[b];
  } else {
    return null;
  }
  const out = new Uint8Array(B * H * Lq * L);
  for (let b = 0; b < B; ++b)
    for (let r = 0; r < H * Lq; ++r)
      for (let l = 0; l < L; ++l) out[(b * H * Lq + r) * L + l] = valid(b, l) ? 1 : 0;
  return tensor(out, { shape: [B * H, Lq, L], device });
}

/** (B, T, H·dh) → (B·H, T, dh). */
function splitHeads(x: Tensor, H: number): Tensor {
  const [B, T, D] = x.shape;
  return permute(x.reshape(B, T, H, D / H), [0, 2, 1, 3]).reshape(B * H, T, D / H);
}

/** The naive form of {@link posoAttention} (see the file comment). */
export function posoAttentionReference(q: Tensor, k: Tensor, v: Tensor, options: PosoAttentionOptions = {}): Tensor {
  const H = options.heads ?? 1;
  const q3 = q.ndim === 3 ? q : q.reshape(q.shape[0], 1, q.shape[1]);
  const [B, Lq, D] = q3.shape;
  const L = k.shape[1];
  const dh = D / H;
  const N = v.shape[2] / D;
  if (!Number.isInteger(N)) throw new ShapeError(`v's last dim ${v.shape[2]} is not a multiple of ${D}`);
  const kg = options.keyGate ? mul(k, options.keyGate.reshape(B, 1, D)) : k;
  const scores = matmul(splitHeads(q3, H), splitHeads(kg, H), { transB: true }); // (B·H, Lq, L)
  const p = softmax(scores, { scale: options.softmaxScale ?? 1 / Math.sqrt(dh), mask: scoreMask(options, B, H, Lq, L, q.device) });
  const gv = options.valueGate ?? null;
  const G = gv === null ? 1 : gv.ndim === 3 ? gv.shape[2] : 1;
  let sum: Tensor | null = null;
  for (let i = 0; i < N; ++i) {
    const oi = matmul(p, splitHeads(slice(v, 2, i * D, D), H)).reshape(B, H, Lq, dh); // fold i's attention output
    const weighted = gv === null ? oi : mul(oi, slice(gv.reshape(B, N, G), 1, i, 1).reshape(B, G, 1, 1));
    sum = sum === null ? weighted : add(sum, weighted);
  }
  const out = permute(mul(sum!, options.scale ?? 1), [0, 2, 1, 3]).reshape(B, Lq, D);
  return q.ndim === 3 ? out : out.reshape(B, D);
}
