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
import { DTypeError, ShapeError } from '../errors';
import { Activation, ACTIVATIONS } from '../ops/activation';
import { add, mul, sub } from '../ops/elementwise';
import { concat } from '../ops/layout';
import { softmax } from '../ops/nn';
import { sum } from '../ops/reduce';
import { MLP } from '../nn/mlp';
import { Module } from '../nn/module';
import { checkRows } from '../personalize/field-input';
import { Rng } from '../random';
import { checkTensor, Tensor, tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, invalid } from '../validate';

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

export class HMoE extends Module {
  towers: MLP[];
  gate: MLP;
  readonly inFeatures: number;
  readonly scenarios: number;
  readonly tasks: number;

  constructor(inFeatures: number, options: HMoEOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.scenarios = checkInt(o.scenarios, 'options.scenarios', 1);
    this.tasks = checkInt(o.tasks ?? 1, 'options.tasks', 1);
    const tower = checkWidthList(o.tower ?? [64], 'options.tower');
    const gateHidden = checkWidthList(o.gateHidden ?? [], 'options.gateHidden');
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
    const own = this.oneHot(scenario, batch, h);
    const s = this.scores(h);
    const frozen = s.detach();
    // Same values as s; the gradient reaches s only in the sample's own scenario.
    const mixed = add(frozen, mul(own, sub(s, frozen)));
    const w = this.weights(h).reshape(batch, this.scenarios, 1);
    return sum(mul(w, mixed), 1);
  }

  /** (B, S, 1) float32 one-hot of the scenario ids, built on the host after checking them. */
  private oneHot(scenario: Tensor, batch: number, like: Tensor): Tensor {
    checkTensor(scenario, 'scenario');
    if (scenario.dtype !== 'int32' && scenario.dtype !== 'int64') throw new DTypeError(`Expected an int32 or int64 tensor for scenario but received ${scenario.dtype}`);
    if (scenario.ndim !== 1 || scenario.shape[0] !== batch) throw new ShapeError(`Expected shape [${batch}] for scenario but received [${scenario.shape}]`);
    const ids = scenario.toArraySync();
    const out = new Float32Array(batch * this.scenarios);
    for (let b = 0; b < batch; ++b) {
      const d = Number(ids[b]);
      if (!(d >= 0 && d < this.scenarios)) throw invalid(`a scenario id from 0 to ${this.scenarios - 1}`, `scenario[${b}]`, d);
      out[b * this.scenarios + d] = 1;
    }
    return tensor(out, { shape: [batch, this.scenarios, 1], device: like.device });
  }
}

/** An array of layer widths, possibly empty. */
function checkWidthList(value: unknown, name: string): number[] {
  if (!Array.isArray(value)) throw invalid('an array of layer widths', name, value);
  return value.map((h, i) => checkInt(h, `${name}[${i}]`, 1));
}
