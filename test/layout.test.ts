import { describe, expect, it } from 'vitest';
import { ArgumentError, concat, DTypeError, GatewiseError, indexSelect, permute, Rng, ShapeError, slice, tensor, Tensor, transpose, setBackend } from '../lib';
import { gradcheck, input, numel, rand, strides, unravel } from './gradcheck';

// These are CPU checks (float64 references, host memory statistics, the CPU table's export);
// they pin the CPU backend so that a machine whose default is CUDA runs them unchanged.
setBackend('cpu');

const rng = new Rng(41);

/** Reference permute: out[j] = x[i] with i[perm[k]] = j[k]. */
function permuteRef(x: Float64Array, shape: readonly number[], perm: readonly number[]): Float64Array {
  const outShape = perm.map((p) => shape[p]);
  const sx = strides(shape);
  const out = new Float64Array(x.length);
  for (let j = 0; j < out.length; ++j) {
    const idx = unravel(j, outShape);
    let i = 0;
    for (let k = 0; k < perm.length; ++k) i += idx[k] * sx[perm[k]];
    out[j] = x[i];
  }
  return out;
}

/** All permutations of 0..n−1. */
function perms(n: number): number[][] {
  if (n === 0) return [[]];
  return perms(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

/** Reference slice along axis. */
function sliceRef(x: Float64Array, shape: readonly number[], axis: number, start: number, len: number): Float64Array {
  const outer = numel(shape.slice(0, axis));
  const n = shape[axis];
  const inner = numel(shape.slice(axis + 1));
  const out = new Float64Array(outer * len * inner);
  for (let o = 0; o < outer; ++o)
    for (let a = 0; a < len; ++a)
      for (let r = 0; r < inner; ++r) out[(o * len + a) * inner + r] = x[(o * n + start + a) * inner + r];
  return out;
}

/** Reference concat along axis. */
function concatRef(xs: Float64Array[], shapes: number[][], axis: number): Float64Array {
  const outer = numel(shapes[0].slice(0, axis));
  const inner = numel(shapes[0].slice(axis + 1));
  const total = shapes.reduce((s, sh) => s + sh[axis], 0);
  const out = new Float64Array(outer * total * inner);
  let off = 0;
  xs.forEach((x, k) => {
    const len = shapes[k][axis];
    for (let o = 0; o < outer; ++o)
      for (let a = 0; a < len; ++a)
        for (let r = 0; r < inner; ++r) out[(o * total + off + a) * inner + r] = x[(o * len + a) * inner + r];
    off += len;
  });
  return out;
}

describe('permute and transpose (gradcheck)', () => {
  it('every permutation of 1-D to 3-D shapes, odd sizes and size-1 dims', () => {
    for (const s of [[7], [3, 5], [1, 4], [2, 3, 4], [5, 1, 3], [3, 17, 2], [1, 1, 6]]) {
      for (const p of perms(s.length)) {
        gradcheck({
          name: `permute [${s}] by [${p}]`,
          inputs: [input(rng, s)],
          op: ([x]) => permute(x, p),
          ref: ([x]) => permuteRef(x, s, p),
          outShape: p.map((i) => s[i]),
        });
      }
    }
  });

  it('4-D and 5-D permutations (general path, batched transposes, merged dims)', () => {
    const cases: [number[], number[]][] = [
      [[2, 3, 4, 5], [0, 1, 3, 2]],
      [[2, 3, 4, 5], [3, 2, 1, 0]],
      [[2, 3, 4, 5], [1, 0, 2, 3]],
      [[2, 3, 4, 5], [0, 2, 3, 1]],
      [[2, 3, 4, 5], [2, 3, 0, 1]],
      [[3, 1, 2, 5], [3, 0, 2, 1]],
      [[2, 3, 2, 3, 2], [4, 2, 0, 3, 1]],
      [[33, 2, 35], [2, 1, 0]],
    ];
    for (const [s, p] of cases) {
      gradcheck({ name: `permute [${s}] by [${p}]`, inputs: [input(rng, s)], op: ([x]) => permute(x, p), ref: ([x]) => permuteRef(x, s, p) });
    }
  });

  it('large tiled transposes (sizes not multiples of a tile)', () => {
    for (const s of [[67, 45], [3, 40, 33]]) {
      const p = s.length === 2 ? [1, 0] : [0, 2, 1];
      gradcheck({ name: `transpose [${s}]`, inputs: [input(rng, s)], op: ([x]) => transpose(x), ref: ([x]) => permuteRef(x, s, p) });
    }
  });

  it('transpose(dim0, dim1) with negative dims and Tensor.t()', () => {
    const s = [2, 3, 4];
    gradcheck({ name: 'transpose(0, 2)', inputs: [input(rng, s)], op: ([x]) => transpose(x, 0, 2), ref: ([x]) => permuteRef(x, s, [2, 1, 0]) });
    gradcheck({ name: 'transpose(-3, -2)', inputs: [input(rng, s)], op: ([x]) => x.transpose(-3, -2), ref: ([x]) => permuteRef(x, s, [1, 0, 2]) });
    gradcheck({ name: 'transpose(1, 1)', inputs: [input(rng, s)], op: ([x]) => transpose(x, 1, 1), ref: ([x]) => x });
    gradcheck({ name: 't()', inputs: [input(rng, [3, 5])], op: ([x]) => x.t(), ref: ([x]) => permuteRef(x, [3, 5], [1, 0]) });
    expect(() => tensor([1, 2, 3]).t()).toThrow(ArgumentError);
    expect(() => transpose(tensor([1, 2, 3]))).toThrow(ShapeError);
  });

  it('moves int32, int64 and uint8 elements exactly', () => {
    const i32 = tensor(Int32Array.from({ length: 24 }, (_, i) => i * 1000003), { shape: [2, 3, 4] });
    const i64 = tensor(BigInt64Array.from({ length: 24 }, (_, i) => BigInt(i) * 2n ** 40n + 7n), { shape: [2, 3, 4] });
    const u8 = tensor(Uint8Array.from({ length: 24 }, (_, i) => (i * 37) % 256), { shape: [2, 3, 4] });
    const p = [2, 0, 1];
    for (const t of [i32, i64, u8]) {
      const got = Array.from(permute(t, p).toArraySync() as ArrayLike<number | bigint>);
      const src = Array.from(t.toArraySync() as ArrayLike<number | bigint>);
      const idx = Array.from(permuteRef(Float64Array.from({ length: 24 }, (_, i) => i), [2, 3, 4], p));
      expect(got, t.dtype).toEqual(idx.map((i) => src[i]));
      expect(permute(t, p).dtype).toBe(t.dtype);
    }
  });

  it('refuses a bad permutation, naming it', () => {
    const x = tensor(new Float32Array(6), { shape: [2, 3] });
    expect(() => permute(x, [0, 0])).toThrow('Expected a permutation of 0..1 for perm but received [0, 0] of type array');
    expect(() => permute(x, [1])).toThrow(ArgumentError);
  });
});

describe('concat (gradcheck)', () => {
  const cases: [number[][], number][] = [
    [[[2, 3], [4, 3]], 0],
    [[[2, 3], [2, 5]], 1],
    [[[2, 3], [2, 5]], -1],
    [[[3], [1], [5]], 0],
    [[[2, 3, 4], [2, 1, 4], [2, 2, 4]], 1],
    [[[2, 3, 4], [1, 3, 4], [3, 3, 4], [1, 3, 4]], 0],
    [[[2, 3, 1], [2, 3, 4], [2, 3, 2]], 2],
    [[[5, 7]], 1],
    [[[2, 0, 3], [2, 4, 3]], 1],
  ];
  for (const [shapes, axis] of cases) {
    it(`${shapes.length} inputs ${shapes.map((s) => `[${s}]`).join(' ')} along axis ${axis}`, () => {
      const ax = axis < 0 ? axis + shapes[0].length : axis;
      gradcheck({
        name: `concat axis ${axis}`,
        inputs: shapes.map((s) => input(rng, s)),
        op: (ts) => concat(ts, axis),
        ref: (xs) => concatRef(xs, shapes, ax),
        outShape: shapes[0].map((d, k) => (k === ax ? shapes.reduce((n, s) => n + s[ax], 0) : d)),
      });
    });
  }

  it('the same tensor twice accumulates both gradients; inputs without grad get none', () => {
    const s = [2, 3];
    gradcheck({ name: 'concat([x, x])', inputs: [input(rng, s)], op: ([x]) => concat([x, x], 1), ref: ([x]) => concatRef([x, x], [s, s], 1) });
    gradcheck({
      name: 'concat([x, c])',
      inputs: [input(rng, s), input(rng, [2, 2], { grad: false })],
      op: ([x, c]) => concat([x, c], 1),
      ref: ([x, c]) => concatRef([x, c], [s, [2, 2]], 1),
    });
  });

  it('keeps dtypes and refuses mismatched inputs, naming them', () => {
    const a = tensor(BigInt64Array.of(1n, 2n));
    const b = tensor(BigInt64Array.of(-(2n ** 60n)));
    expect(Array.from(concat([a, b]).toArraySync() as BigInt64Array)).toEqual([1n, 2n, -(2n ** 60n)]);
    const f = tensor(new Float32Array(6), { shape: [2, 3] });
    expect(() => concat([f, tensor(new Float32Array(6), { shape: [3, 2] })], 0)).toThrow('Expected shape [*,3] for inputs[1] but received [3,2]');
    expect(() => concat([f, tensor(new Int32Array(6), { shape: [2, 3] })], 0)).toThrow(DTypeError);
    expect(() => concat([])).toThrow('Expected a non-empty array of Tensors for inputs');
  });
});

describe('slice along an axis (gradcheck)', () => {
  it('every axis, several starts and lengths', () => {
    for (const s of [[9], [4, 7], [2, 3, 5], [3, 1, 6], [2, 5, 3, 3]]) {
      for (let axis = 0; axis < s.length; ++axis) {
        const n = s[axis];
        const windows: [number, number][] = [[0, n], [0, 1], [n - 1, 1], [Math.floor(n / 3), Math.ceil(n / 2)], [n, 0]];
        for (const [start, len] of windows) {
          if (start + len > n) continue;
          gradcheck({
            name: `slice [${s}] axis ${axis} [${start}, ${start + len})`,
            inputs: [input(rng, s)],
            op: ([x]) => slice(x, axis, start, len),
            ref: ([x]) => sliceRef(x, s, axis, start, len),
            outShape: s.map((d, k) => (k === axis ? len : d)),
          });
        }
      }
    }
  });

  it('negative axis, Tensor.slice, and int dtypes', () => {
    const s = [3, 4];
    gradcheck({ name: 'x.slice(-1, 1, 2)', inputs: [input(rng, s)], op: ([x]) => x.slice(-1, 1, 2), ref: ([x]) => sliceRef(x, s, 1, 1, 2) });
    const u = tensor(Uint8Array.of(1, 2, 3, 4, 5, 6), { shape: [2, 3] });
    expect(slice(u, 1, 1, 2).toNested()).toEqual([[2, 3], [5, 6]]);
  });

  it('refuses windows outside the axis, naming the argument', () => {
    const x = tensor(new Float32Array(12), { shape: [3, 4] });
    expect(() => slice(x, 1, 3, 2)).toThrow('Expected an integer from 0 to 1 for length but received 2 of type number');
    expect(() => slice(x, 0, 4, 0)).toThrow('Expected an integer from 0 to 3 for start but received 4 of type number');
    expect(() => slice(x, 2, 0, 1)).toThrow(ArgumentError);
  });
});

describe('indexSelect (gradcheck)', () => {
  const makeIndex = (ids: number[], shape: number[], dtype: 'int32' | 'int64') =>
    dtype === 'int32' ? tensor(Int32Array.from(ids), { shape }) : tensor(BigInt64Array.from(ids.map(BigInt)), { shape });

  /** Reference gather: out[i, :] = table[ids[i], :]. */
  const gatherRef = (t: Float64Array, cols: number, ids: number[]) => {
    const out = new Float64Array(ids.length * cols);
    ids.forEach((id, i) => out.set(t.subarray(id * cols, (id + 1) * cols), i * cols));
    return out;
  };

  for (const dtype of ['int32', 'int64'] as const) {
    it(`${dtype} ids: distinct, repeated (gradients accumulate), 2-D index, 1-D and 3-D tables`, () => {
      const cases: [number[], number[], number[]][] = [
        // table shape, ids, index shape
        [[6, 4], [3, 0, 5], [3]],
        [[6, 4], [2, 2, 2, 1, 2], [5]],
        [[7, 3], [6, 0, 6, 1, 0, 6], [2, 3]],
        [[5], [4, 4, 0], [3]],
        [[4, 2, 3], [1, 3, 1], [3]],
        [[9, 33], [8, 1, 8, 8], [4]],
        [[3, 2], [], [0]],
      ];
      for (const [ts, ids, is] of cases) {
        const cols = numel(ts.slice(1));
        gradcheck({
          name: `indexSelect table [${ts}] ${dtype} ids [${ids}]`,
          inputs: [input(rng, ts)],
          op: ([t]) => indexSelect(t, makeIndex(ids, is, dtype)),
          ref: ([t]) => gatherRef(t, cols, ids),
          outShape: [...is, ...ts.slice(1)],
        });
      }
    });
  }

  it('a repeated id accumulates exactly n·g into its row', () => {
    const table = tensor(rand(rng, 8), { shape: [4, 2], requiresGrad: true });
    const y = indexSelect(table, tensor(Int32Array.of(3, 3, 3, 1)));
    y.backward(tensor([[1, 2], [1, 2], [1, 2], [5, 7]]));
    expect(table.grad!.toNested()).toEqual([[0, 0], [5, 7], [0, 0], [3, 6]]);
  });

  it('gathers int64 and uint8 tables exactly (Tensor.indexSelect)', () => {
    const t = tensor(BigInt64Array.of(10n, 2n ** 50n, -3n), { shape: [3] });
    expect(Array.from(t.indexSelect(tensor(Int32Array.of(1, 1, 2))).toArraySync() as BigInt64Array)).toEqual([2n ** 50n, 2n ** 50n, -3n]);
    const u = tensor(Uint8Array.of(1, 2, 3, 4), { shape: [2, 2] });
    expect(indexSelect(u, tensor(BigInt64Array.of(1n, 0n))).toNested()).toEqual([[3, 4], [1, 2]]);
  });

  it('out-of-range ids throw ERR_GATEWISE_ARGUMENT (int32 and int64, too large and negative)', () => {
    const table = tensor(rand(rng, 12), { shape: [4, 3] });
    const bad: Tensor[] = [
      tensor(Int32Array.of(0, 4)),
      tensor(Int32Array.of(-1)),
      tensor(BigInt64Array.of(1n, 2n, 4n)),
      tensor(BigInt64Array.of(-(2n ** 40n))),
      tensor(BigInt64Array.of(2n ** 32n)),
    ];
    for (const idx of bad) {
      let err: unknown;
      try {
        indexSelect(table, idx);
      } catch (e) {
        err = e;
      }
      expect(err, `ids ${idx.toString()}`).toBeInstanceOf(GatewiseError);
      expect((err as GatewiseError).code).toBe('ERR_GATEWISE_ARGUMENT');
    }
  });

  it('refuses float ids and a 0-D table', () => {
    const table = tensor(rand(rng, 6), { shape: [3, 2] });
    expect(() => indexSelect(table, tensor([0, 1]))).toThrow('Expected an int32 or int64 tensor for index but received float32');
    expect(() => indexSelect(tensor(rand(rng, 1), { shape: [] }), tensor(Int32Array.of(0)))).toThrow(ShapeError);
  });
});

describe('views: reshape and narrow share storage', () => {
  it('writing through a narrow view changes the base', () => {
    const base = tensor(Float32Array.from({ length: 12 }, (_, i) => i), { shape: [4, 3] });
    const v = base.narrow(1, 2);
    expect(v.shape).toEqual([2, 3]);
    expect(v.toNested()).toEqual([[3, 4, 5], [6, 7, 8]]);
    v.copyFrom(tensor([[-1, -2, -3], [-4, -5, -6]]));
    expect(base.toNested()).toEqual([[0, 1, 2], [-1, -2, -3], [-4, -5, -6], [9, 10, 11]]);
    // and writes to the base show through the view
    base.copyFrom(tensor(new Float32Array(12).fill(7), { shape: [4, 3] }));
    expect(v.toNested()).toEqual([[7, 7, 7], [7, 7, 7]]);
  });

  it('writing through a reshape view (and a view of a view) changes the base', () => {
    const base = tensor(Float32Array.from({ length: 24 }, (_, i) => i), { shape: [2, 3, 4] });
    const r = base.reshape(6, -1);
    expect(r.shape).toEqual([6, 4]);
    const rr = r.narrow(5, 1).view([4]);
    rr.copyFrom(tensor([100, 101, 102, 103]));
    expect(Array.from(base.toArraySync() as Float32Array).slice(20)).toEqual([100, 101, 102, 103]);
    base.flatten().narrow(0, 2).copyFrom(tensor([-1, -2]));
    expect(base.toNested()).toEqual([
      [[-1, -2, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]],
      [[12, 13, 14, 15], [16, 17, 18, 19], [100, 101, 102, 103]],
    ]);
  });

  it('narrow and reshape pass gradients through (gradcheck)', () => {
    const s = [5, 3, 2];
    gradcheck({ name: 'narrow(1, 3)', inputs: [input(rng, s)], op: ([x]) => x.narrow(1, 3), ref: ([x]) => x.slice(6, 24), outShape: [3, 3, 2] });
    gradcheck({ name: 'narrow(0, 0)', inputs: [input(rng, s)], op: ([x]) => x.narrow(0, 0).reshape(0), ref: () => new Float64Array(0) });
    gradcheck({ name: 'reshape(3, -1)', inputs: [input(rng, s)], op: ([x]) => x.reshape(3, -1), ref: ([x]) => x, outShape: [3, 10] });
    gradcheck({
      name: 'reshape → narrow → mul',
      inputs: [input(rng, s)],
      op: ([x]) => x.reshape([10, 3]).narrow(2, 5).mul(x.reshape(30).narrow(0, 15).reshape(5, 3)),
      ref: ([x]) => Float64Array.from({ length: 15 }, (_, i) => x[6 + i] * x[i]),
    });
  });

  it('refuses bad shapes and windows', () => {
    const x = tensor(new Float32Array(12), { shape: [4, 3] });
    expect(() => x.reshape(5, -1)).toThrow(ShapeError);
    expect(() => x.reshape(-1, -1)).toThrow(ArgumentError);
    expect(() => x.narrow(3, 2)).toThrow('Expected an integer from 0 to 1 for length but received 2 of type number');
  });
});
