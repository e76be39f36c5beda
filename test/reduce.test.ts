import { describe, expect, it } from 'vitest';
import { ArgumentError, max, mean, min, Rng, sum, tensor, zeros } from '../lib';
import { distinct, gradcheck, input, numel } from './gradcheck';

const rng = new Rng(31);

type Op = 'sum' | 'mean' | 'max' | 'min';

/** Reference reduction of x (shape) over axis, viewed as (outer, n, inner). */
function reduceRef(x: Float64Array, shape: readonly number[], axis: number, op: Op): Float64Array {
  const ax = axis < 0 ? axis + shape.length : axis;
  const outer = numel(shape.slice(0, ax));
  const n = shape[ax];
  const inner = numel(shape.slice(ax + 1));
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; ++o) {
    for (let k = 0; k < inner; ++k) {
      let acc = op === 'max' ? -Infinity : op === 'min' ? Infinity : 0;
      for (let j = 0; j < n; ++j) {
        const v = x[(o * n + j) * inner + k];
        if (op === 'max') acc = Math.max(acc, v);
        else if (op === 'min') acc = Math.min(acc, v);
        else acc += v;
      }
      out[o * inner + k] = op === 'mean' ? acc / n : acc;
    }
  }
  return out;
}

function outShape(shape: readonly number[], axis: number, keepDims: boolean): number[] {
  const ax = axis < 0 ? axis + shape.length : axis;
  const s = shape.slice();
  if (keepDims) s[ax] = 1;
  else s.splice(ax, 1);
  return s;
}

const SHAPES = [[9], [4, 7], [2, 3, 5], [3, 1, 4], [2, 3, 1, 5], [1, 6]];
const FNS = { sum, mean, max, min };

describe('sum and mean over an axis (gradcheck)', () => {
  for (const op of ['sum', 'mean'] as const) {
    for (const keepDims of [false, true]) {
      it(`${op}, keepDims ${keepDims}, every axis (and negative axes)`, () => {
        for (const s of SHAPES) {
          for (let axis = -s.length; axis < s.length; ++axis) {
            gradcheck({
              name: `${op}(axis ${axis}, keepDims ${keepDims}) [${s}]`,
              inputs: [input(rng, s)],
              op: ([x]) => FNS[op](x, axis, keepDims),
              ref: ([x]) => reduceRef(x, s, axis, op),
              outShape: outShape(s, axis, keepDims),
            });
          }
        }
      });
    }
  }

  it('keepDims defaults to false; Tensor methods agree', () => {
    const x = tensor(input(rng, [3, 4]).data as Float64Array, { shape: [3, 4] });
    expect(sum(x, 1).shape).toEqual([3]);
    expect(x.mean(0, true).shape).toEqual([1, 4]);
    expect(Array.from(x.sum(1).toArraySync() as Float32Array)).toEqual(Array.from(sum(x, -1).toArraySync() as Float32Array));
  });
});

describe('sum and mean over everything (gradcheck)', () => {
  for (const op of ['sum', 'mean'] as const) {
    it(op, () => {
      for (const s of [[], [1], [13], [4, 7], [2, 3, 5], [3, 129]]) {
        gradcheck({
          name: `${op}() [${s}]`,
          inputs: [input(rng, s)],
          op: ([x]) => FNS[op](x),
          ref: ([x]) => Float64Array.of(x.reduce((a, b) => a + b, 0) / (op === 'mean' ? x.length : 1)),
          outShape: [],
        });
      }
    });
  }

  it('accumulates 100 003 elements in double precision (result within one float32 rounding)', () => {
    const n = 100_003;
    const a = new Float32Array(n);
    for (let i = 0; i < n; ++i) a[i] = rng.uniform() * 1000 + (i % 2 ? 1e4 : -1e4);
    const want = a.reduce((s, v) => s + v, 0);
    const x = tensor(a);
    expect(Math.abs(sum(x).item() - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -23);
    expect(Math.abs(mean(x).item() - want / n)).toBeLessThanOrEqual(Math.abs(want / n) * 2 ** -23);
    const colSums = sum(tensor(a.subarray(0, 100_000), { shape: [1000, 100] }), 0).toArraySync() as Float32Array;
    for (const k of [0, 37, 99]) {
      let w = 0;
      for (let r = 0; r < 1000; ++r) w += a[r * 100 + k];
      expect(Math.abs(colSums[k] - w)).toBeLessThanOrEqual(Math.abs(w) * 2 ** -23 + 1e-9);
    }
  });

  it('the sum of no elements is 0', () => {
    expect(sum(zeros([0])).item()).toBe(0);
    expect(sum(zeros([3, 0]), 1).toArraySync() as Float32Array).toEqual(new Float32Array(3));
  });
});

describe('max and min over an axis (gradcheck: the gradient goes to the arg-extremum)', () => {
  for (const op of ['max', 'min'] as const) {
    for (const keepDims of [false, true]) {
      it(`${op}, keepDims ${keepDims}, every axis`, () => {
        for (const s of SHAPES) {
          for (let axis = -s.length; axis < s.length; ++axis) {
            gradcheck({
              name: `${op}(axis ${axis}, keepDims ${keepDims}) [${s}]`,
              inputs: [{ data: distinct(rng, numel(s)), shape: s }],
              op: ([x]) => FNS[op](x, axis, keepDims),
              ref: ([x]) => reduceRef(x, s, axis, op),
              outShape: outShape(s, axis, keepDims),
            });
          }
        }
      });
    }
  }

  it('with ties the first extremal element gets the whole gradient', () => {
    const x = tensor([[1, 3, 3, 0], [2, 2, 2, 2], [-1, -5, -5, -1]], { requiresGrad: true });
    max(x, 1).backward(tensor([10, 20, 30]));
    expect(x.grad!.toNested()).toEqual([[0, 10, 0, 0], [20, 0, 0, 0], [30, 0, 0, 0]]);
    const z = tensor([[1, 3, 3, 0], [2, 2, 2, 2], [-1, -5, -5, -1]], { requiresGrad: true });
    min(z, 1).backward(tensor([10, 20, 30]));
    expect(z.grad!.toNested()).toEqual([[0, 0, 0, 10], [20, 0, 0, 0], [0, 30, 0, 0]]);
  });

  it('NaN wins and takes the gradient', () => {
    const x = tensor([[1, NaN, 5], [4, 6, NaN]], { requiresGrad: true });
    const y = max(x, 1);
    const v = Array.from(y.toArraySync() as Float32Array);
    expect(v.every(Number.isNaN)).toBe(true);
    y.backward(tensor([1, 2]));
    expect(x.grad!.toNested()).toEqual([[0, 1, 0], [0, 0, 2]]);
    expect(Number.isNaN(min(tensor([3, NaN, -1]), 0).item())).toBe(true);
  });

  it('refuses an empty axis and a bad axis, naming them', () => {
    expect(() => max(zeros([2, 0]), 1)).toThrow(ArgumentError);
    expect(() => max(zeros([2, 0]), 1)).toThrow('max over an empty axis 1');
    expect(() => sum(zeros([2, 3]), 2)).toThrow('Expected an integer axis in [-2, 1] for axis but received 2 of type number');
    expect(() => mean(zeros([2, 3]), 0, 'yes' as never)).toThrow('Expected a boolean for keepDims');
  });
});
