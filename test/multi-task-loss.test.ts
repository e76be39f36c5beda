/**
 * multiTaskLoss against a float64 formula (mixed 'bce'/'mse' tasks, a mask with a task that
 * has no label in the batch), its gradient w.r.t. the outputs by finite differences, and
 * multiTaskBce as the all-'bce' case.
 */
import { describe, expect, it } from 'vitest';
import { Rng, tensor } from '../lib';
import { multiTaskBce, multiTaskLoss, TaskLossKind } from '../lib/models/multi-task-loss';
import { gradcheck, rand } from './gradcheck';

const softplus = (t: number) => Math.max(t, 0) + Math.log1p(Math.exp(-Math.abs(t)));
const LOSS = { bce: (z: number, y: number) => softplus(z) - z * y, mse: (z: number, y: number) => (z - y) ** 2 };

/** Σ_t w_t · Σ_b m[b,t]·ℓ_t(z[b,t], y[b,t]) / max(1, Σ_b m[b,t]), in float64. */
function lossRef(z: Float64Array, y: Float64Array, m: Float64Array | null, kinds: TaskLossKind[], weights: number[]): number {
  const T = kinds.length;
  const B = z.length / T;
  let total = 0;
  for (let t = 0; t < T; ++t) {
    let s = 0;
    let c = 0;
    for (let b = 0; b < B; ++b) {
      const i = b * T + t;
      const w = m ? m[i] : 1;
      s += w * LOSS[kinds[t]](z[i], y[i]);
      c += w;
    }
    total += (weights[t] * s) / Math.max(1, c);
  }
  return total;
}

/** B×T inputs: 0/1 labels for 'bce' columns, values in ±2 for 'mse' ones; mask column 2 all missing. */
function batch(rng: Rng, B: number, kinds: TaskLossKind[]) {
  const T = kinds.length;
  const z = rand(rng, B * T, { lo: -3, hi: 3 });
  const y = Float64Array.from({ length: B * T }, (_, i) => (kinds[i % T] === 'bce' ? (rng.uniform() < 0.4 ? 1 : 0) : Math.fround(4 * rng.uniform() - 2)));
  const m = Float64Array.from({ length: B * T }, (_, i) => (i % T === 2 ? 0 : rng.uniform() < 0.7 ? 1 : 0));
  return { z, y, m };
}

describe('multiTaskLoss', () => {
  const kinds: TaskLossKind[] = ['bce', 'mse', 'bce', 'mse'];
  const weights = [1, 0.5, 2, 0.25];
  const B = 9;

  it('is Σ_t w_t · mean over the labelled samples of task t of its bce or squared error, with gradients', () => {
    const rng = new Rng(1);
    const { z, y, m } = batch(rng, B, kinds);
    for (const masked of [true, false]) {
      gradcheck({
        name: `multiTaskLoss ${masked ? 'masked' : 'unmasked'}`,
        inputs: [{ data: z, shape: [B, 4] }, { data: y, shape: [B, 4], grad: false }, { data: m, shape: [B, 4], grad: false }],
        op: ([zt, yt, mt]) => multiTaskLoss(zt, yt, { kinds, weights, mask: masked ? mt : null }),
        ref: ([za, ya, ma]) => Float64Array.of(lossRef(za, ya, masked ? ma : null, kinds, weights)),
        outShape: [],
        fwdTol: { atol: 1e-6, rtol: 1e-5 },
      });
    }
  });

  it('gives a task with no label in the batch no loss and no gradient', () => {
    const rng = new Rng(2);
    const { z, y, m } = batch(rng, B, kinds);
    const zt = tensor(Float32Array.from(z), { shape: [B, 4], requiresGrad: true });
    const yt = tensor(Float32Array.from(y), { shape: [B, 4] });
    const mt = tensor(Float32Array.from(m), { shape: [B, 4] });
    const full = multiTaskLoss(zt, yt, { kinds, weights, mask: mt });
    const without2 = multiTaskLoss(zt, yt, { kinds, weights: [1, 0.5, 0, 0.25], mask: mt });
    expect(full.item()).toBe(without2.item());
    full.backward();
    const g = zt.grad!.values();
    for (let b = 0; b < B; ++b) expect(Math.abs(g[b * 4 + 2])).toBe(0);
  });

  it('defaults to bce for every task and weight 1: multiTaskBce is the same number', () => {
    const rng = new Rng(3);
    const { z, y, m } = batch(rng, B, ['bce', 'bce', 'bce']);
    const [zt, yt, mt] = [z, y, m].map((a) => tensor(Float32Array.from(a), { shape: [B, 3] }));
    const want = lossRef(z, y, m, ['bce', 'bce', 'bce'], [1, 1, 1]);
    const a = multiTaskLoss(zt, yt, { mask: mt }).item();
    expect(a).toBeCloseTo(want, 5);
    expect(multiTaskBce(zt, yt, { mask: mt }).item()).toBe(a);
    expect(multiTaskLoss(zt, yt, { kinds: ['bce', 'bce', 'bce'], weights: [1, 1, 1], mask: mt }).item()).toBe(a);
  });

  it('an all-mse batch is the per-task mean squared error', () => {
    const z = tensor([[1, 2], [3, 4]]);
    const y = tensor([[0, 0], [1, 1]]);
    // task 0: (1 + 4) / 2, task 1: (4 + 9) / 2
    expect(multiTaskLoss(z, y, { kinds: ['mse', 'mse'] }).item()).toBeCloseTo(2.5 + 6.5, 6);
  });

  it('names bad arguments', () => {
    const z = tensor([[0.1, 0.2]]);
    const y = tensor([[1, 0]]);
    expect(() => multiTaskLoss(z, y, { kinds: ['bce'] })).toThrow("Expected an array of 2 loss kinds ('bce' or 'mse') for options.kinds but received ['bce'] of type array");
    expect(() => multiTaskLoss(z, y, { kinds: ['bce', 'mae' as never] })).toThrow("Expected one of 'bce', 'mse' for options.kinds[1] but received 'mae' of type string");
    expect(() => multiTaskLoss(z, y, { weights: [1, 2, 3] })).toThrow('Expected an array of 2 numbers for options.weights but received [1, 2, 3] of type array');
    expect(() => multiTaskLoss(z, y, { weights: [1, NaN] })).toThrow(/options.weights\[1\]/);
    expect(() => multiTaskLoss(z, tensor([[1, 0, 1]]))).toThrow('Expected shape [1, 2] for labels but received [1,3]');
    expect(() => multiTaskLoss(tensor([1, 2]), tensor([1, 2]))).toThrow('Expected shape [batch, tasks] for outputs but received [2]');
    expect(() => multiTaskBce(tensor([1, 2]), tensor([1, 2]))).toThrow('Expected shape [batch, tasks] for logits but received [2]');
    expect(() => multiTaskBce(z, y, { kinds: ['mse', 'mse'] } as never)).toThrow(/for options.kinds/);
  });
});
