import { Dropout } from '../nn/layers';
import { Module } from '../nn/module';
import { Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, invalid } from '../validate';
import { ApgCondition, ApgLinear, ApgLinearOptions, APG_CONDITIONS } from './apg';
import { MLPOptions, mlpStack } from '../nn/mlp';

/**
 * MLP's options (hidden, outFeatures, activations, dropout) and ApgLinear's generation
 * options, shared by every layer; each layer's rank is capped at its smaller side, and with
 * 'self' each layer generates its core from its own input, with 'group' from z.
 */
export interface ApgMLPOptions extends MLPOptions, Pick<ApgLinearOptions, 'rank' | 'condition' | 'condFeatures' | 'overParam' | 'generatorHidden'> {}

/**
 * ApgMLP: an MLP whose every layer is an ApgLinear — each layer's weight generated per
 * sample at low rank (W_l(z) = U_l·S_l(z)·V_l), as the APG paper replaces a CTR model's
 * tower. With condition 'self' each layer generates its core from its own input; with
 * 'group' every layer generates from the same condition z (e.g. the scenario or user
 * group features' embeddings). `merge()` folds the over-parameterized factors of every
 * layer for inference.
 */
export class ApgMLP extends Module {
  /** The APG layers, one per hidden width, then the output layer when `outFeatures` is given. */
  layers: ApgLinear[];
  /** The dropouts after each hidden layer (empty when `dropout` is 0). */
  drops: Dropout[];
  /** Width of the input x. */
  readonly inFeatures: number;
  /** Width of the output (`outFeatures`, or the last hidden width). */
  readonly outFeatures: number;
  /** Where every layer's core comes from: its own input ('self') or the shared condition z ('group'). */
  readonly condition: ApgCondition;

  constructor(inFeatures: number, options: ApgMLPOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    const rank = checkInt(o.rank ?? 16, 'options.rank', 1);
    this.condition = checkOneOf(o.condition ?? 'self', 'options.condition', APG_CONDITIONS);
    const overParam = checkInt(o.overParam ?? 0, 'options.overParam', 0);
    if (overParam !== 0 && overParam < rank) throw invalid(`0 or a width ≥ the rank ${rank}`, 'options.overParam', overParam);
    const generation = { condition: this.condition, condFeatures: o.condFeatures, overParam, generatorHidden: o.generatorHidden, rng: o.rng };
    ({ layers: this.layers, drops: this.drops, outFeatures: this.outFeatures } = mlpStack(this.inFeatures, options, (i, out, activation) =>
      new ApgLinear(i, out, { ...generation, rank: Math.min(rank, i, out), activation }),
    ));
  }

  /** x (B, inFeatures), and z (B, condFeatures) for 'group' → (B, outFeatures). */
  forward(x: Tensor, z?: Tensor): Tensor {
    let h = x;
    this.layers.forEach((layer, l) => {
      h = layer.forward(h, z);
      if (this.drops[l]) h = this.drops[l].forward(h);
    });
    return h;
  }

  /** Folds every layer's over-parameterized factors (see ApgLinear.merge). Returns this. */
  merge(): this {
    for (const layer of this.layers) layer.merge();
    return this;
  }
}
