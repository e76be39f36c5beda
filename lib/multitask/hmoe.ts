import { ShapeError } from '../errors';
import { Activation, ACTIVATIONS } from '../ops/activation';
import { add, mul, sub } from '../ops/elementwise';
import { concat } from '../ops/layout';
import { softmax } from '../ops/nn';
import { sum } from '../ops/reduce';
import { MLP } from '../nn/mlp';
import { Module } from '../nn/module';
import { checkRows } from '../personalize/field-input';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkWidths } from '../validate';
import { oneHot } from '../ops/one-hot';

/** Options of {@link HMoE}. */
export interface HMoEOptions {
  /** Number of scenarios S (one tower each). */
  scenarios: number;
  /** Logits per sample T, one per task (default 1). */
  tasks?: number;
  /** Hidden widths of every scenario tower before its T-logit head (default [64]; [] makes it linear). */
  tower?: number[];
  /** Hidden widths of the gate before its S-way softmax (default []: a linear gate). */
  gateHidden?: number[];
  /** Hidden activation of the towers and the gate (default 'relu'). */
  activation?: Activation;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * HMoE cross-scenario fusion (Alibaba, "Improving Multi-Scenario Learning to Rank in
 * E-commerce by Exploiting Task Relationships in the Label Space", CIKM 2020). Every
 * scenario's tower scores every sample; a gate on the shared representation mixes the
 * scores. Other scenarios' towers only lend their judgement: their scores enter with
 * stop-gradient, so a tower trains on its own scenario's samples alone.
 *   s_k  = tower_k(h)                    (B, T), for every scenario k
 *   w    = softmax(gate(h))              (B, S)
 *   pred = Σ_k w_k · (k = d ? s_k : sg(s_k))     d = the sample's scenario
 * The gate and h receive gradient through every w_k; tower k and h receive gradient through
 * s_k only from samples of scenario k.
 */
export class HMoE extends Module {
  /** One tower per scenario: inFeatures → T logits. */
  towers: MLP[];
  /** The gate: inFeatures → S logits (softmax over the scenarios). */
  gate: MLP;
  /** Width of the shared representation h. */
  readonly inFeatures: number;
  /** Number of scenarios S. */
  readonly scenarios: number;
  /** Logits per sample T. */
  readonly tasks: number;

  constructor(inFeatures: number, options: HMoEOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.scenarios = checkInt(o.scenarios, 'options.scenarios', 1);
    this.tasks = checkInt(o.tasks ?? 1, 'options.tasks', 1);
    const tower = checkWidths(o.tower ?? [64], 'options.tower', true);
    const gateHidden = checkWidths(o.gateHidden ?? [], 'options.gateHidden', true);
    const activation = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
    this.towers = Array.from({ length: this.scenarios }, () => new MLP(this.inFeatures, { hidden: tower, outFeatures: this.tasks, activation, rng: o.rng }));
    this.gate = new MLP(this.inFeatures, { hidden: gateHidden, outFeatures: this.scenarios, activation, rng: o.rng });
  }

  /** Every scenario tower's logits for every sample: (B, S, T). */
  scores(h: Tensor): Tensor {
    checkRows(h, this.inFeatures, 'h');
    const batch = h.shape[0];
    return concat(this.towers.map((t) => t.forward(h).reshape(batch, 1, this.tasks)), 1);
  }

  /** The gate's mixing weights softmax(gate(h)): (B, S). */
  weights(h: Tensor): Tensor {
    checkRows(h, this.inFeatures, 'h');
    return softmax(this.gate.forward(h));
  }

  /**
   * h (B, inFeatures) the shared bottom's output, scenario (B) int32 or int64 ids in [0, S)
   * → logits (B, tasks).
   */
  forward(h: Tensor, scenario: Tensor): Tensor {
    checkRows(h, this.inFeatures, 'h');
    const batch = h.shape[0];
    const own = oneHot(scenario, this.scenarios, h.device, 'scenario', 'scenario');
    if (own.shape[0] !== batch) throw new ShapeError(`Expected shape [${batch}] for scenario but received [${scenario.shape}]`);
    const s = this.scores(h);
    const frozen = s.detach();
    // Same values as s; the gradient reaches s only in the sample's own scenario.
    const mixed = add(frozen, mul(own.reshape(batch, this.scenarios, 1), sub(s, frozen)));
    const w = this.weights(h).reshape(batch, this.scenarios, 1);
    return sum(mul(w, mixed), 1);
  }

}
