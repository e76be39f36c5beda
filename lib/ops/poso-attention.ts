/**
 * POSO multi-head attention, fused (native/ops/poso_attention): one attention map per head
 * shared by N value folds, the keys gated element-wise and the folds mixed by personal gates:
 *   out = C · softmax(σ · Q·(g_k ⊙ K)ᵀ over the valid keys) · Σ_i g_i · V⁽ⁱ⁾
 * per head, with σ = 1/√head_dim by default. Without gates and with one fold it is plain
 * multi-head attention (scaled dot product with a key padding mask).
 *
 * The K gate is folded into the queries and the folds are mixed as V is read: neither the
 * gated keys nor the N per-fold attention outputs are ever stored. The backward recomputes
 * the probabilities from the saved log-sum-exp (flash-attention style).
 */
import { isGradEnabled, record } from '../autograd';
import { DTypeError, ShapeError } from '../errors';
import { native } from '../native';
import { empty, Tensor, tensor } from '../tensor';
import { checkInt, checkNumber, checkOptions, invalid } from '../validate';
import { f32, sameDevice } from './common';

/** Options of {@link posoAttention}. */
export interface PosoAttentionOptions {
  /** Number of heads; they split the last dim D of q, k and each value fold (default 1). */
  heads?: number;
  /** g_k, the key gate (B, D): one value per channel, the same for every key position (default: none). */
  keyGate?: Tensor | null;
  /**
   * g_i, the value-fold gates: (B, N) (one per fold, shared by the heads) or (B, N, heads).
   * Required when v holds N > 1 folds.
   */
  valueGate?: Tensor | null;
  /** Valid keys per sample (B): key l of sample b takes part when l < lengths[b]. */
  lengths?: Tensor | Int32Array | readonly number[] | null;
  /** Key padding mask (B, L) uint8: nonzero = a valid key. At most one of lengths and mask. */
  mask?: Tensor | null;
  /** C, the gates' correction factor (default 1). */
  scale?: number;
  /** σ, multiplying the scores (default 1/√head_dim). */
  softmaxScale?: number;
}

/** lengths as an int32 tensor (B) on `device`, each checked to lie in [0, keys] when on the host. */
function lengthsTensor(value: Tensor | Int32Array | readonly number[], batch: number, keys: number, device: Tensor['device']): Tensor {
  let t: Tensor;
  if (value instanceof Tensor) {
    if (value.dtype !== 'int32') throw new DTypeError(`Expected an int32 tensor for options.lengths but received ${value.dtype}`);
    if (value.device !== device) throw invalid(`a tensor on ${device} (q's device)`, 'options.lengths', value.device);
    t = value;
  } else if (value instanceof Int32Array || Array.isArray(value)) {
    t = tensor(Int32Array.from(value as ArrayLike<number>), { device });
  } else {
    throw invalid('an Int32Array, an array of integers or an int32 Tensor', 'options.lengths', value);
  }
  if (t.ndim !== 1 || t.shape[0] !== batch) throw new ShapeError(`Expected shape [${batch}] for options.lengths but received [${t.shape}]`);
  if (t.device === 'cpu' || !(value instanceof Tensor)) {
    const host = value instanceof Tensor ? (value.toArraySync() as Int32Array) : (value as ArrayLike<number>);
    for (let b = 0; b < batch; ++b) checkInt(host[b], `options.lengths[${b}]`, 0, keys);
  }
  return t;
}

/** Checked arguments: q and the value gates as 3-D views, lengths as a tensor, and the scalars. */
interface Prepared {
  q3: Tensor;
  gv3: Tensor | null;
  lengths: Tensor | null;
  heads: number;
  scale: number;
  softmaxScale: number;
}

function prepare(q: Tensor, k: Tensor, v: Tensor, options: PosoAttentionOptions): Prepared {
  f32(q, 'q');
  f32(k, 'k');
  f32(v, 'v');
  const o = checkOptions(options, 'options');
  const gk = o.keyGate ?? null;
  const gv = o.valueGate ?? null;
  const mask = o.mask ?? null;
  if (gk !== null) f32(gk, 'options.keyGate');
  if (gv !== null) f32(gv, 'options.valueGate');
  sameDevice([[q, 'q'], [k, 'k'], [v, 'v'], [gk, 'options.keyGate'], [gv, 'options.valueGate'], [mask, 'options.mask']]);
  if (q.ndim !== 2 && q.ndim !== 3) throw new ShapeError(`Expected a 2-D (batch, dim) or 3-D (batch, queries, dim) tensor for q but received shape [${q.shape}]`);
  const q3 = q.ndim === 3 ? q : q.detach().reshape(q.shape[0], 1, q.shape[1]);
  const [B, , D] = q3.shape;
  const heads = checkInt(o.heads ?? 1, 'options.heads', 1);
  if (D % heads !== 0) throw new ShapeError(`Expected options.heads to divide q's last dim ${D} but received ${heads}`);
  if (D / heads > 256) throw new ShapeError(`Expected a head dim of at most 256 but q's last dim ${D} over ${heads} heads is ${D / heads}`);
  if (k.ndim !== 3 || k.shape[0] !== B || k.shape[2] !== D) throw new ShapeError(`Expected shape [${B}, keys, ${D}] for k but received [${k.shape}]`);
  const L = k.shape[1];
  if (v.ndim !== 3 || v.shape[0] !== B || v.shape[1] !== L || D === 0 || v.shape[2] % D !== 0 || v.shape[2] === 0) {
    throw new ShapeError(`Expected shape [${B}, ${L}, folds·${D}] for v but received [${v.shape}]`);
  }
  const folds = v.shape[2] / D;
  if (folds > 16) throw new ShapeError(`Expected at most 16 value folds but v holds ${folds}`);
  if (gk !== null && gk.shape.join() !== [B, D].join()) throw new ShapeError(`Expected shape [${B}, ${D}] for options.keyGate but received [${gk.shape}]`);
  let gv3: Tensor | null = null;
  if (gv !== null) {
    const ok = (gv.ndim === 2 && gv.shape[0] === B && gv.shape[1] === folds) || (gv.ndim === 3 && gv.shape[0] === B && gv.shape[1] === folds && (gv.shape[2] === 1 || gv.shape[2] === heads));
    if (!ok) throw new ShapeError(`Expected shape [${B}, ${folds}] or [${B}, ${folds}, ${heads}] for options.valueGate but received [${gv.shape}]`);
    gv3 = gv.ndim === 3 ? gv : gv.detach().reshape(B, folds, 1);
  } else if (folds !== 1) {
    throw invalid(`a (${B}, ${folds}) tensor: v holds ${folds} value folds`, 'options.valueGate', gv);
  }
  if (mask !== null) {
    if (!(mask instanceof Tensor) || mask.dtype !== 'uint8') throw invalid('a uint8 Tensor', 'options.mask', mask);
    if (mask.shape.join() !== [B, L].join()) throw new ShapeError(`Expected shape [${B}, ${L}] for options.mask but received [${mask.shape}]`);
    if (o.lengths != null) throw invalid('null when options.mask is given (give one of them)', 'options.lengths', o.lengths);
  }
  const lengths = o.lengths != null ? lengthsTensor(o.lengths, B, L, q.device) : null;
  return {
    q3,
    gv3,
    lengths,
    heads,
    scale: checkNumber(o.scale ?? 1, 'options.scale'),
    softmaxScale: checkNumber(o.softmaxScale ?? 1 / Math.sqrt(D / heads), 'options.softmaxScale'),
  };
}

/**
 * POSO attention (see the file comment). q (B, Lq, D) or (B, D) for one query per sample,
 * k (B, L, D), v (B, L, N·D) with the N value folds side by side (fold i at v[..., i·D ..]).
 * Returns q's shape. Gradients flow to q, k, v and both gates.
 */
export function posoAttention(q: Tensor, k: Tensor, v: Tensor, options: PosoAttentionOptions = {}): Tensor {
  const p = prepare(q, k, v, options);
  const gk = options.keyGate ?? null;
  const gv = options.valueGate ?? null;
  const mask = options.mask ?? null;
  const { q3, gv3, heads, scale, softmaxScale } = p;
  const [B, Lq] = q3.shape;
  const device = q.device;
  const training = isGradEnabled() && [q, k, v, gk, gv].some((t) => t?.requiresGrad);
  const out3 = empty(q3.shape, { device });
  const lse = training ? empty([B, heads, Lq], { device }) : null;
  const args = [q3._h, k._h, v._h, gk?._h ?? null, gv3?._h ?? null, p.lengths?._h ?? null, mask?._h ?? null] as const;
  native.posoAttention(...args, out3._h, lse?._h ?? null, heads, scale, softmaxScale);
  const out = q.ndim === 3 ? out3 : out3.reshape(B, q3.shape[2]);
  return record(out, 'posoAttention', [q, k, v, gk, gv], (g) => {
    const g3 = g.ndim === 3 ? g : g.detach().reshape(B, 1, q3.shape[2]);
    const want = (t: Tensor | null, shape: readonly number[]) => (t?.requiresGrad ? empty(shape, { device }) : null);
    const dq = want(q, q3.shape);
    const dk = want(k, k.shape);
    const dv = want(v, v.shape);
    const dgk = want(gk, gk?.shape ?? []);
    const dgv = want(gv, gv3?.shape ?? []);
    native.posoAttentionBackward(g3._h, out3._h, lse!._h, ...args, dq?._h ?? null, dk?._h ?? null, dv?._h ?? null, dgk?._h ?? null, dgv?._h ?? null, heads, scale, softmaxScale);
    return [dq && q.ndim !== 3 ? dq.reshape(...q.shape) : dq, dk, dv, dgk, dgv && gv!.ndim !== 3 ? dgv.reshape(...gv!.shape) : dgv];
  });
}
