import { describe, expect, it } from 'vitest';
import {
  Adam, add, ArgumentError, bceWithLogits, concat, DeviceError, DisposedError, DTypeError, dropout, empty, GatewiseError,
  indexSelect, Linear, matmul, mse, OutOfMemoryError, permute, ShapeError, slice, softmax, sum, tensor, zeros, MLP, NoCudaError, hasCuda,
} from '../lib';

/** Runs fn, expecting a GatewiseError of `cls` whose message contains `text`. */
function expectError(fn: () => unknown, cls: new (...a: never[]) => GatewiseError, text: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${cls.name} containing "${text}"`).toBeInstanceOf(cls);
  expect((caught as Error).message).toContain(text);
  expect((caught as GatewiseError).code).toMatch(/^ERR_GATEWISE_/);
}

describe('bad input gets a typed error naming the argument, and the process survives', () => {
  const m = tensor([[1, 2], [3, 4]]);

  it('wrong shapes', () => {
    expectError(() => add(m, tensor([1, 2, 3])), ShapeError, 'cannot be broadcast');
    expectError(() => matmul(m, tensor([[1, 2, 3]])), ShapeError, 'inner dimensions differ');
    expectError(() => matmul(tensor([1, 2]), m), ShapeError, 'for a');
    expectError(() => new Linear(3, 2).forward(m), ShapeError, 'Expected shape [..., 3] for x but received [2,2]');
    expectError(() => mse(m, tensor([1, 2])), ShapeError, 'for target');
    expectError(() => concat([m, tensor([[1, 2, 3]])], 0), ShapeError, 'inputs[1]');
    expectError(() => permute(m, [0, 0]), ArgumentError, 'Expected a permutation of 0..1 for perm');
    expectError(() => slice(m, 1, 1, 5), ArgumentError, 'for length');
    expectError(() => sum(m, 2), ArgumentError, 'for axis');
    expectError(() => softmax(m, { mask: tensor(new Uint8Array([1, 1, 1])) }), ShapeError, 'options.mask');
    expectError(() => tensor([[1, 2], [3]]), ShapeError, 'ragged');
    expectError(() => tensor([1, 2, 3], { shape: [2, 2] }), ShapeError, 'needs 4');
  });

  it('wrong dtypes', () => {
    const ids = tensor([1, 2], { dtype: 'int32' });
    expectError(() => add(ids, ids), DTypeError, 'Expected a float32 tensor for a but received int32');
    expectError(() => indexSelect(m, tensor([0.5])), DTypeError, 'for index');
    expectError(() => softmax(m, { mask: tensor([[1, 1], [1, 1]]) }), DTypeError, 'options.mask');
    expectError(() => ids.requiresGrad_(), DTypeError, 'only float32');
    expectError(() => tensor([1], { dtype: 'float16' as never }), ArgumentError, "for options.dtype but received 'float16'");
  });

  it('NaN, infinities and out-of-range numbers as arguments', () => {
    expectError(() => add(m, NaN), ArgumentError, 'Expected a finite number for b but received NaN of type number');
    expectError(() => dropout(m, 1.5), ArgumentError, 'for p');
    expectError(() => dropout(m, NaN), ArgumentError, 'for p');
    expectError(() => new Linear(0, 2), ArgumentError, 'Expected an integer of at least 1 for inFeatures but received 0');
    expectError(() => new MLP(4, { hidden: [8, -1] }), ArgumentError, 'options.hidden[1]');
    expectError(() => new Adam([tensor([1], { requiresGrad: true })], { lr: NaN }), ArgumentError, 'paramGroups[0].lr');
    expectError(() => bceWithLogits(m, m, { reduction: 'avg' as never }), ArgumentError, 'options.reduction');
    expectError(() => indexSelect(m, tensor([0n, 2n])), ArgumentError, 'out of range');
    expectError(() => indexSelect(m, tensor([-1], { dtype: 'int32' })), ArgumentError, 'out of range');
  });

  it('not tensors at all', () => {
    expectError(() => add(m, 'x' as never), ArgumentError, "Expected a Tensor for b but received 'x' of type string");
    expectError(() => matmul(null as never, m), ArgumentError, 'Expected a Tensor for a but received null of type null');
    expectError(() => concat([] as never), ArgumentError, 'for inputs');
    expectError(() => tensor({} as never), ArgumentError, 'for data');
  });

  it('empty tensors work where they make sense', () => {
    const e = zeros([0, 2]);
    expect(add(e, e).shape).toEqual([0, 2]);
    expect(sum(e).item()).toBe(0);
    expect(matmul(zeros([0, 3]), zeros([3, 2])).shape).toEqual([0, 2]);
    expect(matmul(zeros([2, 0]), zeros([0, 3])).toNested()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(matmul(zeros([0, 2, 4]), zeros([4, 3])).shape).toEqual([0, 2, 3]);
    expect(Number.isNaN(zeros([0]).mean().item())).toBe(true);
    expectError(() => e.max(0), ArgumentError, 'empty axis');
  });

  it('freed tensors', () => {
    const t = tensor([1, 2]);
    t.dispose();
    expectError(() => add(t, 1), DisposedError, 'was disposed');
    expectError(() => t.reshape(2, 1), DisposedError, 'was disposed');
    expectError(() => tensor([0, 0]).copyFrom(t), DisposedError, 'src');
  });

  it('out of memory is an error, not a crash', () => {
    expectError(() => empty([1 << 20, 1 << 20, 1 << 10]), OutOfMemoryError, 'out of host memory');
  });

  it('devices', () => {
    if (hasCuda()) {
      expectError(() => add(tensor([1], { device: 'cpu' }), tensor([1], { device: 'cuda' })), DeviceError, 'is on cuda');
    } else {
      expectError(() => tensor([1], { device: 'cuda' }), NoCudaError, 'cuda');
    }
  });

  it('errors from native code carry the native location', () => {
    try {
      indexSelect(m, tensor([5], { dtype: 'int32' }));
    } catch (e) {
      expect((e as GatewiseError).nativeLocation).toMatch(/\.(cpp|cu|h):\d+$/);
    }
  });
});
