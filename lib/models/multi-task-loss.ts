/**
 * Multi-task loss: Σ_t w_t · (mean over the samples labelled for task t of loss_t(out[b, t],
 * label[b, t])), with loss_t BCE-with-logits ('bce', a classification task such as click) or
 * the squared error ('mse', a regression task such as watch time). A mask (B, T) of 0/1
 * marks missing labels; a task with no label in the batch contributes 0.
 */
import { ShapeError } from '../errors';
import { f32, sameDevice } from '../ops/common';
import { add, clamp, div, mul } from '../ops/elementwise';
import { bceWithLogits, mse } from '../ops/loss';
import { sum } from '../ops/reduce';
import { ones, Tensor, tensor } from '../tensor';
import { checkNumber, checkOneOf, checkOptions, invalid } from '../validate';
import { noGrad } from '../autograd';

/** The per-task loss kinds, see {@link TaskLossKind}. */
export const TASK_LOSS_KINDS = ['bce', 'mse'] as const;
/** A task's loss: BCE-with-logits on a logit, or the squared error on a regression output. */
export type TaskLossKind = (typeof TASK_LOSS_KINDS)[number];

/** Options of {@link multiTaskLoss}. */
export interface MultiTaskLossOptions {
  /** Each task's loss (default 'bce' for every task). */
  kinds?: TaskLossKind[];
  /** Weight of each task's loss (default 1 each). */
  weights?: number[];
  /** (B, T) 0/1: 1 where the label exists (default: all labelled). */
  mask?: Tensor | null;
}

/** multiTaskBce's options: those of multiTaskLoss without `kinds` (every task is 'bce'). */
export type MultiTaskBceOptions = Omit<MultiTaskLossOptions, 'kinds'>;

/** outputs (B, T) (logits for 'bce' tasks, values for 'mse' ones), labels (B, T) → a scalar loss. */
export function multiTaskLoss(outputs: Tensor, labels: Tensor, options: MultiTaskLossOptions = {}): Tensor {
  return taskLoss(outputs, labels, checkOptions(options, 'options'), 'outputs');
}

/** logits (B, T), labels (B, T) → a scalar loss: multiTaskLoss with 'bce' for every task. */
export function multiTaskBce(logits: Tensor, labels: Tensor, options: MultiTaskBceOptions = {}): Tensor {
  const o = checkOptions(options as MultiTaskLossOptions, 'options');
  if (o.kinds !== undefined) throw invalid("no kinds (multiTaskBce is 'bce' for every task; use multiTaskLoss)", 'options.kinds', o.kinds);
  return taskLoss(logits, labels, o, 'logits');
}

/** multiTaskLoss, naming its first argument `name` in errors. */
function taskLoss(outputs: Tensor, labels: Tensor, o: Partial<MultiTaskLossOptions>, name: string): Tensor {
  f32(outputs, name);
  f32(labels, 'labels');
  const mask = o.mask ?? null;
  if (mask !== null) f32(mask, 'options.mask');
  sameDevice([[outputs, name], [labels, 'labels'], [mask, 'options.mask']]);
  if (outputs.ndim !== 2) throw new ShapeError(`Expected shape [batch, tasks] for ${name} but received [${outputs.shape}]`);
  const [batch, tasks] = outputs.shape;
  for (const [t, what] of [[labels, 'labels'], [mask, 'options.mask']] as const) {
    if (t && t.shape.join() !== outputs.shape.join()) throw new ShapeError(`Expected shape [${batch}, ${tasks}] for ${what} but received [${t.shape}]`);
  }
  const kinds = o.kinds ?? new Array<TaskLossKind>(tasks).fill('bce');
  if (!Array.isArray(kinds) || kinds.length !== tasks) throw invalid(`an array of ${tasks} loss kinds ('bce' or 'mse')`, 'options.kinds', kinds);
  kinds.forEach((k, i) => checkOneOf(k, `options.kinds[${i}]`, TASK_LOSS_KINDS));
  const weights = o.weights ?? new Array<number>(tasks).fill(1);
  if (!Array.isArray(weights) || weights.length !== tasks) throw invalid(`an array of ${tasks} numbers`, 'options.weights', weights);
  weights.forEach((w, i) => checkNumber(w, `options.weights[${i}]`));

  // Mixed kinds: each loss runs on every column, with the other kind's columns weighted 0.
  const perElement = kinds.every((k) => k === kinds[0])
    ? elementLoss(kinds[0], outputs, labels, mask)
    : add(elementLoss('bce', outputs, labels, kindWeight(kinds, 'bce', mask, outputs)), elementLoss('mse', outputs, labels, kindWeight(kinds, 'mse', mask, outputs)));
  const w = tensor(weights, { device: outputs.device });
  const perTask = sum(perElement, 0);
  // Each task's divisor is its labelled count (at least 1), computed on the device.
  const mean = mask ? div(perTask, clamp(noGrad(() => sum(mask, 0)), 1, null)) : mul(perTask, 1 / batch);
  return sum(mul(mean, w));
}

/** The per-element loss (B, T), weighted by `weight` (0 where a label is missing). */
function elementLoss(kind: TaskLossKind, z: Tensor, y: Tensor, weight: Tensor | null): Tensor {
  return kind === 'bce' ? bceWithLogits(z, y, { reduction: 'none', weight }) : mse(z, y, { reduction: 'none', weight });
}

/** (B, T): the mask (or 1) in the columns of tasks of `kind`, 0 elsewhere. */
function kindWeight(kinds: TaskLossKind[], kind: TaskLossKind, mask: Tensor | null, like: Tensor): Tensor {
  const columns = tensor(kinds.map((k) => (k === kind ? 1 : 0)), { device: like.device });
  return noGrad(() => mul(mask ?? ones(like.shape, { device: like.device }), columns));
}
