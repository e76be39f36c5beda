import { describe, expect, it } from 'vitest';
import { bceWithLogits, countNonFinite, mse, Rng, ShapeError, tensor } from '../lib';
import type { Reduction } from '../lib';
import { gradcheck, GradcheckInput, input, numel, rand } from './gradcheck';

const rng = new Rng(71);

const softplus = (t: number) => Math.max(t, 0) + Math.log1p(Math.exp(-Math.abs(t)));
const bce = (pw: number) => (z: number, y: number) => (1 - y) * softplus(z) + pw * y * softplus(-z);
const sqErr = (z: number, y: number) => (z - y) ** 2;

/** ℓ_i = w_i·f(z_i, y_i), reduced: none, Σ, or Σ / (Σ w or n) with 0 for a zero denominator. */
function lossRef(f: (z: number, y: number) => number, z: Float64Array, y: Float64Array, w: Float64Array | null, red: Reduction): Float64Array {
  const l = z.map((zi, i) => (w ? w[i] : 1) * f(zi, y[i]));
  if (red === 'none') return l;
  const total = l.reduce((a, b) => a + b, 0);
  if (red === 'sum') return Float64Array.of(total);
  const d = w ? w.reduce((a, b) => a + b, 0) : z.length;
  return Float64Array.of(d === 0 ? 0 : total / d);
}

const SHAPES = [[1], [7], [4, 5], [2, 3, 4], [3, 67]];
const REDUCTIONS: Reduction[] = ['mean', 'sum', 'none'];

/** Targets: hard 0/1 labels or soft labels in [0, 1]. */
const labels = (n: number, soft: boolean) => Float64Array.from({ length: n }, () => (soft ? Math.fround(rng.uniform()) : rng.uniform() < 0.4 ? 1 : 0));
/** Weights: a 0/1 label mask, or positive weights. */
const weights = (n: number, kind: 'mask' | 'positive') =>
  Float64Array.from({ length: n }, () => (kind === 'mask' ? (rng.uniform() < 0.7 ? 1 : 0) : Math.fround(0.1 + 2 * rng.uniform())));

const constant = (data: Float64Array, shape: number[]): GradcheckInput => ({ data, shape, grad: false });

describe('bceWithLogits (gradcheck)', () => {
  for (const reduction of REDUCTIONS) {
    it(`reduction '${reduction}': hard and soft labels, no weight / 0-1 mask / positive weights, posWeight 1, 3, 0.25`, () => {
      for (const s of SHAPES) {
        const n = numel(s);
        for (const soft of [false, true]) {
          for (const wk of [null, 'mask', 'positive'] as const) {
            for (const posWeight of [1, 3, 0.25]) {
              const w = wk ? weights(n, wk) : null;
              const inputs = [input(rng, s, { lo: -6, hi: 6, minAbs: 0 }), constant(labels(n, soft), s)];
              if (w) inputs.push(constant(w, s));
              gradcheck({
                name: `bce ${reduction} [${s}] soft ${soft} weight ${wk} posWeight ${posWeight}`,
                inputs,
                op: ([z, y, wt]) => bceWithLogits(z, y, { weight: wt ?? null, reduction, posWeight: posWeight === 1 && !wk ? undefined : posWeight }),
                ref: ([z, y, wt]) => lossRef(bce(posWeight), z, y, wt ?? null, reduction),
                outShape: reduction === 'none' ? s : [],
              });
            }
          }
        }
      }
    });
  }

  it('the default reduction is the mean', () => {
    const z = rand(rng, 10, { lo: -3, hi: 3 });
    const y = labels(10, false);
    gradcheck({ name: 'bce default', inputs: [input(rng, [10]), constant(y, [10])], op: ([a, b]) => bceWithLogits(a, b), ref: ([a, b]) => lossRef(bce(1), a, b, null, 'mean') });
    expect(bceWithLogits(tensor(Float32Array.from(z)), tensor(Float32Array.from(y))).shape).toEqual([]);
  });

  it('extreme logits ±50 (and ±1e4) give finite losses and gradients equal to the reference', () => {
    const zs = [50, -50, 50, -50, 1e4, -1e4, 30, -30];
    const ys = [1, 0, 0, 1, 0, 1, 0.5, 0.5];
    for (const reduction of REDUCTIONS) {
      for (const posWeight of [1, 2]) {
        const res = gradcheck({
          name: `bce extreme ${reduction} pw ${posWeight}`,
          inputs: [{ data: zs, shape: [8] }, constant(Float64Array.from(ys), [8])],
          op: ([z, y]) => bceWithLogits(z, y, { reduction, posWeight }),
          ref: ([z, y]) => lossRef(bce(posWeight), z, y, null, reduction),
          fwdTol: { atol: 1e-6, rtol: 1e-6 },
          h: 1e-3,
        });
        expect(res.out.every(Number.isFinite)).toBe(true);
        expect(res.grads[0]!.every(Number.isFinite)).toBe(true);
      }
    }
  });

  it('a mean over all-zero weights is 0 with a zero gradient', () => {
    const z = tensor(rand(rng, 5), { requiresGrad: true });
    const y = tensor(Float32Array.from(labels(5, false)));
    const l = bceWithLogits(z, y, { weight: tensor(new Float32Array(5)) });
    expect(l.item()).toBe(0);
    l.backward();
    expect(countNonFinite(z.grad!)).toBe(0);
    expect(Array.from(z.grad!.toArraySync() as Float32Array).every((v) => v === 0)).toBe(true);
  });

  it('refuses mismatched shapes and bad options, naming them', () => {
    const z = tensor(new Float32Array(6), { shape: [2, 3] });
    expect(() => bceWithLogits(z, tensor(new Float32Array(6)))).toThrow('Expected shape [2,3] for target but received [6]');
    expect(() => bceWithLogits(z, z, { weight: tensor(new Float32Array(3)) })).toThrow(ShapeError);
    expect(() => bceWithLogits(z, z, { reduction: 'avg' as never })).toThrow("Expected one of 'mean', 'sum', 'none' for options.reduction but received 'avg' of type string");
    expect(() => bceWithLogits(z, z, { posWeight: Infinity })).toThrow('Expected a finite number for options.posWeight');
    expect(() => bceWithLogits(tensor(new Int32Array(6), { shape: [2, 3] }), z)).toThrow('Expected a float32 tensor for logits but received int32');
  });
});

describe('mse (gradcheck)', () => {
  for (const reduction of REDUCTIONS) {
    it(`reduction '${reduction}': no weight, 0-1 mask, positive weights`, () => {
      for (const s of SHAPES) {
        const n = numel(s);
        for (const wk of [null, 'mask', 'positive'] as const) {
          const w = wk ? weights(n, wk) : null;
          const inputs = [input(rng, s, { lo: -3, hi: 3, minAbs: 0 }), constant(rand(rng, n, { lo: -3, hi: 3, minAbs: 0 }), s)];
          if (w) inputs.push(constant(w, s));
          gradcheck({
            name: `mse ${reduction} [${s}] weight ${wk}`,
            inputs,
            op: ([z, y, wt]) => mse(z, y, { weight: wt ?? null, reduction }),
            ref: ([z, y, wt]) => lossRef(sqErr, z, y, wt ?? null, reduction),
            outShape: reduction === 'none' ? s : [],
          });
        }
      }
    });
  }

  it('the default reduction is the mean; equal input and target give 0', () => {
    const x = rand(rng, 12);
    gradcheck({ name: 'mse default', inputs: [input(rng, [3, 4]), constant(x, [3, 4])], op: ([a, b]) => mse(a, b), ref: ([a, b]) => lossRef(sqErr, a, b, null, 'mean') });
    const t = tensor(Float32Array.from(x));
    expect(mse(t, t).item()).toBe(0);
    expect(() => mse(t, tensor(new Float32Array(11)))).toThrow(ShapeError);
  });
});
