/**
 * Multi-task BCE: Σ_t w_t · (mean over the samples labelled for task t of
 * BCE-with-logits(logit[b, t], label[b, t])). A mask (B, T) of 0/1 marks missing labels;
 * a task with no label in the batch contributes 0.
 */
import { ShapeError } from '../errors';
import { f32, sameDevice } from '../ops/common';
import { clamp, div, mul } from '../ops/elementwise';
import { bceWithLogits } from '../ops/loss';
import { sum } from '../ops/reduce';
import { Tensor, tensor } from '../tensor';
import { checkNumber, checkOptions, invalid } from '../validate';
import { noGrad } from '../autograd';

export interface MultiTaskLossOptions {
  /** Weight of each task's loss (default 1 each). */
  weights?: number[];
  /** (B, T) 0/1: 1 where the label exists (default: all labelled). */
  mask?: Tensor | null;
}

/** logits (B, T), labels (B, T) → a scalar loss. */
export function multiTaskBce(logits: Tensor, labels: Tensor, options: MultiTaskLossOptions = {}): Tensor {
  f32(logits, 'logits');
  f32(labels, 'labels');
  const o = checkOptions(options, 'options');
  const mask = o.mask ?? null;
  if (mask !== null) f32(mask, 'options.mask');
  sameDevice([[logits, 'logits'], [labels, 'labels'], [mask, 'options.mask']]);
  if (logits.ndim !== 2) throw new ShapeError(`Expected shape [batch, tasks] for logits but received [${logits.shape}]`);
  const [batch, tasks] = logits.shape;
  for (const [t, name] of [[labels, 'labels'], [mask, 'options.mask']] as const) {
    if (t && t.shape.join() !== logits.shape.join()) throw new ShapeError(`Expected shape [${batch}, ${tasks}] for ${name} but received [${t.shape}]`);
  }
  const weights = o.weights ?? new Array<number>(tasks).fill(1);
  if (!Array.isArray(weights) || weights.length !== tasks) throw invalid(`an array of ${tasks} numbers`, 'options.weights', weights);
  weights.forEach((w, i) => checkNumber(w, `options.weights[${i}]`));
  const perElement = bceWithLogits(logits, labels, { reduction: 'none', weight: mask });
  const w = tensor(weights, { device: logits.device });
  const perTask = sum(perElement, 0);
  // Each task's divisor is its labelled count (at least 1), computed on the device.
  const mean = mask ? div(perTask, clamp(noGrad(() => sum(mask, 0)), 1, null)) : mul(perTask, 1 / batch);
  return sum(mul(mean, w));
}
