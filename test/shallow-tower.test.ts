/**
 * ShallowTower: float64 gradchecks at serving (every field missing), in training without
 * dropout (every field observed) and in training with a known feature-dropout mask (the
 * Philox bits of bernoulliMask); the replaced share ≈ p; one constant row at serving; and a
 * click model where the tower learns a position bias that the main logit then need not.
 */
import { describe, expect, it } from 'vitest';
import { Adam, add, bernoulliMask, bceWithLogits, Linear, manualSeed, mul, noGrad, Rng, sum, tensor, tidy } from '../lib';
import { ShallowTower } from '../lib/multitask/shallow-tower';
import { rand } from './gradcheck';
import { linearRef, moduleGradcheck, relu } from './module-gradcheck';

const B = 5;
const F = 2;
const D = 3;

/** tower(x): hidden relu layers, then a linear layer to `tasks` logits; x (rows, F·D). */
function towerRef(x: Float64Array, rows: number, p: Record<string, Float64Array>, hidden: number[], tasks: number): Float64Array {
  let h = x;
  hidden.forEach((w, l) => {
    h = linearRef(h, rows, p[`tower.layers.${l}.weight`], w, p[`tower.layers.${l}.bias`], relu);
  });
  const l = hidden.length;
  return linearRef(h, rows, p[`tower.layers.${l}.weight`], tasks, p[`tower.layers.${l}.bias`]);
}

describe('ShallowTower', () => {
  it('at serving, scores every sample with the missing vectors (a constant row)', () => {
    const rng = new Rng(21);
    moduleGradcheck({
      name: 'ShallowTower eval',
      module: new ShallowTower({ fields: F, dim: D, tasks: 2, hidden: [4], rng }).eval(),
      inputs: [{ data: rand(rng, B * F * D), shape: [B, F, D], grad: false }],
      forward: (m, [bias]) => (m as ShallowTower).forward(bias),
      ref: (_, p) => {
        const row = towerRef(p['missing'], 1, p, [4], 2);
        return Float64Array.from({ length: B * 2 }, (_v, i) => row[i % 2]);
      },
    });
  });

  it('in training with dropout 0, scores the observed features', () => {
    const rng = new Rng(22);
    moduleGradcheck({
      name: 'ShallowTower observed',
      module: new ShallowTower({ fields: F, dim: D, tasks: 2, hidden: [4, 3], dropout: 0, rng }),
      inputs: [{ data: rand(rng, B * F * D), shape: [B, F, D] }],
      // + 0·Σ missing: the unused missing vectors get an all-zero gradient for the check to compare.
      forward: (m, [bias]) => add((m as ShallowTower).forward(bias), mul(sum((m as ShallowTower).missing), 0)),
      ref: ([bias], p) => towerRef(bias, B, p, [4, 3], 2),
    });
  });

  it('in training, replaces each (sample, field) dropped by bernoulliMask with its missing vector', () => {
    const rng = new Rng(23);
    const p = 0.5;
    const rows = 8;
    const m = new ShallowTower({ fields: F, dim: D, dropout: p }); // no rng: seeds come from the global generator
    manualSeed(99);
    const keep = bernoulliMask([rows, F], p, new Rng(99).seed()).values();
    expect(keep.some((k) => k === 0) && keep.some((k) => k === 1)).toBe(true);
    moduleGradcheck({
      name: 'ShallowTower dropout',
      module: m,
      inputs: [{ data: rand(rng, rows * F * D), shape: [rows, F, D] }],
      forward: (mm, [bias]) => (mm as ShallowTower).forward(bias),
      ref: ([bias], q) => towerRef(bias.map((v, i) => (keep[Math.floor(i / D)] ? v : q['missing'][i % (F * D)])), rows, q, [], 1),
    });
  });

  it('replaces a share p of the (sample, field) entries, independently per field, reproducibly', () => {
    const fields = 8;
    const p = 0.3;
    const rows = 5000;
    const run = () => {
      const m = new ShallowTower({ fields, dim: 1, dropout: p, rng: new Rng(24) });
      // Output = Σ_f keep[b, f]·2^f: the mask's bits, exactly.
      noGrad(() => {
        m.missing.copyFrom(tensor(new Float32Array(fields), { shape: [fields, 1] }));
        m.tower.layers[0].weight.copyFrom(tensor(Float32Array.from({ length: fields }, (_, f) => 2 ** f), { shape: [1, fields] }));
        m.tower.layers[0].bias!.copyFrom(tensor([0]));
      });
      return noGrad(() => m.forward(tensor(new Float32Array(rows * fields).fill(1), { shape: [rows, fields, 1] })).values());
    };
    const out = run();
    const dropped = new Array<number>(fields).fill(0);
    for (const v of out) for (let f = 0; f < fields; ++f) if (!((v >> f) & 1)) dropped[f] += 1;
    const share = dropped.reduce((a, b) => a + b, 0) / (rows * fields);
    expect(Math.abs(share - p)).toBeLessThan(0.01);
    for (const d of dropped) expect(Math.abs(d / rows - p)).toBeLessThan(0.03);
    expect(run()).toEqual(out);
  });

  it('gives every sample the same logits at serving, and observed() still sees the features', () => {
    const m = new ShallowTower({ fields: F, dim: D, tasks: 3, hidden: [4], rng: new Rng(25) }).eval();
    const bias = tensor(rand(new Rng(26), 6 * F * D), { shape: [6, F, D] });
    const out = noGrad(() => m.forward(bias).values());
    for (let i = 3; i < out.length; ++i) expect(out[i]).toBe(out[i % 3]);
    const seen = noGrad(() => m.observed(bias).values());
    expect(seen.slice(0, 3)).not.toEqual(seen.slice(3, 6));
  });

  it('learns a position bias so that the main logit learns relevance only', () => {
    // Clicks ~ Bernoulli(σ(x·w + posBias[pos])), with relevant items shown higher up.
    const rng = new Rng(27);
    const N = 4096;
    const P = 5;
    const posBias = [1, 0.4, 0, -0.5, -1];
    const w = [1, -0.6, 0.5, 0.3];
    const x = Float32Array.from({ length: N * 4 }, () => rng.normal());
    const rel = Float64Array.from({ length: N }, (_, n) => w.reduce((s, wi, i) => s + wi * x[n * 4 + i], 0));
    const noisy = Float64Array.from(rel, (r) => r + rng.normal());
    const order = Array.from({ length: N }, (_, n) => n).sort((a, b) => noisy[b] - noisy[a]);
    const pos = new Int32Array(N);
    order.forEach((n, k) => (pos[n] = Math.floor((k * P) / N)));
    const onehot = new Float32Array(N * P);
    pos.forEach((q, n) => (onehot[n * P + q] = 1));
    const y = Float32Array.from({ length: N }, (_, n) => (rng.uniform() < 1 / (1 + Math.exp(-(rel[n] + posBias[pos[n]]))) ? 1 : 0));
    const xt = tensor(x, { shape: [N, 4] });
    const bt = tensor(onehot, { shape: [N, 1, P] });
    const yt = tensor(y, { shape: [N, 1] });

    const fit = (withTower: boolean) => {
      const main = new Linear(4, 1, { rng: new Rng(28) });
      const shallow = new ShallowTower({ fields: 1, dim: P, rng: new Rng(29) });
      const opt = new Adam([...main.parameters(), ...(withTower ? shallow.parameters() : [])], { lr: 0.05 });
      for (let step = 0; step < 300; ++step) {
        tidy(() => {
          const z = withTower ? main.forward(xt).add(shallow.forward(bt)) : main.forward(xt);
          opt.zeroGrad();
          bceWithLogits(z, yt).backward();
          opt.step();
        });
      }
      return { main, shallow };
    };
    const err = (main: Linear) => main.weight.values().reduce((s, v, i) => s + (v - w[i]) ** 2, 0);

    const { main, shallow } = fit(true);
    // The tower with each position observed: monotone, and close to posBias up to a constant.
    const learned = noGrad(() => shallow.observed(tensor(Float32Array.from({ length: P * P }, (_, i) => (i % (P + 1) === 0 ? 1 : 0)), { shape: [P, 1, P] })).values());
    for (let q = 1; q < P; ++q) expect(learned[q]).toBeLessThan(learned[q - 1]);
    const centre = (a: number[]) => a.map((v) => v - a.reduce((s, u) => s + u, 0) / a.length);
    centre(learned).forEach((v, q) => expect(Math.abs(v - centre(posBias)[q])).toBeLessThan(0.25));
    // At serving the position's effect is gone: one constant for every sample.
    shallow.eval();
    const served = noGrad(() => shallow.forward(bt).values());
    expect(new Set(served).size).toBe(1);
    // Without the tower, the main logit soaks up the position bias (relevant items sit higher).
    expect(err(main)).toBeLessThan(0.05);
    expect(err(fit(false).main)).toBeGreaterThan(2 * err(main));
  });

  it('names bad arguments', () => {
    expect(() => new ShallowTower({ fields: 0, dim: 2 })).toThrow('Expected an integer of at least 1 for options.fields but received 0 of type number');
    expect(() => new ShallowTower({ fields: 2 } as never)).toThrow('Expected an integer of at least 1 for options.dim but received undefined of type undefined');
    expect(() => new ShallowTower({ fields: 2, dim: 2, dropout: 1 })).toThrow('Expected a number from 0 to 0.99 for options.dropout but received 1 of type number');
    expect(() => new ShallowTower({ fields: 2, dim: 2, hidden: [3, -1] })).toThrow(/for options.hidden\[1\]/);
    expect(() => new ShallowTower({ fields: 2, dim: 2, tasks: 1.5 })).toThrow(/for options.tasks/);
    const m = new ShallowTower({ fields: 2, dim: 3 });
    expect(() => m.forward(tensor([[1, 2, 3]]))).toThrow('Expected shape [batch, 2, dim] for bias but received [1,3]');
    expect(() => m.forward(tensor(new Float32Array(8), { shape: [2, 2, 2] }))).toThrow('Expected shape [batch, 2, 3] for bias but received [2,2,2]');
    expect(() => m.observed(tensor(new Float32Array(8), { shape: [2, 2, 2] }))).toThrow(/for bias/);
  });
});
