import { Activation, ACTIVATIONS } from '../ops/activation';
import { GATE_PLACEMENTS, GatePlacement } from '../ops/gated-fc';
import { concat, slice } from '../ops/layout';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkPositive, checkWidths } from '../validate';
import { checkRows } from './field-input';
import { GateNU } from './gate-nu';
import { GatedLinear } from './gated-linear';

/** Options of {@link PPNet}. */
export interface PPNetOptions {
  /** Width of the priors' input (e.g. user/item/author embeddings, concatenated). */
  priorFeatures: number;
  /** Number of tasks T (one tower and one logit each). */
  tasks: number;
  /** Width of each hidden layer of every tower, e.g. [128, 64]. */
  hidden: number[];
  /** Hidden activation f (default 'relu'). */
  activation?: Activation;
  /** Gate placement (default 'lazy'). */
  placement?: GatePlacement;
  /** γ of each gate (default 2). */
  gamma?: number;
  /** Hidden width of each layer's GateNU (default 64). */
  gateHidden?: number;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/** One task's tower: gated hidden layers and a linear head. */
export class TaskTower extends Module {
  /** The gated hidden layers. */
  layers: GatedLinear[];
  /** The linear head: last hidden width → 1 logit. */
  head: Linear;
  constructor(layers: GatedLinear[], head: Linear) {
    super();
    this.layers = layers;
    this.head = head;
  }
  /** x (B, in) and one gate per layer → logit (B, 1). */
  forward(x: Tensor, gates: Tensor[], scale: number): Tensor {
    let h = x;
    this.layers.forEach((layer, l) => {
      h = layer.forward(h, gates[l], scale);
    });
    return this.head.forward(h);
  }
}

/**
 * PPNet, PEPNet's parameter personalization: every hidden layer l of every task tower is
 * gated by g_l = GateNU_l([prior ; sg(x)]), where prior holds the personal priors (user,
 * item, author id embeddings) and x is the tower input (EPNet's output), stop-gradient.
 * One GateNU per layer serves all tasks: its output is split into one slice per task.
 *   lazy  (default): h_{l+1} = g_l ⊙ f(h_l·W_lᵀ + b_l)
 *   eager:           h_{l+1} = f((g_l ⊙ h_l)·W_lᵀ + b_l)
 * Each gated layer is one fused kernel; a plain linear head gives each task's logit.
 */
export class PPNet extends Module {
  /** One GateNU per hidden layer, shared by the tasks: [prior ; sg(x)] → tasks · the layer's gated width. */
  gates: GateNU[];
  /** One tower per task. */
  towers: TaskTower[];
  /** Width of the tower input x. */
  readonly inFeatures: number;
  /** Width of the priors' input. */
  readonly priorFeatures: number;
  /** Number of tasks T. */
  readonly tasks: number;
  /** γ of each gate. */
  readonly gamma: number;

  constructor(inFeatures: number, options: PPNetOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.priorFeatures = checkInt(o.priorFeatures, 'options.priorFeatures', 1);
    this.tasks = checkInt(o.tasks, 'options.tasks', 1);
    const hidden = checkWidths(o.hidden, 'options.hidden');
    const activation = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
    const placement = checkOneOf(o.placement ?? 'lazy', 'options.placement', GATE_PLACEMENTS);
    this.gamma = checkPositive(o.gamma ?? 2, 'options.gamma');
    const gateHidden = checkInt(o.gateHidden ?? 64, 'options.gateHidden', 1);
    const widths = [this.inFeatures, ...hidden];
    this.towers = Array.from({ length: this.tasks }, () => {
      const layers = hidden.map((h, l) => new GatedLinear(widths[l], h, { activation, placement, rng: o.rng }));
      return new TaskTower(layers, new Linear(widths[widths.length - 1], 1, { rng: o.rng }));
    });
    const gateIn = this.priorFeatures + this.inFeatures;
    this.gates = this.towers[0].layers.map(
      (layer) => new GateNU({ inFeatures: gateIn, outFeatures: this.tasks * layer.gateFeatures, hidden: gateHidden, gamma: this.gamma, rng: o.rng }),
    );
  }

  /** x (B, inFeatures) the tower input, prior (B, priorFeatures) → logits (B, tasks). */
  forward(x: Tensor, prior: Tensor): Tensor {
    checkRows(x, this.inFeatures, 'x');
    checkRows(prior, this.priorFeatures, 'prior', x.shape[0]);
    const cond = concat([prior, x.detach()], 1);
    // σ-gates without γ; γ is applied inside each fused layer.
    const perLayer = this.gates.map((g) => g.sigmoidGate(cond));
    const logits = this.towers.map((tower, t) => {
      const gates = perLayer.map((g, l) => {
        const w = tower.layers[l].gateFeatures;
        return this.tasks === 1 ? g : slice(g, 1, t * w, w);
      });
      return tower.forward(x, gates, this.gamma);
    });
    return this.tasks === 1 ? logits[0] : concat(logits, 1);
  }
}
