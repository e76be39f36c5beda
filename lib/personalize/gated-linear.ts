import { Activation, ACTIVATIONS } from '../ops/activation';
import { GATE_PLACEMENTS, gatedLinear, GatePlacement } from '../ops/gated-fc';
import { constant, heUniform, xavierUniform } from '../nn/init';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkNumber, checkOneOf, checkOptions } from '../validate';

/** Options of {@link GatedLinear}. */
export interface GatedLinearLayerOptions {
  /** Activation (default 'relu'). */
  activation?: Activation;
  /** C, the correction factor on the gate (default 1). */
  scale?: number;
  /** 'lazy' gates the outputs, 'eager' the inputs (default 'lazy'). */
  placement?: GatePlacement;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * GatedLinear: a fully-connected layer whose units are scaled per sample by a gate that
 * another network computes (see gatedLinear in lib/ops/gated-fc.ts):
 *   lazy  (default): y = C · gate ⊙ act(x·Wᵀ + b)      gate (B, out)
 *   eager:           y = act((C · gate ⊙ x)·Wᵀ + b)    gate (B, in)
 */
export class GatedLinear extends Module {
  /** (outFeatures, inFeatures). */
  weight: Tensor;
  /** (outFeatures). */
  bias: Tensor;
  /** Width of the input x. */
  readonly inFeatures: number;
  /** Width of the output. */
  readonly outFeatures: number;
  /** The activation act. */
  readonly activation: Activation;
  /** C, the correction factor on the gate. */
  readonly scale: number;
  /** 'lazy' (gate on the outputs, (B, out)) or 'eager' (gate on the inputs, (B, in)). */
  readonly placement: GatePlacement;

  constructor(inFeatures: number, outFeatures: number, options: GatedLinearLayerOptions = {}) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.outFeatures = checkInt(outFeatures, 'outFeatures', 1);
    this.activation = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
    this.scale = checkNumber(o.scale ?? 1, 'options.scale');
    this.placement = checkOneOf(o.placement ?? 'lazy', 'options.placement', GATE_PLACEMENTS);
    const relu = this.activation === 'relu' || this.activation === 'leaky_relu';
    this.weight = relu ? heUniform([outFeatures, inFeatures], { rng: o.rng }) : xavierUniform([outFeatures, inFeatures], { rng: o.rng });
    this.bias = constant([outFeatures], 0);
  }

  /** Width the gate must have: outFeatures (lazy) or inFeatures (eager). */
  get gateFeatures(): number {
    return this.placement === 'lazy' ? this.outFeatures : this.inFeatures;
  }

  /** x (..., in), gate (..., gateFeatures) → (..., out). */
  forward(x: Tensor, gate: Tensor, scale = this.scale): Tensor {
    return gatedLinear(x, gate, this.weight, this.bias, { activation: this.activation, scale, placement: this.placement });
  }
}
