import { Tensor } from '../tensor';
import { checkInt, checkOptions, checkPositive } from '../validate';
import { checkRows } from '../personalize/field-input';
import { GateNU } from '../personalize/gate-nu';
import { MMoE, MMoEOptions } from './mmoe';

/** Options of {@link PosoMMoE}: MMoE's and the personal gate's. */
export interface PosoMMoEOptions extends MMoEOptions {
  /** Width of the personalization code x_pc. */
  pcFeatures: number;
  /** C, the personal gates' correction factor (default 2). */
  scale?: number;
  /** Hidden width of the personal gate network (default 64). */
  gateHidden?: number;
}

/**
 * POSO-MMoE (Dai et al., 2021): MMoE whose experts are also scaled per sample by a personal
 * gate computed from the personalization code x_pc (e.g. user-group features):
 *   r_t = C · Σ_i g(x_pc)_i · g_t(x)_i · e_i(x),    g(x_pc) = σ(W2·relu(W1·x_pc + b1) + b2)
 * one scalar per expert and sample, shared by the tasks; C = 2 (default) and σ(0) = ½ start
 * every personal gate near 1, so an untrained POSO-MMoE mixes like MMoE. The personal gate is
 * folded into the same fused combination pass (moeCombine), so it costs no extra sweep over
 * the experts' outputs. `forward(x, pc)`: x (B, in), pc (B, pcFeatures) → (B, T).
 */
export class PosoMMoE extends MMoE {
  /** The personal gate: x_pc → one value per expert (σ, C applied in the combination). */
  personal: GateNU;
  /** Width of the personalization code x_pc. */
  readonly pcFeatures: number;

  constructor(inFeatures: number, options: PosoMMoEOptions) {
    const o = checkOptions(options, 'options');
    super(inFeatures, o);
    this.pcFeatures = checkInt(o.pcFeatures, 'options.pcFeatures', 1);
    const scale = checkPositive(o.scale ?? 2, 'options.scale');
    this.personal = new GateNU({ inFeatures: this.pcFeatures, outFeatures: this.numExperts, hidden: checkInt(o.gateHidden ?? 64, 'options.gateHidden', 1), gamma: 1, rng: o.rng });
    this.combineScale = scale;
  }

  /** σ(MLP(x_pc)) (B, E); C is applied in the combination. */
  protected override personalGate(pc: Tensor | undefined): Tensor {
    checkRows(pc as Tensor, this.pcFeatures, 'pc');
    return this.personal.sigmoidGate(pc as Tensor);
  }
}

