import { activation, Activation, ACTIVATIONS } from '../ops/activation';
import { add } from '../ops/elementwise';
import { concat, permute, slice } from '../ops/layout';
import { moeCombine } from '../ops/moe';
import { softmax } from '../ops/nn';
import { normal } from '../nn/init';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { MetaUnit } from '../dynamic/meta-unit';
import { Experts } from '../multitask/experts';
import { Rng } from '../random';
import { Tensor, zeros } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkWidths } from '../validate';
import { checkRows } from '../personalize/field-input';

/** Options of {@link M2M}. */
export interface M2MOptions {
  /** Width of the scenario representation s that generates the meta units' weights. */
  scenarioFeatures: number;
  /** Number of tasks T (default 2). */
  tasks?: number;
  /** Number of experts E (default 4). */
  experts?: number;
  /** Hidden widths of every expert (default [64]); the last is the width H the towers see. */
  expertHidden?: number[];
  /** Width of each task's learned embedding t_t (default 16). */
  taskDim?: number;
  /** Hidden width of the meta attention unit (default 32). */
  attentionHidden?: number;
  /** Residual meta layers per task tower (default 2). */
  towerLayers?: number;
  /** Hidden widths of each meta unit's weight generator (default []). */
  generatorHidden?: number[];
  /** Activation of the experts, the attention unit and the tower (default 'relu'). */
  activation?: Activation;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/** A task's meta tower: h ← act(h + Meta_l(h; s)) for each layer l. */
export class MetaTower extends Module {
  /** The residual meta layers, each H → H with weights generated from the scenario. */
  layers: MetaUnit[];
  /** The activation after each residual sum. */
  readonly activation: Activation;

  constructor(width: number, scenarioFeatures: number, layers: number, activation: Activation, generatorHidden: number[], rng?: Rng) {
    super();
    this.activation = activation;
    this.layers = Array.from({ length: layers }, () => new MetaUnit(width, { condFeatures: scenarioFeatures, generatorHidden, rng }));
  }

  /** h (B, width), scenario (B, scenarioFeatures) → (B, width). */
  forward(h: Tensor, scenario: Tensor): Tensor {
    return this.layers.reduce((acc, meta) => activation(add(acc, meta.forward(acc, scenario)), this.activation), h);
  }
}

/**
 * M2M (Alibaba, "Leaving No One Behind: A Multi-Scenario Multi-Task Meta Learning Approach
 * for Advertiser Modeling", WSDM 2022): experts shared by every scenario and task, combined
 * and passed up by MLPs whose weights the scenario generates (MetaUnit):
 *   E_i = expert_i(x)                                      batched experts (E, B, H)
 *   a_{t,i} = vᵀ · Meta_att([E_i ‖ t_t]; s)                 meta attention, t_t a learned task embedding
 *   r_t = Σ_i softmax_i(a_{t,i}) · E_i                      one fused combine for every task
 *   h ← act(h + Meta_l(h; s)),  l = 1..L,  h_0 = r_t          meta tower, residual, per task
 *   logit_t = w_tᵀ·h + c_t
 * Every (task, expert) pair of a sample is scored by that sample's generated attention MLP in
 * one batched GEMM (MetaUnit over (B, T·E, H + taskDim) rows).
 */
export class M2M extends Module {
  /** The E shared experts: inFeatures → H. */
  experts: Experts;
  /** t_t, (T, taskDim). */
  taskEmbedding: Tensor;
  /** The meta attention unit: [E_i ‖ t_t] → its hidden attention width, weights generated from s. */
  attention: MetaUnit;
  /** v: hidden attention → score. */
  attentionScore: Linear;
  /** One residual meta tower per task. */
  towers: MetaTower[];
  /** One head per task: H → 1 logit. */
  heads: Linear[];
  /** Number of tasks T. */
  readonly tasks: number;
  /** Width of the input x. */
  readonly inFeatures: number;
  /** Width of the scenario representation s. */
  readonly scenarioFeatures: number;
  /** The activation of the experts, the attention unit and the towers. */
  readonly activation: Activation;

  constructor(inFeatures: number, options: M2MOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.scenarioFeatures = checkInt(o.scenarioFeatures, 'options.scenarioFeatures', 1);
    this.tasks = checkInt(o.tasks ?? 2, 'options.tasks', 1);
    const taskDim = checkInt(o.taskDim ?? 16, 'options.taskDim', 1);
    const attHidden = checkInt(o.attentionHidden ?? 32, 'options.attentionHidden', 1);
    const layers = checkInt(o.towerLayers ?? 2, 'options.towerLayers', 0);
    const generatorHidden = checkWidths(o.generatorHidden ?? [], 'options.generatorHidden', true);
    this.activation = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
    const rng = o.rng;
    this.experts = new Experts(this.inFeatures, { experts: o.experts ?? 4, hidden: o.expertHidden ?? [64], activation: this.activation, rng });
    const H = this.experts.outFeatures;
    const S = this.scenarioFeatures;
    this.taskEmbedding = normal([this.tasks, taskDim], 0, 1, { rng });
    this.attention = new MetaUnit(H + taskDim, { condFeatures: S, outFeatures: attHidden, outputActivation: this.activation, generatorHidden, rng });
    this.attentionScore = new Linear(attHidden, 1, { bias: false, rng });
    this.towers = Array.from({ length: this.tasks }, () => new MetaTower(H, S, layers, this.activation, generatorHidden, rng));
    this.heads = Array.from({ length: this.tasks }, () => new Linear(H, 1, { rng }));
  }

  /** The meta attention's expert weights per task: (B, T, E), each row summing to 1. */
  attentionWeights(experts: Tensor, scenario: Tensor): Tensor {
    const [E, B] = experts.shape;
    const T = this.tasks;
    const taskDim = this.taskEmbedding.shape[1];
    const byExpert = permute(experts, [1, 0, 2]); // (B, E, H)
    const pairs = concat(
      Array.from({ length: T }, (_, t) => concat([byExpert, add(zeros([B, E, taskDim], { device: experts.device }), slice(this.taskEmbedding, 0, t, 1).reshape(taskDim))], 2)),
      1,
    ); // (B, T·E, H + taskDim): row t·E + i is [E_i ‖ t_t]
    const scores = this.attentionScore.forward(this.attention.forward(pairs, scenario)); // (B, T·E, 1)
    return softmax(scores.reshape(B, T, E));
  }

  /** x (B, inFeatures), scenario s (B, scenarioFeatures) → logits (B, T). */
  forward(x: Tensor, scenario: Tensor): Tensor {
    checkRows(x, this.inFeatures, 'x');
    checkRows(scenario, this.scenarioFeatures, 'scenario', x.shape[0]);
    const B = x.shape[0];
    const experts = this.experts.forward(x); // (E, B, H)
    const H = experts.shape[2];
    const mixed = moeCombine(experts, this.attentionWeights(experts, scenario)); // (T, B, H)
    return concat(
      this.heads.map((head, t) => head.forward(this.towers[t].forward(slice(mixed, 0, t, 1).reshape(B, H), scenario))),
      1,
    );
  }
}
