/**
 * Mixture-of-experts ops for MMoE / POSO-MMoE (native/ops/moe and the batched GEMM):
 *   expertLinear  every expert's layer act(x_e·W_eᵀ + b_e) as ONE batched GEMM launch, bias
 *                 and activation in its epilogue; x shared (B, in) or per expert (E, B, in)
 *   moeGate       task gates: softmax over the experts that survive gate dropout (YouTube
 *                 2019: each gate dropped with probability p, renormalized over survivors,
 *                 never all dropped; one mask per sample or per task for the whole batch)
 *   moeCombine    out[t] = C · Σ_e g[:, t, e] · pg[:, e] · x[e], every task in one fused pass
 * Layouts: experts (E, B, H) expert-major (what the batched GEMM writes), gates (B, T, E),
 * personal gate (B, E), combined (T, B, H) so that each task's slice is contiguous.
 */
import { record } from '../autograd';
import { ShapeError } from '../errors';
import { native } from '../native';
import { defaultRng } from '../random';
import { empty, Tensor } from '../tensor';
import { checkBoolean, checkNumber, checkOneOf, checkOptions, checkRange, invalid } from '../validate';
import { Activation, ACTIVATIONS } from './activation';
import { f32, sameDevice } from './common';
import { philoxSeed } from './nn';

function shapeError(name: string, want: string, t: Tensor): ShapeError {
  return new ShapeError(`Expected shape ${want} for ${name} but received [${t.shape}]`);
}

/** Options of {@link expertLinear}. */
export interface ExpertLinearOptions {
  /** Lay the output out (B, E, out) as the single GEMM of a shared x writes it, skipping the permute to expert-major (moeCombine takes either; default false). */
  batchMajor?: boolean;
}

/**
 * Every expert's layer at once: y[e] = act(x_e·W[e]ᵀ + b[e]).
 * x (B, in) shared by the experts or (E, B, in); weight (E, out, in) (PyTorch's Linear layout
 * per expert); bias (E, out) or null → (E, B, out).
 * A shared x runs as one GEMM (B, in)·(E·out, in)ᵀ, permuted to expert-major; its backward
 * lays dz out (B, E·out) so that dx = Σ_e dz_e·W_e (K = E·out) and dW = dzᵀ·x are one GEMM
 * each. Per-expert inputs (E, B, in) run as batched GEMMs both ways. With options.batchMajor
 * (a shared x only) the output stays (B, E, out), as the GEMM writes it: no permute either way.
 */
export function expertLinear(x: Tensor, weight: Tensor, bias: Tensor | null = null, act: Activation = 'identity', options: ExpertLinearOptions = {}): Tensor {
  const batchMajor = checkBoolean(checkOptions(options, 'options').batchMajor ?? false, 'options.batchMajor');
  f32(x, 'x');
  f32(weight, 'weight');
  if (bias !== null) f32(bias, 'bias');
  checkOneOf(act, 'act', ACTIVATIONS);
  sameDevice([[x, 'x'], [weight, 'weight'], [bias, 'bias']]);
  if (weight.ndim !== 3) throw shapeError('weight', '[experts, out, in]', weight);
  const [E, outF, inF] = weight.shape;
  const shared = x.ndim === 2;
  if (!((shared && x.shape[1] === inF) || (x.ndim === 3 && x.shape[0] === E && x.shape[2] === inF))) {
    throw shapeError('x', `[batch, ${inF}] or [${E}, batch, ${inF}]`, x);
  }
  if (bias && (bias.ndim !== 2 || bias.shape[0] !== E || bias.shape[1] !== outF)) throw shapeError('bias', `[${E}, ${outF}]`, bias);
  if (batchMajor && !shared) throw new ShapeError(`options.batchMajor needs a shared x [batch, ${inF}], not [${x.shape}]`);
  const B = x.shape[x.ndim - 2];
  const yShape = batchMajor ? [B, E, outF] : [E, B, outF];
  const y = empty(yShape, { device: x.device });
  const pre = act === 'gelu' ? empty(yShape, { device: x.device }) : null;
  if (shared) {
    // One GEMM over every expert's rows at once, (B, in)·(E·out, in)ᵀ → (B, E·out): one large
    // product runs far nearer the peak than E small ones. It writes batch-major; expert-major
    // takes a permute.
    const flatY = batchMajor ? y : empty([B, E, outF], { device: x.device });
    const flatPre = pre && !batchMajor ? empty([B, E, outF], { device: x.device }) : pre;
    const w = weight.detach().reshape(E * outF, inF);
    const b = bias ? bias.detach().reshape(E * outF) : null;
    native.gemm(x._h, w._h, flatY.reshape(B, E * outF)._h, b?._h ?? null, flatPre ? flatPre.reshape(B, E * outF)._h : null, false, true, 1, 0, act, 0.01);
    if (!batchMajor) {
      native.permute(flatY._h, [1, 0, 2], y._h);
      if (pre && flatPre) native.permute(flatPre._h, [1, 0, 2], pre._h);
      for (const t of [flatY, flatPre]) t?.dispose();
    }
    for (const t of [w, b]) t?.dispose();
  } else {
    native.gemm(x._h, weight._h, y._h, bias?._h ?? null, pre?._h ?? null, false, true, 1, 0, act, 0.01);
  }
  return record(y, 'expertLinear', [x, weight, bias], (gy) => {
    let dz = gy;
    if (act !== 'identity') {
      dz = empty(yShape, { device: x.device });
      native.activationBackward(act, gy._h, pre?._h ?? null, pre ? null : y._h, dz._h, 0.01);
    }
    // A shared x: dz laid out (B, E·out) makes dx = dz·W and dW = dzᵀ·x one GEMM each.
    const permuted = shared && !batchMajor && (x.requiresGrad || weight.requiresGrad) ? empty([B, E * outF], { device: x.device }) : null;
    if (permuted) native.permute(dz._h, [1, 0, 2], permuted.reshape(B, E, outF)._h);
    const flat = batchMajor ? dz.reshape(B, E * outF) : permuted;
    let gx: Tensor | null = null;
    if (x.requiresGrad) {
      gx = empty(x.shape, { device: x.device });
      if (flat) {
        const w = weight.detach().reshape(E * outF, inF);
        native.gemm(flat._h, w._h, gx._h, null, null, false, false, 1, 0, 'identity', 0.01);
        w.dispose();
      } else {
        native.gemm(dz._h, weight._h, gx._h, null, null, false, false, 1, 0, 'identity', 0.01);
      }
    }
    let gw: Tensor | null = null;
    if (weight.requiresGrad) {
      gw = empty([E, outF, inF], { device: x.device });
      if (flat) native.gemm(flat._h, x._h, gw.reshape(E * outF, inF)._h, null, null, true, false, 1, 0, 'identity', 0.01);
      else native.gemm(dz._h, x._h, gw._h, null, null, true, false, 1, 0, 'identity', 0.01);
    }
    flat?.dispose();
    let gb: Tensor | null = null;
    if (bias?.requiresGrad) {
      gb = empty(batchMajor ? [1, E, outF] : [E, 1, outF], { device: x.device });
      native.sumToShape(dz._h, gb._h);
      gb = gb.reshape(E, outF);
    }
    if (dz !== gy) dz.dispose();
    return [gx, gw, gb];
  });
}

/** The gate-dropout modes of {@link moeGate}, see {@link GateDropoutMode}. */
export const GATE_DROPOUT_MODES = ['sample', 'batch'] as const;
/** 'sample': an independent mask per (sample, task); 'batch': one mask per task for the whole batch. */
export type GateDropoutMode = (typeof GATE_DROPOUT_MODES)[number];

/** Options of {@link moeGate}: gate dropout and the Philox stream its masks are drawn from. */
export interface MoeGateOptions {
  /** Probability of dropping each expert's gate (default 0: a plain softmax). */
  p?: number;
  /** Mask per sample (default) or shared by the batch. */
  mode?: GateDropoutMode;
  /** Philox seed (default: drawn from the global generator, see manualSeed). */
  seed?: number | bigint;
  /** Philox counter offset (default 0). */
  offset?: number;
}

/**
 * Task gates: logits (B, T, E) → gates (B, T, E), a softmax over the experts surviving gate
 * dropout (dropped gates are exactly 0; a row never loses every expert: the expert with the
 * largest draw survives). Gradients flow to the logits of the surviving experts.
 */
export function moeGate(logits: Tensor, options: MoeGateOptions = {}): Tensor {
  f32(logits, 'logits');
  const o = checkOptions(options, 'options');
  if (logits.ndim !== 3) throw shapeError('logits', '[batch, tasks, experts]', logits);
  const p = checkRange(o.p ?? 0, 'options.p', 0, 1);
  if (p === 1) throw invalid('a probability in [0, 1)', 'options.p', p);
  const mode = checkOneOf(o.mode ?? 'sample', 'options.mode', GATE_DROPOUT_MODES);
  const seed = o.seed === undefined ? (p > 0 ? BigInt(defaultRng().seed()) : 0n) : philoxSeed(o.seed, 'options.seed');
  const offset = philoxSeed(o.offset ?? 0, 'options.offset');
  const [B, T, E] = logits.shape;
  const gates = empty(logits.shape, { device: logits.device });
  native.moeGate(logits.detach().reshape(B * T, E)._h, T, p, mode === 'batch', seed, offset, gates.reshape(B * T, E)._h, null);
  return record(gates, 'moeGate', [logits], (g) => {
    const gx = empty(logits.shape, { device: logits.device });
    native.softmaxBackward(g._h, gates._h, gx._h, false, 1);
    return [gx];
  });
}

/** Options of {@link moeCombine}. */
export interface MoeCombineOptions {
  /** (B, E): POSO-MMoE's personal gate per expert, multiplied into every task's gate. */
  personalGate?: Tensor | null;
  /** C, the correction factor (default 1). */
  scale?: number;
  /** experts laid out (B, E, H), as expertLinear's batchMajor writes them (default false: (E, B, H)). */
  batchMajor?: boolean;
}

/** experts (E, B, H) (or (B, E, H) with batchMajor), gates (B, T, E) → (T, B, H): out[t] = C · Σ_e gates[:, t, e] · pg[:, e] · experts[e]. */
export function moeCombine(experts: Tensor, gates: Tensor, options: MoeCombineOptions = {}): Tensor {
  f32(experts, 'experts');
  f32(gates, 'gates');
  const o = checkOptions(options, 'options');
  const pg = o.personalGate ?? null;
  if (pg !== null) f32(pg, 'options.personalGate');
  const scale = checkNumber(o.scale ?? 1, 'options.scale');
  const batchMajor = checkBoolean(o.batchMajor ?? false, 'options.batchMajor');
  sameDevice([[experts, 'experts'], [gates, 'gates'], [pg, 'options.personalGate']]);
  if (experts.ndim !== 3) throw shapeError('experts', batchMajor ? '[batch, experts, hidden]' : '[experts, batch, hidden]', experts);
  const [E, B, H] = batchMajor ? [experts.shape[1], experts.shape[0], experts.shape[2]] : experts.shape;
  if (gates.ndim !== 3 || gates.shape[0] !== B || gates.shape[2] !== E) throw shapeError('gates', `[${B}, tasks, ${E}]`, gates);
  const T = gates.shape[1];
  if (pg && (pg.ndim !== 2 || pg.shape[0] !== B || pg.shape[1] !== E)) throw shapeError('options.personalGate', `[${B}, ${E}]`, pg);
  const out = empty([T, B, H], { device: experts.device });
  native.moeCombine(experts._h, gates._h, pg?._h ?? null, scale, out._h, batchMajor);
  return record(out, 'moeCombine', [experts, gates, pg], (g) => {
    const dx = experts.requiresGrad ? empty(experts.shape, { device: experts.device }) : null;
    const dg = gates.requiresGrad ? empty(gates.shape, { device: gates.device }) : null;
    const dpg = pg?.requiresGrad ? empty(pg.shape, { device: pg.device }) : null;
    native.moeCombineBackward(experts._h, gates._h, pg?._h ?? null, scale, g._h, dx?._h ?? null, dg?._h ?? null, dpg?._h ?? null, batchMajor);
    return [dx, dg, dpg];
  });
}
