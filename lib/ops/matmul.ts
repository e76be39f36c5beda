/**
 * Matrix products on the native GEMM (native/ops/gemm): `matmul` with optional transposes
 * and batching, and `linear`, whose bias and activation run in the GEMM's epilogue.
 */
import { record } from '../autograd';
import { ShapeError } from '../errors';
import { native } from '../native';
import { empty, Tensor, zeros } from '../tensor';
import { checkBoolean, checkOneOf, checkOptions } from '../validate';
import { Activation, ACTIVATIONS } from './activation';
import { f32, sameDevice } from './common';

/** Options of {@link matmul}: whether an operand is stored transposed. */
export interface MatmulOptions {
  /** Use Aᵀ: a is stored (K, M) (default false). */
  transA?: boolean;
  /** Use Bᵀ: b is stored (N, K) (default false). */
  transB?: boolean;
}

/** Runs the native GEMM: c = act(op(a)·op(b) + bias) (+ beta·c). */
function gemm(a: Tensor, b: Tensor, c: Tensor, ta: boolean, tb: boolean, beta = 0, bias: Tensor | null = null, act: Activation = 'identity', pre: Tensor | null = null): void {
  native.gemm(a._h, b._h, c._h, bias?._h ?? null, pre?._h ?? null, ta, tb, 1, beta, act, 0.01);
}

/** (rows, cols) of a matrix operand or of each item of a batched one. */
function dims(t: Tensor, trans: boolean): [number, number] {
  const r = t.shape[t.ndim - 2];
  const c = t.shape[t.ndim - 1];
  return trans ? [c, r] : [r, c];
}

/**
 * op(a)·op(b) for 2-D operands or batches (batch, rows, cols); a 2-D operand is shared by
 * every item of a batched one.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  f32(a, 'a');
  f32(b, 'b');
  sameDevice([[a, 'a'], [b, 'b']]);
  const o = checkOptions(options, 'options');
  const ta = checkBoolean(o.transA ?? false, 'options.transA');
  const tb = checkBoolean(o.transB ?? false, 'options.transB');
  for (const [t, name] of [[a, 'a'], [b, 'b']] as const) {
    if (t.ndim !== 2 && t.ndim !== 3) throw new ShapeError(`Expected a 2-D or 3-D tensor for ${name} but received shape [${t.shape}]`);
  }
  const [m, k] = dims(a, ta);
  const [k2, n] = dims(b, tb);
  if (k !== k2) throw new ShapeError(`matmul: inner dimensions differ: op(a) is [${m}, ${k}] and op(b) is [${k2}, ${n}]`);
  const batched = a.ndim === 3 || b.ndim === 3;
  const batch = a.ndim === 3 ? a.shape[0] : b.ndim === 3 ? b.shape[0] : 1;
  if (a.ndim === 3 && b.ndim === 3 && a.shape[0] !== b.shape[0]) throw new ShapeError(`matmul: batch sizes differ: ${a.shape[0]} and ${b.shape[0]}`);
  const out = empty(batched ? [batch, m, n] : [m, n], { device: a.device });
  gemm(a, b, out, ta, tb);
  return record(out, 'matmul', [a, b], (g) => [
    a.requiresGrad ? gradOperand(g, b, a, 'a', ta, tb) : null,
    b.requiresGrad ? gradOperand(g, a, b, 'b', ta, tb) : null,
  ]);
}

/**
 * Gradient of one operand of C = op(A)·op(B) given dC. For A: dop(A) = dC·op(B)ᵀ; for B:
 * dop(B) = op(A)ᵀ·dC; each written in the operand's stored layout with one GEMM. A 2-D
 * operand shared across a batch sums the per-item gradients.
 */
function gradOperand(g: Tensor, other: Tensor, self: Tensor, which: 'a' | 'b', ta: boolean, tb: boolean): Tensor {
  const grad = zeros(self.shape, { device: self.device });
  const items = self.ndim === 2 && g.ndim === 3 ? g.shape[0] : 0;
  const run = (gi: Tensor, oi: Tensor, beta: number) => {
    if (which === 'a') {
      // stored A: ta ? (K,M) = op(B)·dCᵀ : (M,K) = dC·op(B)ᵀ
      if (ta) gemm(oi, gi, grad, tb, true, beta);
      else gemm(gi, oi, grad, false, !tb, beta);
    } else {
      // stored B: tb ? (N,K) = dCᵀ·op(A) : (K,N) = op(A)ᵀ·dC
      if (tb) gemm(gi, oi, grad, true, ta, beta);
      else gemm(oi, gi, grad, !ta, false, beta);
    }
  };
  if (!items) {
    run(g, other, 0);
    return grad;
  }
  for (let i = 0; i < items; ++i) {
    const gi = g.narrow(i, 1).reshape(g.shape.slice(1) as number[]);
    const oi = other.ndim === 3 ? other.narrow(i, 1).reshape(other.shape.slice(1) as number[]) : other;
    run(gi, oi, 1);
    gi.dispose();
    if (oi !== other) oi.dispose();
  }
  return grad;
}

/**
 * y = act(x·Wᵀ + b) with W (out, in) as in PyTorch, x (..., in) → (..., out); the bias and
 * activation are fused into the GEMM epilogue.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null, act: Activation = 'identity'): Tensor {
  f32(x, 'x');
  f32(weight, 'weight');
  if (bias !== null) f32(bias, 'bias');
  checkOneOf(act, 'act', ACTIVATIONS);
  sameDevice([[x, 'x'], [weight, 'weight'], [bias, 'bias']]);
  if (weight.ndim !== 2) throw new ShapeError(`Expected a 2-D tensor (out, in) for weight but received shape [${weight.shape}]`);
  const [outF, inF] = weight.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) throw new ShapeError(`Expected shape [..., ${inF}] for x but received [${x.shape}]`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) throw new ShapeError(`Expected shape [${outF}] for bias but received [${bias.shape}]`);
  const lead = x.shape.slice(0, -1);
  const rows = lead.reduce((p, d) => p * d, 1);
  const x2 = x.ndim === 2 ? x : x.detach().reshape(rows, inF);
  const y2 = empty([rows, outF], { device: x.device });
  const pre = act === 'gelu' ? empty([rows, outF], { device: x.device }) : null;
  gemm(x2, weight, y2, false, true, 0, bias, act, pre);
  const y = x.ndim === 2 ? y2 : y2.reshape(...lead, outF);
  return record(y, 'linear', [x, weight, bias], (gy) => {
    const g = gy.ndim === 2 ? gy : gy.detach().reshape(rows, outF);
    let dz = g;
    if (act !== 'identity') {
      dz = empty([rows, outF], { device: x.device });
      native.activationBackward(act, g._h, pre?._h ?? null, pre ? null : y2._h, dz._h, 0.01);
    }
    let gx: Tensor | null = null;
    if (x.requiresGrad) {
      gx = empty([rows, inF], { device: x.device });
      gemm(dz, weight, gx, false, false);
      if (x.ndim !== 2) gx = gx.reshape(x.shape as number[]);
    }
    let gw: Tensor | null = null;
    if (weight.requiresGrad) {
      gw = empty([outF, inF], { device: x.device });
      gemm(dz, x2, gw, true, false);
    }
    let gb: Tensor | null = null;
    if (bias?.requiresGrad) {
      gb = empty([outF], { device: x.device });
      native.sumToShape(dz._h, gb._h);
    }
    if (dz !== g) dz.dispose();
    return [gx, gw, gb];
  });
}

declare module '../tensor' {
  interface Tensor {
    /** op(this)·op(other), see {@link matmul}. */
    matmul(other: Tensor, options?: MatmulOptions): Tensor;
  }
}
Tensor.prototype.matmul = function (o, options) {
  return matmul(this, o, options);
};
