import { Activation, ACTIVATIONS } from '../ops/activation';
import { GATE_PLACEMENTS } from '../ops/gated-fc';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkPositive, checkWidths } from '../validate';
import { checkRows } from './field-input';
import { GateNU } from './gate-nu';
import { GatedLinear } from './gated-linear';

/** Options of {@link PosoMLP}. */
export interface PosoMLPOptions {
  /** Width of each gated hidden layer, e.g. [256, 128]. */
  hidden: number[];
  /** Width of the personalization code x_pc. */
  pcFeatures: number;
  /** Width of a plain (ungated) output layer; omit to end with the last gated layer. */
  outFeatures?: number;
  /** Hidden activation (default 'relu'). */
  activation?: Activation;
  /** C, the gates' correction factor (default 2). */
  scale?: number;
  /** Hidden width of each gate network (default: the width it gates). */
  gateHidden?: number;
  /** 'lazy' gates each layer's outputs (POSO), 'eager' its inputs (default 'lazy'). */
  placement?: 'lazy' | 'eager';
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * POSO-MLP: a stack of gated FC layers whose every unit is scaled per sample by a gate
 * computed from the personalization code x_pc (e.g. user-group features), so a minority
 * group gets its own effective network instead of one input among many:
 *   h_{l+1} = C · g_l(x_pc) ⊙ act(h_l·W_lᵀ + b_l),   g_l = σ(W2·relu(W1·x_pc))
 * C = 2 (default) and σ(0) = ½ start every gate near 1. An optional plain output layer
 * follows. Each layer is one fused kernel (GEMM, bias, activation and gate together).
 */
export class PosoMLP extends Module {
  /** The gated hidden layers, one per `hidden` width. */
  layers: GatedLinear[];
  /** One gate network per gated layer: x_pc → the width it gates. */
  gates: GateNU[];
  /** The plain output layer, or null without `outFeatures`. */
  out: Linear | null;
  /** Width of the input x. */
  readonly inFeatures: number;
  /** Width of the personalization code x_pc. */
  readonly pcFeatures: number;

  constructor(inFeatures: number, options: PosoMLPOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.pcFeatures = checkInt(o.pcFeatures, 'options.pcFeatures', 1);
    const hidden = checkWidths(o.hidden, 'options.hidden');
    const activation = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
    const scale = checkPositive(o.scale ?? 2, 'options.scale');
    const placement = checkOneOf(o.placement ?? 'lazy', 'options.placement', GATE_PLACEMENTS);
    if (o.gateHidden !== undefined) checkInt(o.gateHidden, 'options.gateHidden', 1);
    this.layers = [];
    this.gates = [];
    let width = this.inFeatures;
    for (const h of hidden) {
      const layer = new GatedLinear(width, h, { activation, scale, placement, rng: o.rng });
      this.layers.push(layer);
      this.gates.push(new GateNU({ inFeatures: this.pcFeatures, outFeatures: layer.gateFeatures, hidden: o.gateHidden, gamma: scale, rng: o.rng }));
      width = h;
    }
    this.out = o.outFeatures === undefined ? null : new Linear(width, checkInt(o.outFeatures, 'options.outFeatures', 1), { rng: o.rng });
  }

  /** x (B, inFeatures), pc (B, pcFeatures) → (B, outFeatures or the last hidden width). */
  forward(x: Tensor, pc: Tensor): Tensor {
    checkRows(x, this.inFeatures, 'x');
    checkRows(pc, this.pcFeatures, 'pc', x.shape[0]);
    let h = x;
    this.layers.forEach((layer, i) => {
      // The gate's γ (= C) is applied inside the fused layer, not as a separate pass.
      h = layer.forward(h, this.gates[i].sigmoidGate(pc), this.gates[i].gamma);
    });
    return this.out ? this.out.forward(h) : h;
  }
}
