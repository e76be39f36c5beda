/**
 * Losses: BCE-with-logits (stable form, optional per-element weights that double as a
 * missing-label mask, and pos_weight) and MSE. Gradients flow to the logits/input only;
 * targets and weights are data and receive none. Native: native/ops/loss.
 */
import { record } from '../autograd';
import { ShapeError } from '../errors';
import { native } from '../native';
import { empty, Tensor } from '../tensor';
import { checkNumber, checkOneOf, checkOptions } from '../validate';
import { f32, sameDevice } from './common';

/**
 * How a loss reduces its per-element values: their (weighted) mean, their sum, or none (the
 * per-element losses, x's shape).
 */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options of the losses ({@link bceWithLogits}, {@link mse}). */
export interface LossOptions {
  /** Per-element weights (z's shape); 0 masks a missing label. 'mean' divides by their sum. */
  weight?: Tensor | null;
  /** 'mean' (default), 'sum' or 'none' (per element). */
  reduction?: Reduction;
}

function lossOp(kind: 'bce' | 'mse', z: Tensor, y: Tensor, options: LossOptions & { posWeight?: number }): Tensor {
  f32(z, kind === 'bce' ? 'logits' : 'input');
  f32(y, 'target');
  const o = checkOptions(options, 'options');
  const weight = o.weight ?? null;
  if (weight !== null) f32(weight, 'options.weight');
  const reduction = checkOneOf(o.reduction ?? 'mean', 'options.reduction', ['mean', 'sum', 'none'] as const);
  const posWeight = checkNumber(o.posWeight ?? 1, 'options.posWeight');
  sameDevice([[z, 'logits'], [y, 'target'], [weight, 'options.weight']]);
  if (y.shape.join() !== z.shape.join()) throw new ShapeError(`Expected shape [${z.shape}] for target but received [${y.shape}]`);
  if (weight && weight.shape.join() !== z.shape.join()) throw new ShapeError(`Expected shape [${z.shape}] for options.weight but received [${weight.shape}]`);
  const out = empty(reduction === 'none' ? z.shape : [], { device: z.device });
  if (kind === 'bce') native.bceWithLogits(z._h, y._h, weight?._h ?? null, posWeight, reduction, out._h);
  else native.mse(z._h, y._h, weight?._h ?? null, reduction, out._h);
  return record(out, kind, [z, y, weight], (g) => {
    const gz = empty(z.shape, { device: z.device });
    if (kind === 'bce') native.bceWithLogitsBackward(z._h, y._h, weight?._h ?? null, posWeight, reduction, g._h, gz._h);
    else native.mseBackward(z._h, y._h, weight?._h ?? null, reduction, g._h, gz._h);
    return [gz, null, null];
  });
}

/** Binary cross-entropy on logits: max(z,0) − z·y + log(1 + e^−|z|), weighted, with pos_weight. */
export function bceWithLogits(logits: Tensor, target: Tensor, options: LossOptions & { posWeight?: number } = {}): Tensor {
  return lossOp('bce', logits, target, options);
}

/** Mean squared error (z − y)², weighted. */
export function mse(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  return lossOp('mse', input, target, options);
}
