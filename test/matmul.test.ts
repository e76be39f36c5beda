import { describe, expect, it } from 'vitest';
import { linear, matmul, Rng, tensor } from '../lib';
import type { Activation } from '../lib';
import { actRef, gradcheck, GradcheckInput, input, numel, rand } from './gradcheck';

const rng = new Rng(81);
/** Float32 dot products of length K: allow K·ε-sized absolute error. */
const TOL = { fwdTol: { atol: 1e-5, rtol: 1e-5 }, gradTol: { atol: 2e-5, rtol: 1e-4 } };

/** C = op(A)·op(B) for one item: A stored (M,K) or (K,M) when ta; B stored (K,N) or (N,K) when tb. */
function mm(a: Float64Array, b: Float64Array, m: number, k: number, n: number, ta: boolean, tb: boolean, c = new Float64Array(m * n), co = 0, ao = 0, bo = 0): Float64Array {
  for (let i = 0; i < m; ++i)
    for (let j = 0; j < n; ++j) {
      let s = 0;
      for (let p = 0; p < k; ++p) s += a[ao + (ta ? p * m + i : i * k + p)] * b[bo + (tb ? j * k + p : p * n + j)];
      c[co + i * n + j] = s;
    }
  return c;
}

/** Reference batched matmul: a and b are 2-D or 3-D, a 2-D operand shared across the batch. */
function matmulRef(a: Float64Array, as: number[], b: Float64Array, bs: number[], ta: boolean, tb: boolean): Float64Array {
  const [ar, ac] = as.slice(-2);
  const [br, bc] = bs.slice(-2);
  const [m, k] = ta ? [ac, ar] : [ar, ac];
  const n = tb ? br : bc;
  const batch = as.length === 3 ? as[0] : bs.length === 3 ? bs[0] : 0;
  if (!batch) return mm(a, b, m, k, n, ta, tb);
  const c = new Float64Array(batch * m * n);
  for (let i = 0; i < batch; ++i) mm(a, b, m, k, n, ta, tb, c, i * m * n, as.length === 3 ? i * m * k : 0, bs.length === 3 ? i * k * n : 0);
  return c;
}

const stored = (rows: number, cols: number, trans: boolean) => (trans ? [cols, rows] : [rows, cols]);
const TRANS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

describe('matmul (gradcheck)', () => {
  for (const [ta, tb] of TRANS) {
    it(`2-D, transA ${ta}, transB ${tb}`, () => {
      for (const [m, k, n] of [[3, 4, 5], [1, 7, 1], [5, 1, 3], [1, 1, 1], [17, 33, 9], [8, 16, 8]]) {
        const as = stored(m, k, ta);
        const bs = stored(k, n, tb);
        gradcheck({
          name: `matmul [${as}]${ta ? 'ᵀ' : ''} · [${bs}]${tb ? 'ᵀ' : ''}`,
          inputs: [input(rng, as), input(rng, bs)],
          op: ([a, b]) => matmul(a, b, { transA: ta, transB: tb }),
          ref: ([a, b]) => matmulRef(a, as, b, bs, ta, tb),
          outShape: [m, n],
          ...TOL,
        });
      }
    });

    it(`batched 3-D × 3-D, 3-D × 2-D and 2-D × 3-D, transA ${ta}, transB ${tb}`, () => {
      for (const [batch, m, k, n] of [[2, 3, 4, 5], [3, 1, 5, 2], [1, 4, 3, 1], [4, 7, 9, 6]]) {
        for (const [ra, rb] of [[3, 3], [3, 2], [2, 3]]) {
          const as = [...(ra === 3 ? [batch] : []), ...stored(m, k, ta)];
          const bs = [...(rb === 3 ? [batch] : []), ...stored(k, n, tb)];
          gradcheck({
            name: `matmul [${as}]${ta ? 'ᵀ' : ''} · [${bs}]${tb ? 'ᵀ' : ''}`,
            inputs: [input(rng, as), input(rng, bs)],
            op: ([a, b]) => matmul(a, b, { transA: ta, transB: tb }),
            ref: ([a, b]) => matmulRef(a, as, b, bs, ta, tb),
            outShape: [batch, m, n],
            ...TOL,
          });
        }
      }
    });
  }

  it('larger products with ragged register and cache tiles, every transpose combination (sampled finite differences)', () => {
    for (const [batch, m, k, n] of [[0, 67, 33, 129], [0, 130, 70, 7], [0, 5, 257, 3], [2, 31, 17, 45]]) {
      for (const [ta, tb] of TRANS) {
        const as = [...(batch ? [batch] : []), ...stored(m, k, ta)];
        const bs = stored(k, n, tb);
        gradcheck({
          name: `matmul [${as}]${ta ? 'ᵀ' : ''} · [${bs}]${tb ? 'ᵀ' : ''}`,
          inputs: [input(rng, as), input(rng, bs)],
          op: ([a, b]) => matmul(a, b, { transA: ta, transB: tb }),
          ref: ([a, b]) => matmulRef(a, as, b, bs, ta, tb),
          outShape: batch ? [batch, m, n] : [m, n],
          fwdTol: { atol: 3e-5, rtol: 1e-5 },
          gradTol: { atol: 1e-4, rtol: 1e-4 },
          maxFdElements: 12,
        });
      }
    }
  });

  it('gradient to one operand only; x·x (the same tensor twice); Tensor.matmul', () => {
    const s = [4, 4];
    gradcheck({ name: 'a const', inputs: [input(rng, [3, 4], { grad: false }), input(rng, [4, 2])], op: ([a, b]) => matmul(a, b), ref: ([a, b]) => matmulRef(a, [3, 4], b, [4, 2], false, false), ...TOL });
    gradcheck({ name: 'b const', inputs: [input(rng, [2, 3, 4]), input(rng, [4, 2], { grad: false })], op: ([a, b]) => matmul(a, b), ref: ([a, b]) => matmulRef(a, [2, 3, 4], b, [4, 2], false, false), ...TOL });
    gradcheck({ name: 'x·xᵀ', inputs: [input(rng, s)], op: ([x]) => matmul(x, x, { transB: true }), ref: ([x]) => matmulRef(x, s, x, s, false, true), ...TOL });
    gradcheck({ name: 'x.matmul(x)', inputs: [input(rng, s)], op: ([x]) => x.matmul(x), ref: ([x]) => matmulRef(x, s, x, s, false, false), ...TOL });
  });

  it('refuses mismatched shapes, naming them', () => {
    const a = tensor(new Float32Array(6), { shape: [2, 3] });
    expect(() => matmul(a, a)).toThrow('matmul: inner dimensions differ: op(a) is [2, 3] and op(b) is [2, 3]');
    expect(() => matmul(tensor(new Float32Array(12), { shape: [2, 2, 3] }), tensor(new Float32Array(9), { shape: [3, 3, 1] }))).toThrow('matmul: batch sizes differ: 2 and 3');
    expect(() => matmul(tensor(new Float32Array(3)), a)).toThrow('Expected a 2-D or 3-D tensor for a but received shape [3]');
    expect(() => matmul(a, a, { transA: 1 as never })).toThrow('Expected a boolean for options.transA');
    expect(() => matmul(a, tensor(new Int32Array(6), { shape: [3, 2] }))).toThrow('Expected a float32 tensor for b but received int32');
  });
});

const ACTS: Activation[] = ['identity', 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu'];
/** y = act(x·Wᵀ + b) over the rows of x (..., in). */
function linearRef(x: Float64Array, w: Float64Array, b: Float64Array | null, inF: number, outF: number, act: Activation): Float64Array {
  const rows = x.length / inF;
  const y = mm(x, w, rows, inF, outF, false, true);
  return y.map((v, i) => actRef[act](v + (b ? b[i % outF] : 0)));
}

/**
 * Inputs whose pre-activations stay away from relu's kink (rejection sampling for small
 * shapes; larger ones, checked at a few sampled elements, only need the finite-difference
 * step to stay clear of it).
 */
function linearInputs(xs: number[], outF: number, withBias: boolean): GradcheckInput[] {
  const inF = xs[xs.length - 1];
  const margin = numel(xs) * outF > 1000 ? 1e-4 : 0.02;
  for (let tries = 0; tries < 1000; ++tries) {
    const x = rand(rng, numel(xs));
    const w = rand(rng, outF * inF);
    const b = withBias ? rand(rng, outF) : null;
    const z = linearRef(x, w, b, inF, outF, 'identity');
    if (z.every((v) => Math.abs(v) > margin)) {
      const inputs: GradcheckInput[] = [
        { data: x, shape: xs },
        { data: w, shape: [outF, inF] },
      ];
      if (b) inputs.push({ data: b, shape: [outF] });
      return inputs;
    }
  }
  throw new Error('linearInputs: no kink-free draw');
}

describe('linear: x·Wᵀ + b with a fused activation (gradcheck)', () => {
  for (const act of ACTS) {
    it(`act '${act}', with and without bias, x of rank 1, 2 and 3`, () => {
      for (const [xs, outF] of [[[5, 3], 4], [[1, 6], 1], [[2, 3, 4], 5], [[3, 1, 7], 2], [[4], 3], [[9, 17], 6]] as [number[], number][]) {
        for (const withBias of [true, false]) {
          const inF = xs[xs.length - 1];
          gradcheck({
            name: `linear ${act} x [${xs}] W [${outF}, ${inF}] bias ${withBias}`,
            inputs: linearInputs(xs, outF, withBias),
            op: ([x, w, b]) => linear(x, w, b ?? null, act),
            ref: ([x, w, b]) => linearRef(x, w, b ?? null, inF, outF, act),
            outShape: [...xs.slice(0, -1), outF],
            ...TOL,
          });
        }
      }
    });
  }

  it('larger shapes through the packed kernels and the epilogue (sampled finite differences)', () => {
    for (const act of ['gelu', 'leaky_relu', 'sigmoid'] as Activation[]) {
      const xs = [3, 37, 65];
      const outF = 70;
      gradcheck({
        name: `linear ${act} x [${xs}] W [${outF}, 65]`,
        inputs: linearInputs(xs, outF, true),
        op: ([x, w, b]) => linear(x, w, b, act),
        ref: ([x, w, b]) => linearRef(x, w, b, 65, outF, act),
        fwdTol: { atol: 3e-5, rtol: 1e-5 },
        gradTol: { atol: 1e-4, rtol: 1e-4 },
        maxFdElements: 8,
      });
    }
  });

  it('the default activation is identity; x alone needing a gradient', () => {
    const [x, w, b] = linearInputs([3, 4], 2, true);
    gradcheck({ name: 'linear default', inputs: [x, w, b], op: ([xt, wt, bt]) => linear(xt, wt, bt), ref: ([xv, wv, bv]) => linearRef(xv, wv, bv, 4, 2, 'identity'), ...TOL });
    gradcheck({
      name: 'linear, W and b constant',
      inputs: [x, { ...w, grad: false }, { ...b, grad: false }],
      op: ([xt, wt, bt]) => linear(xt, wt, bt, 'tanh'),
      ref: ([xv, wv, bv]) => linearRef(xv, wv, bv, 4, 2, 'tanh'),
      ...TOL,
    });
  });

  it('refuses bad shapes and activations, naming them', () => {
    const x = tensor(new Float32Array(6), { shape: [2, 3] });
    const w = tensor(new Float32Array(12), { shape: [4, 3] });
    expect(() => linear(x, tensor(new Float32Array(12), { shape: [3, 4] }))).toThrow('Expected shape [..., 4] for x but received [2,3]');
    expect(() => linear(x, tensor(new Float32Array(3)))).toThrow('Expected a 2-D tensor (out, in) for weight but received shape [3]');
    expect(() => linear(x, w, tensor(new Float32Array(3)))).toThrow('Expected shape [4] for bias but received [3]');
    expect(() => linear(x, w, null, 'softmax' as never)).toThrow("Expected one of 'identity', 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu' for act but received 'softmax' of type string");
  });
});
