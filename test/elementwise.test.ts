import { describe, expect, it } from 'vitest';
import {
  abs,
  add,
  affine,
  ArgumentError,
  clamp,
  cos,
  countNonFinite,
  div,
  exp,
  log,
  maximum,
  minimum,
  mul,
  neg,
  pow,
  powScalar,
  reciprocal,
  Rng,
  rsqrt,
  ShapeError,
  sin,
  sqrt,
  square,
  sub,
  tensor,
  Tensor,
} from '../lib';
import { broadcastBinary, broadcastShape, gradcheck, input, numel, rand } from './gradcheck';

const rng = new Rng(7);

/** Shape pairs covering every broadcast path: same shape, bias row, column, scalar, 3-D, both sides broadcast. */
const SHAPES: [number[], number[]][] = [
  [[3, 5], [3, 5]],
  [[13], [13]],
  [[4, 7], [7]],
  [[7], [4, 7]],
  [[4, 7], [4, 1]],
  [[4, 1], [4, 7]],
  [[3, 5], []],
  [[], [3, 5]],
  [[], []],
  [[2, 3, 5], [2, 3, 5]],
  [[2, 3, 5], [3, 1]],
  [[2, 1, 5], [3, 1]],
  [[1, 3, 1], [2, 1, 5]],
  [[2, 3, 5], [1]],
];

type BinFn = (a: Tensor | number, b: Tensor | number) => Tensor;
interface BinCase {
  fn: BinFn;
  f: (a: number, b: number) => number;
  /** Inputs for a and b. */
  gen: (n: number, which: 'a' | 'b') => Float64Array;
}

/** Values k·0.02 + 0.005 for a and k·0.02 + 0.015 for b: a − b is never within 0.01 of 0 (no max/min ties). */
const tieFree = (n: number, which: 'a' | 'b') =>
  Float64Array.from({ length: n }, () => Math.fround((rng.int(101) - 50) * 0.02 + (which === 'a' ? 0.005 : 0.015)));

const BINARY: Record<string, BinCase> = {
  add: { fn: add, f: (a, b) => a + b, gen: (n) => rand(rng, n, { lo: -2, hi: 2 }) },
  sub: { fn: sub, f: (a, b) => a - b, gen: (n) => rand(rng, n, { lo: -2, hi: 2 }) },
  mul: { fn: mul, f: (a, b) => a * b, gen: (n) => rand(rng, n, { lo: -2, hi: 2 }) },
  div: { fn: div, f: (a, b) => a / b, gen: (n, w) => rand(rng, n, w === 'b' ? { lo: -2, hi: 2, minAbs: 0.5 } : { lo: -2, hi: 2 }) },
  maximum: { fn: maximum, f: Math.max, gen: tieFree },
  minimum: { fn: minimum, f: Math.min, gen: tieFree },
  pow: { fn: pow, f: Math.pow, gen: (n, w) => (w === 'a' ? rand(rng, n, { lo: 0.3, hi: 2 }) : rand(rng, n, { lo: -2.5, hi: 2.5 })) },
};

describe('binary ops with broadcasting (gradcheck)', () => {
  for (const [name, c] of Object.entries(BINARY)) {
    it(`${name} on ${SHAPES.length} shape pairs`, () => {
      for (const [sa, sb] of SHAPES) {
        gradcheck({
          name: `${name} [${sa}] [${sb}]`,
          inputs: [
            { data: c.gen(numel(sa), 'a'), shape: sa },
            { data: c.gen(numel(sb), 'b'), shape: sb },
          ],
          op: ([a, b]) => c.fn(a, b),
          ref: ([a, b]) => broadcastBinary(a, sa, b, sb, c.f),
          outShape: broadcastShape(sa, sb),
        });
      }
    });
  }

  it('gradients reach only the operand that requires them', () => {
    const sa = [3, 4];
    const sb = [4];
    gradcheck({
      name: 'mul, b constant',
      inputs: [input(rng, sa), input(rng, sb, { grad: false })],
      op: ([a, b]) => mul(a, b),
      ref: ([a, b]) => broadcastBinary(a, sa, b, sb, (x, y) => x * y),
    });
    gradcheck({
      name: 'div, a constant',
      inputs: [input(rng, sa, { grad: false }), input(rng, sb, { minAbs: 0.5 })],
      op: ([a, b]) => div(a, b),
      ref: ([a, b]) => broadcastBinary(a, sa, b, sb, (x, y) => x / y),
    });
  });

  it('the same tensor on both sides accumulates both gradients', () => {
    const s = [5, 3];
    gradcheck({ name: 'mul(x, x)', inputs: [input(rng, s)], op: ([x]) => mul(x, x), ref: ([x]) => x.map((v) => v * v) });
    gradcheck({ name: 'sub(x, x)', inputs: [input(rng, s)], op: ([x]) => sub(x, x), ref: ([x]) => x.map(() => 0) });
    gradcheck({
      name: 'x·x + x / (x·x)',
      inputs: [input(rng, s, { minAbs: 0.3 })],
      op: ([x]) => add(mul(x, x), div(x, mul(x, x))),
      ref: ([x]) => x.map((v) => v * v + v / (v * v)),
    });
  });

  it('pow sends 0 to the exponent where the base is 0 and the exponent ≥ 0, and a finite base gradient', () => {
    const a = tensor([0, 0, 2], { requiresGrad: true });
    const b = tensor([2, 3, 0], { requiresGrad: true });
    const y = pow(a, b);
    expect(Array.from(y.toArraySync() as Float32Array)).toEqual([0, 0, 1]);
    y.backward(tensor([1, 1, 1]));
    expect(Array.from(a.grad!.toArraySync() as Float32Array)).toEqual([0, 0, 0]);
    expect(Array.from(b.grad!.toArraySync() as Float32Array)).toEqual([0, 0, Math.fround(Math.log(2))]);
  });

  it('maximum/minimum ties send the gradient to a', () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([1, 2, 3], { requiresGrad: true });
    maximum(a, b).backward(tensor([1, 2, 3]));
    expect(Array.from(a.grad!.toArraySync() as Float32Array)).toEqual([1, 2, 3]);
    expect(Array.from(b.grad!.toArraySync() as Float32Array)).toEqual([0, 0, 0]);
    const c = tensor([5], { requiresGrad: true });
    const d = tensor([5], { requiresGrad: true });
    minimum(c, d).backward(tensor([4]));
    expect(c.grad!.item()).toBe(4);
    expect(d.grad!.item()).toBe(0);
  });

  it('maximum/minimum propagate NaN', () => {
    const a = tensor([NaN, 1, 2]);
    const b = tensor([1, NaN, 0]);
    const mx = Array.from(maximum(a, b).toArraySync() as Float32Array);
    const mn = Array.from(minimum(a, b).toArraySync() as Float32Array);
    expect(mx.map(Number.isNaN)).toEqual([true, true, false]);
    expect(mn.map(Number.isNaN)).toEqual([true, true, false]);
  });

  it('rejects shapes that do not broadcast, naming both', () => {
    expect(() => add(tensor(new Float32Array(12), { shape: [3, 4] }), tensor(new Float32Array(5)))).toThrow(ShapeError);
    expect(() => mul(tensor(new Float32Array(6), { shape: [2, 3] }), tensor(new Float32Array(2), { shape: [2] }))).toThrow('shapes [2,3] of a and [2] of b cannot be broadcast together');
  });
});

describe('number operands (gradcheck)', () => {
  const s = [3, 7];
  const cases: [string, (x: Tensor) => Tensor, (v: number) => number, { minAbs?: number; lo?: number; hi?: number }?][] = [
    ['x + 2.5', (x) => add(x, 2.5), (v) => v + 2.5],
    ['2.5 + x', (x) => add(2.5, x), (v) => 2.5 + v],
    ['x − 1.5', (x) => sub(x, 1.5), (v) => v - 1.5],
    ['1.5 − x', (x) => sub(1.5, x), (v) => 1.5 - v],
    ['x · −3', (x) => mul(x, -3), (v) => v * -3],
    ['−3 · x', (x) => mul(-3, x), (v) => -3 * v],
    ['x / 4', (x) => div(x, 4), (v) => v / 4],
    ['4 / x', (x) => div(4, x), (v) => 4 / v, { minAbs: 0.5 }],
    ['x ^ 2.5', (x) => pow(x, 2.5), (v) => v ** 2.5, { lo: 0.2, hi: 2 }],
    ['1.7 ^ x', (x) => pow(1.7, x), (v) => 1.7 ** v],
    ['maximum(x, 0.3)', (x) => maximum(x, 0.31), (v) => Math.max(v, Math.fround(0.31))],
    ['minimum(0.3, x)', (x) => minimum(0.31, x), (v) => Math.min(Math.fround(0.31), v)],
    ['x.add(1).mul(2).sub(x)', (x) => x.add(1).mul(2).sub(x), (v) => (v + 1) * 2 - v],
  ];
  for (const [name, op, f, o] of cases) {
    it(name, () => {
      // keep maximum/minimum away from the tie at 0.31
      const data = rand(rng, numel(s), o).map((v) => (Math.abs(v - 0.31) < 0.02 ? v + 0.05 : v));
      gradcheck({ name, inputs: [{ data, shape: s }], op: ([x]) => op(x), ref: ([x]) => x.map(f), outShape: s });
    });
  }

  it('rejects non-finite numbers, naming the operand', () => {
    const x = tensor([1, 2]);
    expect(() => add(x, NaN)).toThrow('Expected a finite number for b but received NaN of type number');
    expect(() => mul(Infinity, x)).toThrow('Expected a finite number for a but received Infinity of type number');
    expect(() => add(x, 'a' as never)).toThrow(ArgumentError);
  });
});

describe('unary ops (gradcheck)', () => {
  const shapes = [[], [7], [3, 5], [2, 3, 4]];
  const pos = { lo: 0.2, hi: 3 };
  const cases: [string, (x: Tensor) => Tensor, (v: number) => number, { minAbs?: number; lo?: number; hi?: number }?][] = [
    ['neg', neg, (v) => -v],
    ['exp', exp, Math.exp, { lo: -3, hi: 3 }],
    ['log', log, Math.log, pos],
    ['sqrt', sqrt, Math.sqrt, pos],
    ['rsqrt', rsqrt, (v) => 1 / Math.sqrt(v), pos],
    ['abs', abs, Math.abs],
    ['square', square, (v) => v * v, { lo: -3, hi: 3 }],
    ['reciprocal', reciprocal, (v) => 1 / v, { minAbs: 0.3, lo: -3, hi: 3 }],
    ['sin', sin, Math.sin, { lo: -4, hi: 4 }],
    ['cos', cos, Math.cos, { lo: -4, hi: 4 }],
    ['affine(x, −1.5, 0.25)', (x) => affine(x, -1.5, 0.25), (v) => v * -1.5 + 0.25],
    ['affine(x, 0, 3)', (x) => affine(x, 0, 3), () => 3],
    ['powScalar(x, 3)', (x) => powScalar(x, 3), (v) => v ** 3],
    ['powScalar(x, 2)', (x) => powScalar(x, 2), (v) => v ** 2],
    ['powScalar(x, 0.5)', (x) => powScalar(x, 0.5), Math.sqrt, pos],
    ['powScalar(x, −1.5)', (x) => powScalar(x, -1.5), (v) => v ** -1.5, pos],
    ['powScalar(x, 0)', (x) => powScalar(x, 0), () => 1],
    ['Tensor methods: x.square().sqrt().neg().exp().log().abs()', (x) => x.square().sqrt().neg().exp().log().abs(), Math.abs],
  ];
  for (const [name, op, f, o] of cases) {
    it(name, () => {
      for (const s of shapes) {
        gradcheck({ name: `${name} [${s}]`, inputs: [input(rng, s, o)], op: ([x]) => op(x), ref: ([x]) => x.map(f), outShape: s });
      }
    });
  }

  it('abs has gradient 0 at 0', () => {
    const x = tensor([0, -2, 3], { requiresGrad: true });
    abs(x).backward(tensor([5, 5, 5]));
    expect(Array.from(x.grad!.toArraySync() as Float32Array)).toEqual([0, -5, 5]);
  });

  describe('clamp', () => {
    const lo = -0.4;
    const hi = 0.6;
    /** Values away from the bounds by at least 0.02 (the gradient is a step there). */
    const away = (n: number) => rand(rng, n).map((v) => (Math.abs(v - lo) < 0.02 || Math.abs(v - hi) < 0.02 ? v + 0.05 : v));
    const bounds: [number | null, number | null][] = [
      [lo, hi],
      [null, hi],
      [lo, null],
      [null, null],
      [0.2, 0.2],
    ];
    for (const [l, u] of bounds) {
      it(`clamp(x, ${l}, ${u})`, () => {
        for (const s of [[9], [4, 6], [2, 3, 5]]) {
          const L = l === null ? -Infinity : Math.fround(l);
          const U = u === null ? Infinity : Math.fround(u);
          gradcheck({
            name: `clamp(${l}, ${u}) [${s}]`,
            inputs: [{ data: away(numel(s)).map((v) => (Math.abs(v - 0.2) < 0.02 ? v + 0.05 : v)), shape: s }],
            op: ([x]) => clamp(x, l, u),
            ref: ([x]) => x.map((v) => Math.min(Math.max(v, L), U)),
          });
        }
      });
    }

    it('passes the gradient at the bounds themselves, keeps NaN, and checks lo ≤ hi', () => {
      const x = tensor([-1, 0, 1, NaN], { requiresGrad: true });
      const y = clamp(x, 0, 1);
      const v = Array.from(y.toArraySync() as Float32Array);
      expect(v.slice(0, 3)).toEqual([0, 0, 1]);
      expect(Number.isNaN(v[3])).toBe(true);
      y.backward(tensor([1, 1, 1, 1]));
      expect(Array.from(x.grad!.toArraySync() as Float32Array).slice(0, 3)).toEqual([0, 1, 1]);
      expect(() => clamp(x, 1, 0)).toThrow('Expected a bound no greater than hi (0) for lo but received 1 of type number');
      expect(() => clamp(x, NaN, 1)).toThrow('Expected a finite number for lo');
    });
  });
});

describe('countNonFinite', () => {
  it('counts NaN and ±Inf over sizes that exercise the vector tail', () => {
    for (const n of [0, 1, 7, 16, 1000, 4099]) {
      const a = new Float32Array(n);
      let want = 0;
      for (let i = 0; i < n; ++i) {
        const u = rng.uniform();
        if (u < 0.05) a[i] = NaN;
        else if (u < 0.08) a[i] = Infinity;
        else if (u < 0.1) a[i] = -Infinity;
        else a[i] = rng.uniform() * 2e38 - 1e38;
        if (!Number.isFinite(a[i])) ++want;
      }
      if (n > 0) {
        a[n - 1] = NaN;
        want = Array.from(a).filter((v) => !Number.isFinite(v)).length;
      }
      expect(countNonFinite(tensor(a)), `n = ${n}`).toBe(want);
    }
  });

  it('is 0 for finite values, including the largest float32', () => {
    expect(countNonFinite(tensor(new Float32Array([3.4028234663852886e38, -3.4028234663852886e38, 0, -0, 1e-45])))).toBe(0);
  });

  it('counts the values of a 3-D tensor and rejects non-float32 input', () => {
    const a = new Float32Array(2 * 3 * 5).fill(1);
    a[4] = a[17] = a[29] = -Infinity;
    expect(countNonFinite(tensor(a, { shape: [2, 3, 5] }))).toBe(3);
    expect(() => countNonFinite(tensor([1, 2], { dtype: 'int32' }))).toThrow('Expected a float32 tensor for x but received int32');
  });
});

describe('gradcheck itself', () => {
  it('catches a wrong forward and a wrong gradient, naming the worst element', () => {
    const s = [3, 4];
    const inputs = [input(rng, s, { minAbs: 0.3 })];
    expect(() => gradcheck({ name: 'square vs cube', inputs, op: ([x]) => square(x), ref: ([x]) => x.map((v) => v * v * v) })).toThrow(
      /square vs cube: forward: worst element \d+ \[\d+,\d+\]: got/,
    );
    // x·stop_gradient(x) has the forward of x² but the gradient x, not 2x.
    expect(() => gradcheck({ name: 'half gradient', inputs, op: ([x]) => mul(x, x.detach()), ref: ([x]) => x.map((v) => v * v) })).toThrow(
      /half gradient: gradient of input 0 \(shape \[3,4\]\): worst element/,
    );
    expect(() => gradcheck({ name: 'no gradient', inputs, op: ([x]) => x.detach().mul(1), ref: ([x]) => x })).toThrow(/backward\(\) was called on a tensor that does not require grad/);
  });
});
