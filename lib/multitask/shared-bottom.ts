import { Activation, ACTIVATIONS } from '../ops/activation';
import { concat } from '../ops/layout';
import { MLP } from '../nn/mlp';
import { Module } from '../nn/module';
import { checkRows } from '../personalize/field-input';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkRange, checkWidths } from '../validate';

/** Options of {@link SharedBottom}. */
export interface SharedBottomOptions {
  /** Number of tasks T (one tower and one logit each). */
  tasks: number;
  /** Widths of the shared bottom's layers (default [128]). */
  bottom?: number[];
  /** Hidden widths of every task tower before its 1-logit head (default [64]; [] makes each tower a linear head). */
  tower?: number[];
  /** Hidden activation of the bottom and the towers (default 'relu'). */
  activation?: Activation;
  /** Dropout after each hidden layer while training (default 0). */
  dropout?: number;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * Shared-bottom multi-task model (hard parameter sharing; the baseline of the MMoE paper,
 * Ma et al. KDD 2018): one MLP bottom shared by every task, then one MLP tower per task
 * ending in a single logit.
 *   h       = bottom(x)                       (B, bottom[-1])
 *   logit_t = tower_t(h)                      (B, 1)
 * forward returns the logits side by side (B, tasks); train with multiTaskLoss.
 */
export class SharedBottom extends Module {
  /** The shared bottom MLP. */
  bottom: MLP;
  /** One tower per task, each ending in one logit. */
  towers: MLP[];
  /** Width of the input x. */
  readonly inFeatures: number;
  /** Number of tasks T. */
  readonly tasks: number;

  constructor(inFeatures: number, options: SharedBottomOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.tasks = checkInt(o.tasks, 'options.tasks', 1);
    const bottom = checkWidths(o.bottom ?? [128], 'options.bottom');
    const tower = checkWidths(o.tower ?? [64], 'options.tower', true);
    const activation = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
    const dropout = checkRange(o.dropout ?? 0, 'options.dropout', 0, 0.99);
    this.bottom = new MLP(this.inFeatures, { hidden: bottom, activation, dropout, rng: o.rng });
    const width = bottom[bottom.length - 1];
    this.towers = Array.from({ length: this.tasks }, () => new MLP(width, { hidden: tower, outFeatures: 1, activation, dropout, rng: o.rng }));
  }

  /** x (B, inFeatures) → logits (B, tasks). */
  forward(x: Tensor): Tensor {
    checkRows(x, this.inFeatures, 'x');
    const h = this.bottom.forward(x);
    const logits = this.towers.map((tower) => tower.forward(h));
    return this.tasks === 1 ? logits[0] : concat(logits, 1);
  }
}
