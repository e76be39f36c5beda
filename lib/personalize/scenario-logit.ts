import { add } from '../ops/elementwise';
import { Dropout } from '../nn/layers';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOptions, checkRange } from '../validate';
import { checkRows } from './field-input';

/** Options of {@link ScenarioLogit}. */
export interface ScenarioLogitOptions {
  /** Width of the scenario features s (e.g. the scenario id's embedding). */
  sceneFeatures: number;
  /** Logits per sample, one per task (default 1). */
  tasks?: number;
  /** Dropout probability on the scenario logit while training (default 0.1). */
  dropout?: number;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * Scenario shallow logit: a small linear tower on the scenario features whose logit is
 * added to the main network's, with dropout on that logit while training so the main
 * network cannot lean on it alone:
 *   p = σ(logit_common + dropout(logit_scene)),   logit_scene = s·W_sᵀ + b_s
 * The module returns the summed logits (B, tasks); apply σ or a BCE-with-logits loss.
 */
export class ScenarioLogit extends Module {
  /** The scenario tower: sceneFeatures → tasks logits. */
  fc: Linear;
  /** Dropout on the scenario logit while training. */
  drop: Dropout;
  /** Logits per sample, one per task. */
  readonly tasks: number;

  constructor(options: ScenarioLogitOptions) {
    super();
    const o = checkOptions(options, 'options');
    const scene = checkInt(o.sceneFeatures, 'options.sceneFeatures', 1);
    this.tasks = checkInt(o.tasks ?? 1, 'options.tasks', 1);
    this.fc = new Linear(scene, this.tasks, { rng: o.rng });
    this.drop = new Dropout(checkRange(o.dropout ?? 0.1, 'options.dropout', 0, 0.99));
  }

  /** The scenario logit alone: (B, tasks), before dropout. */
  sceneLogit(scene: Tensor): Tensor {
    checkRows(scene, this.fc.inFeatures, 'scene');
    return this.fc.forward(scene);
  }

  /** common (B, tasks) logits, scene (B, sceneFeatures) → (B, tasks) logits. */
  forward(common: Tensor, scene: Tensor): Tensor {
    checkRows(common, this.tasks, 'common');
    checkRows(scene, this.fc.inFeatures, 'scene', common.shape[0]);
    return add(common, this.drop.forward(this.fc.forward(scene)));
  }
}
