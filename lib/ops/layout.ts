/**
 * Layout: transpose/permute, concat, slicing along any axis, and row gathers by index
 * (the embedding lookup's dense form). Native: native/ops/layout.
 */
import { record } from '../autograd';
import { ArgumentError, DTypeError, ShapeError } from '../errors';
import { native } from '../native';
import { checkTensor, empty, Tensor, zeros } from '../tensor';
import { checkInt, invalid } from '../validate';
import { normAxis, sameDevice } from './common';

/** Reorders dimensions: out.shape[k] = x.shape[perm[k]]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  checkTensor(x, 'x');
  if (!Array.isArray(perm) || perm.length !== x.ndim || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
    throw invalid(`a permutation of 0..${x.ndim - 1}`, 'perm', perm);
  }
  const out = empty(perm.map((p) => x.shape[p]), { dtype: x.dtype, device: x.device });
  native.permute(x._h, perm, out._h);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return record(out, 'permute', [x], (g) => [permute(g, inverse)]);
}

/** Swaps two dimensions (default: the last two). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  checkTensor(x, 'x');
  if (x.ndim < 2) throw new ShapeError(`transpose needs at least 2 dimensions, not shape [${x.shape}]`);
  const a = normAxis(dim0, x.ndim, 'dim0');
  const b = normAxis(dim1, x.ndim, 'dim1');
  const perm = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, perm);
}

/** Joins tensors along `axis`. */
export function concat(inputs: Tensor[], axis = 0): Tensor {
  if (!Array.isArray(inputs) || inputs.length === 0) throw invalid('a non-empty array of Tensors', 'inputs', inputs);
  inputs.forEach((t, i) => checkTensor(t, `inputs[${i}]`));
  sameDevice(inputs.map((t, i) => [t, `inputs[${i}]`]));
  const first = inputs[0];
  const ax = normAxis(axis, first.ndim);
  inputs.forEach((t, i) => {
    if (t.dtype !== first.dtype) throw new DTypeError(`inputs[${i}] is ${t.dtype} but inputs[0] is ${first.dtype}`);
    if (t.ndim !== first.ndim || t.shape.some((d, k) => k !== ax && d !== first.shape[k])) {
      throw new ShapeError(`Expected shape [${first.shape.map((d, k) => (k === ax ? '*' : d))}] for inputs[${i}] but received [${t.shape}]`);
    }
  });
  const shape = first.shape.slice();
  shape[ax] = inputs.reduce((n, t) => n + t.shape[ax], 0);
  const out = empty(shape, { dtype: first.dtype, device: first.device });
  native.concat(inputs.map((t) => t._h), ax, out._h);
  const starts: number[] = [];
  inputs.reduce((s, t) => (starts.push(s), s + t.shape[ax]), 0);
  return record(out, 'concat', inputs, (g) =>
    inputs.map((t, i) => {
      if (!t.requiresGrad) return null;
      const gi = empty(t.shape, { device: t.device });
      native.sliceAxis(g._h, ax, starts[i], gi._h);
      return gi;
    }),
  );
}

/** x[..., start:start+length, ...] along `axis` (a copy; see Tensor.narrow for a view of dim 0). */
export function slice(x: Tensor, axis: number, start: number, length: number): Tensor {
  checkTensor(x, 'x');
  const ax = normAxis(axis, x.ndim);
  checkInt(start, 'start', 0, x.shape[ax]);
  checkInt(length, 'length', 0, x.shape[ax] - start);
  const shape = x.shape.slice();
  shape[ax] = length;
  const out = empty(shape, { dtype: x.dtype, device: x.device });
  native.sliceAxis(x._h, ax, start, out._h);
  return record(out, 'slice', [x], (g) => {
    const gx = zeros(x.shape, { device: x.device });
    native.sliceAxisBackward(g._h, ax, start, gx._h);
    return [gx];
  });
}

/**
 * Rows of `table` chosen by integer `index` (int32 or int64, any shape):
 * out = table[index] with shape index.shape ++ table.shape[1:]. Out-of-range ids throw.
 */
export function indexSelect(table: Tensor, index: Tensor): Tensor {
  checkTensor(table, 'table');
  checkTensor(index, 'index');
  if (index.dtype !== 'int32' && index.dtype !== 'int64') throw new DTypeError(`Expected an int32 or int64 tensor for index but received ${index.dtype}`);
  sameDevice([[table, 'table'], [index, 'index']]);
  if (table.ndim < 1) throw new ShapeError('indexSelect needs a table with at least one dimension');
  const out = empty([...index.shape, ...table.shape.slice(1)], { dtype: table.dtype, device: table.device });
  native.indexSelect(table._h, index._h, out._h);
  return record(out, 'indexSelect', [table], (g) => {
    const gt = zeros(table.shape, { device: table.device });
    native.indexAddRows(g._h, index._h, gt._h);
    return [gt];
  });
}

declare module '../tensor' {
  interface Tensor {
    /** Reorders dimensions: out.shape[k] = this.shape[perm[k]], see {@link permute}. */
    permute(perm: readonly number[]): Tensor;
    /** Swaps two dimensions (default: the last two), see {@link transpose}. */
    transpose(dim0?: number, dim1?: number): Tensor;
    /** Named `T` in NumPy: the transpose of a matrix. */
    t(): Tensor;
    /** `length` entries from `start` along `axis` (a copy), see {@link slice}. */
    slice(axis: number, start: number, length: number): Tensor;
    /** Rows of this table chosen by integer `index`, see {@link indexSelect}. */
    indexSelect(index: Tensor): Tensor;
  }
}
Tensor.prototype.permute = function (perm) {
  return permute(this, perm);
};
Tensor.prototype.transpose = function (d0, d1) {
  return transpose(this, d0, d1);
};
Tensor.prototype.t = function () {
  if (this.ndim !== 2) throw new ArgumentError(`t() needs a matrix, not shape [${this.shape}]`);
  return transpose(this);
};
Tensor.prototype.slice = function (axis, start, length) {
  return slice(this, axis, start, length);
};
Tensor.prototype.indexSelect = function (index) {
  return indexSelect(this, index);
};
