/** Reductions (sum, mean, max, min over an axis or everything) and their gradients. Native: native/ops/reduce. */
import { record } from '../autograd';
import { ArgumentError } from '../errors';
import { native } from '../native';
import { empty, Tensor, zeros } from '../tensor';
import { checkBoolean } from '../validate';
import { f32, normAxis } from './common';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

function reduceAxis(op: ReduceOp, x: Tensor, axis: number, keepDims: boolean): Tensor {
  const ax = normAxis(axis, x.ndim);
  checkBoolean(keepDims, 'keepDims');
  if ((op === 'max' || op === 'min') && x.shape[ax] === 0) throw new ArgumentError(`${op} over an empty axis ${axis}`);
  const shape = x.shape.slice();
  if (keepDims) shape[ax] = 1;
  else shape.splice(ax, 1);
  const out = empty(shape, { device: x.device });
  const idx = op === 'max' || op === 'min' ? empty(shape, { dtype: 'int64', device: x.device }) : null;
  native.reduce(op, x._h, ax, out._h, idx?._h ?? null);
  return record(out, op, [x], (g) => {
    const gx = empty(x.shape, { device: x.device });
    native.reduceBackward(op, g._h, idx?._h ?? null, ax, gx._h);
    return [gx];
  });
}

function reduceAll(op: 'sum' | 'mean', x: Tensor): Tensor {
  f32(x, 'x');
  const out = empty([], { device: x.device });
  native.sumAll(x._h, out._h);
  const n = x.size;
  // The mean of nothing is NaN, as over an empty axis (and in NumPy and PyTorch).
  if (op === 'mean') native.unary('affine', out._h, out._h, n ? 1 / n : NaN, 0);
  return record(out, op, [x], (g) => [broadcastTo(g, x.shape, op === 'mean' ? 1 / Math.max(n, 1) : 1)]);
}

/** scale · g broadcast to `shape` (the adjoint of a full reduction). */
function broadcastTo(g: Tensor, shape: readonly number[], scale: number): Tensor {
  const out = zeros(shape, { device: g.device });
  native.binary('add', out._h, g._h, out._h);
  if (scale !== 1) native.unary('affine', out._h, out._h, scale, 0);
  return out;
}

/** Sum over `axis` (all elements when omitted). */
export function sum(x: Tensor, axis?: number, keepDims = false): Tensor {
  f32(x, 'x');
  return axis === undefined ? reduceAll('sum', x) : reduceAxis('sum', x, axis, keepDims);
}
/** Mean over `axis` (all elements when omitted). */
export function mean(x: Tensor, axis?: number, keepDims = false): Tensor {
  f32(x, 'x');
  return axis === undefined ? reduceAll('mean', x) : reduceAxis('mean', x, axis, keepDims);
}
/** Max over `axis` (the gradient goes to the first maximal element). */
export function max(x: Tensor, axis: number, keepDims = false): Tensor {
  return reduceAxis('max', f32(x, 'x'), axis, keepDims);
}
/** Min over `axis`. */
export function min(x: Tensor, axis: number, keepDims = false): Tensor {
  return reduceAxis('min', f32(x, 'x'), axis, keepDims);
}

declare module '../tensor' {
  interface Tensor {
    /** Sum over `axis` (all elements when omitted), see {@link sum}. */
    sum(axis?: number, keepDims?: boolean): Tensor;
    /** Mean over `axis` (all elements when omitted), see {@link mean}. */
    mean(axis?: number, keepDims?: boolean): Tensor;
    /** Max over `axis`, see {@link max}. */
    max(axis: number, keepDims?: boolean): Tensor;
    /** Min over `axis`, see {@link min}. */
    min(axis: number, keepDims?: boolean): Tensor;
  }
}
Tensor.prototype.sum = function (axis, keepDims) {
  return sum(this, axis, keepDims);
};
Tensor.prototype.mean = function (axis, keepDims) {
  return mean(this, axis, keepDims);
};
Tensor.prototype.max = function (axis, keepDims) {
  return max(this, axis, keepDims);
};
Tensor.prototype.min = function (axis, keepDims) {
  return min(this, axis, keepDims);
};
