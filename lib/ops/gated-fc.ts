/**
 * Gated fully-connected layer, the core of POSO-MLP and PPNet (native/ops/gated_fc):
 *   lazy  (default): y = C · gate ⊙ act(x·Wᵀ + b)      gate (..., out)
 *   eager:           y = act((C · gate ⊙ x)·Wᵀ + b)    gate (..., in)
 * with W (out, in) as in PyTorch and one gate value per sample and unit.
 */
import { ShapeError } from '../errors';
import { Tensor } from '../tensor';
import { checkNumber, checkOneOf, checkOptions } from '../validate';
import { Activation, ACTIVATIONS } from './activation';
import { mul } from './elementwise';
import { linear } from './matmul';
import { f32, sameDevice } from './common';

export const GATE_PLACEMENTS = ['lazy', 'eager'] as const;
/** Where the gate multiplies: on the layer's output units (lazy) or its input units (eager). */
export type GatePlacement = (typeof GATE_PLACEMENTS)[number];

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

/** The gated FC (see the file comment). x (..., in), weight (out, in), bias (out) or null. */
export function gatedLinear(x: Tensor, gate: Tensor, weight: Tensor, bias: Tensor | null = null, options: GatedLinearOptions = {}): Tensor {
  const [act, scale, placement] = checkGatedArgs(x, gate, weight, bias, options);
  const g = scale === 1 ? gate : mul(gate, scale);
  if (placement === 'eager') return linear(mul(x, g), weight, bias, act);
  return mul(linear(x, weight, bias, act), g);
}
