/**
 * Gated fully-connected layer, the core of POSO-MLP and PPNet (native/ops/gated_fc):
 *   lazy  (default): y = C · gate ⊙ act(x·Wᵀ + b)      gate (..., out)
 *   eager:           y = act((C · gate ⊙ x)·Wᵀ + b)    gate (..., in)
 * with W (out, in) as in PyTorch and one gate value per sample and unit.
 *
 * Fused: lazy is one GEMM whose epilogue adds the bias, applies the activation and the gate
 * before its single store; eager is one pass (C·gate⊙x) and the GEMM. The backward is one
 * fused element-wise pass and the GEMMs (see native/ops/gated_fc/gated_fc.h).
 */
import { isGradEnabled, record } from '../autograd';
import { ShapeError } from '../errors';
import { native } from '../native';
import { empty, Tensor, zeros } from '../tensor';
import { checkNumber, checkOneOf, checkOptions } from '../validate';
import { Activation, ACTIVATIONS } from './activation';
import { f32, sameDevice } from './common';

/** The gate placements of {@link gatedLinear}, see {@link GatePlacement}. */
export const GATE_PLACEMENTS = ['lazy', 'eager'] as const;
/** Where the gate multiplies: on the layer's output units (lazy) or its input units (eager). */
export type GatePlacement = (typeof GATE_PLACEMENTS)[number];

/** Options of {@link gatedLinear}. */
export interface GatedLinearOptions {
  /** Activation (default 'identity'). */
  activation?: Activation;
  /** The correction factor C multiplying the gate (default 1). */
  scale?: number;
  /** 'lazy' gates the outputs, 'eager' the inputs (default 'lazy'). */
  placement?: GatePlacement;
}

/** Checks gatedLinear's arguments; returns [activation, scale, placement]. */
function checkGatedArgs(x: Tensor, gate: Tensor, weight: Tensor, bias: Tensor | null, options: GatedLinearOptions): [Activation, number, GatePlacement] {
  f32(x, 'x');
  f32(gate, 'gate');
  f32(weight, 'weight');
  if (bias !== null) f32(bias, 'bias');
  sameDevice([[x, 'x'], [gate, 'gate'], [weight, 'weight'], [bias, 'bias']]);
  const o = checkOptions(options, 'options');
  const act = checkOneOf(o.activation ?? 'identity', 'options.activation', ACTIVATIONS);
  const scale = checkNumber(o.scale ?? 1, 'options.scale');
  const placement = checkOneOf(o.placement ?? 'lazy', 'options.placement', GATE_PLACEMENTS);
  if (weight.ndim !== 2) throw new ShapeError(`Expected a 2-D tensor (out, in) for weight but received shape [${weight.shape}]`);
  const [outF, inF] = weight.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) throw new ShapeError(`Expected shape [..., ${inF}] for x but received [${x.shape}]`);
  const gateShape = [...x.shape.slice(0, -1), placement === 'lazy' ? outF : inF];
  if (gate.shape.join() !== gateShape.join()) throw new ShapeError(`Expected shape [${gateShape}] for gate but received [${gate.shape}]`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) throw new ShapeError(`Expected shape [${outF}] for bias but received [${bias.shape}]`);
  return [act, scale, placement];
}

/** leaky_relu's negative slope, as in {@link linear}. */
const LEAKY_SLOPE = 0.01;

/** The gated FC (see the file comment). x (..., in), weight (out, in), bias (out) or null. */
export function gatedLinear(x: Tensor, gate: Tensor, weight: Tensor, bias: Tensor | null = null, options: GatedLinearOptions = {}): Tensor {
  const [act, scale, placement] = checkGatedArgs(x, gate, weight, bias, options);
  const [outF, inF] = weight.shape;
  const gateF = placement === 'lazy' ? outF : inF;
  const lead = x.shape.slice(0, -1);
  const rows = lead.reduce((p, d) => p * d, 1);
  const device = x.device;
  const x2 = x.ndim === 2 ? x : x.detach().reshape(rows, inF);
  const g2 = gate.ndim === 2 ? gate : gate.detach().reshape(rows, gateF);
  // Saved for backward only when one will run: z (the pre-activation) always but for eager
  // identity; xg (C·gate⊙x, eager's GEMM input) for the weight gradient.
  const [needX, needGate, needW, needB] = [x, gate, weight, bias].map((t) => !!t?.requiresGrad);
  const training = isGradEnabled() && (needX || needGate || needW || needB);
  const y2 = empty([rows, outF], { device });
  const z = training && !(placement === 'eager' && act === 'identity') ? empty([rows, outF], { device }) : null;
  let xg = placement === 'eager' ? empty([rows, inF], { device }) : null;
  native.gatedFc(x2._h, g2._h, weight._h, bias?._h ?? null, y2._h, z?._h ?? null, xg?._h ?? null, placement, act, LEAKY_SLOPE, scale);
  if (xg && !(training && needW)) {
    xg.dispose();
    xg = null;
  }
  const y = x.ndim === 2 ? y2 : y2.reshape(...lead, outF);
  return record(y, 'gatedLinear', [x, gate, weight, bias], (gy) => {
    const dy = gy.ndim === 2 ? gy : gy.detach().reshape(rows, outF);
    const dx = needX ? empty([rows, inF], { device }) : null;
    const dgate = needGate ? empty([rows, gateF], { device }) : null;
    // Parameter gradients accumulate natively (+=): start from zero.
    const dw = needW ? zeros([outF, inF], { device }) : null;
    const db = needB ? zeros([outF], { device }) : null;
    native.gatedFcBackward(dy._h, x2._h, g2._h, weight._h, z?._h ?? null, xg?._h ?? null, dx?._h ?? null, dgate?._h ?? null, dw?._h ?? null, db?._h ?? null, placement, act, LEAKY_SLOPE, scale);
    return [dx && x.ndim !== 2 ? dx.reshape(x.shape as number[]) : dx, dgate && gate.ndim !== 2 ? dgate.reshape(gate.shape as number[]) : dgate, dw, db];
  });
}
