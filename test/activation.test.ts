import { describe, expect, it } from 'vitest';
import { activation, gelu, leakyRelu, relu, Rng, sigmoid, tanh, tensor, Tensor } from '../lib';
import { erf, gradcheck, input, rand } from './gradcheck';

const rng = new Rng(21);

const geluRef = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
const SHAPES = [[], [1], [17], [4, 33], [2, 3, 5], [3, 129]];

describe('the float64 erf used as reference', () => {
  it('matches tabulated values to 1e-14 on both sides of the switch', () => {
    const table: [number, number][] = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [2.4, 0.9993114861033550],
      [2.6, 0.9997639655834707],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
    ];
    for (const [x, want] of table) {
      expect(Math.abs(erf(x) - want), `erf(${x})`).toBeLessThan(1e-14);
      expect(Math.abs(erf(-x) + want), `erf(${-x})`).toBeLessThan(1e-14);
    }
  });
});

describe('activations (gradcheck)', () => {
  const cases: [string, (x: Tensor) => Tensor, (v: number) => number, { lo?: number; hi?: number; minAbs?: number }][] = [
    ['relu', relu, (v) => Math.max(v, 0), { lo: -3, hi: 3 }],
    ['leakyRelu (default slope 0.01)', (x) => leakyRelu(x), (v) => (v > 0 ? v : Math.fround(0.01) * v), { lo: -3, hi: 3 }],
    ['leakyRelu slope 0.2', (x) => leakyRelu(x, 0.2), (v) => (v > 0 ? v : Math.fround(0.2) * v), { lo: -3, hi: 3 }],
    ['leakyRelu slope 0', (x) => leakyRelu(x, 0), (v) => Math.max(v, 0), { lo: -3, hi: 3 }],
    ['leakyRelu slope 1', (x) => leakyRelu(x, 1), (v) => v, { lo: -3, hi: 3 }],
    ['sigmoid', sigmoid, (v) => 1 / (1 + Math.exp(-v)), { lo: -8, hi: 8, minAbs: 0 }],
    ['tanh', tanh, Math.tanh, { lo: -4, hi: 4, minAbs: 0 }],
    ['gelu (exact erf)', gelu, geluRef, { lo: -5, hi: 5, minAbs: 0 }],
    ['activation(x, "identity")', (x) => activation(x, 'identity'), (v) => v, { minAbs: 0 }],
    ['activation(x, "leaky_relu", 0.3)', (x) => activation(x, 'leaky_relu', 0.3), (v) => (v > 0 ? v : Math.fround(0.3) * v), { lo: -3, hi: 3 }],
    ['Tensor methods x.relu(), x.sigmoid(), x.tanh(), x.gelu()', (x) => x.gelu().tanh().sigmoid().relu(), (v) => 1 / (1 + Math.exp(-Math.tanh(geluRef(v)))), { lo: -3, hi: 3 }],
  ];
  for (const [name, op, f, o] of cases) {
    it(name, () => {
      for (const s of SHAPES) {
        gradcheck({ name: `${name} [${s}]`, inputs: [input(rng, s, o)], op: ([x]) => op(x), ref: ([x]) => x.map(f), outShape: s });
      }
    });
  }

  it('gelu through its tails: large |x| gives x and 0 with finite gradients', () => {
    const x = tensor([-30, -10, 10, 30], { requiresGrad: true });
    const y = gelu(x);
    const v = Array.from(y.toArraySync() as Float32Array);
    expect(v[0]).toBeCloseTo(0, 12);
    expect(v[1]).toBeCloseTo(0, 12);
    expect(v[2]).toBe(10);
    expect(v[3]).toBe(30);
    y.backward(tensor([1, 1, 1, 1]));
    const g = Array.from(x.grad!.toArraySync() as Float32Array);
    // gelu′(x) = Φ(x) + x·φ(x): −7.7e-22 at −10, exactly 0 and 1 in float32 further out.
    expect(g.every(Number.isFinite)).toBe(true);
    expect(Math.abs(g[1])).toBeLessThan(1e-20);
    expect([g[0], g[2], g[3]]).toEqual([0, 1, 1]);
  });

  it('sigmoid and tanh saturate without NaN at ±100', () => {
    const x = tensor([-100, 100], { requiresGrad: true });
    const s = sigmoid(x);
    // σ(−100) = 3.72e-44: a subnormal float (as PyTorch gives) or 0, never NaN.
    const [lo, hi] = Array.from(s.toArraySync() as Float32Array);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(lo).toBeLessThan(1e-40);
    expect(hi).toBe(1);
    s.backward(tensor([1, 1]));
    for (const g of x.grad!.toArraySync() as Float32Array) {
      expect(g).toBeGreaterThanOrEqual(0);
      expect(g).toBeLessThan(1e-40);
    }
    const z = tensor([-100, 100], { requiresGrad: true });
    const t = tanh(z);
    expect(Array.from(t.toArraySync() as Float32Array)).toEqual([-1, 1]);
    t.backward(tensor([1, 1]));
    expect(Array.from(z.grad!.toArraySync() as Float32Array)).toEqual([0, 0]);
  });

  it('relu′(0) = 0 and leaky_relu′(0) = slope, as in PyTorch; relu keeps NaN', () => {
    const x = tensor([0, 0], { requiresGrad: true });
    relu(x).backward(tensor([3, 3]));
    expect(Array.from(x.grad!.toArraySync() as Float32Array)).toEqual([0, 0]);
    const z = tensor([0], { requiresGrad: true });
    leakyRelu(z, 0.25).backward(tensor([4]));
    expect(z.grad!.item()).toBe(1);
    expect(Number.isNaN(relu(tensor([NaN])).item())).toBe(true);
  });

  it('identity returns its input; bad activations and slopes are refused, naming them', () => {
    const x = tensor(rand(rng, 4));
    expect(activation(x, 'identity')).toBe(x);
    expect(() => activation(x, 'swish' as never)).toThrow("Expected one of 'identity', 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu' for act but received 'swish' of type string");
    expect(() => leakyRelu(x, -0.1)).toThrow('Expected a number from 0 to 1 for slope but received -0.1 of type number');
    expect(() => relu(tensor([1], { dtype: 'int32' }))).toThrow('Expected a float32 tensor for x but received int32');
  });
});
