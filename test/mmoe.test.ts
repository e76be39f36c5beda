/**
 * MMoE and POSO-MMoE modules: every parameter and input gradient-checked against a float64
 * reference of the whole model (experts, task gates, combination, towers; the personal gate);
 * gate dropout active only while training, at the configured rate, in both modes;
 * utilization statistics equal to the same numbers computed on the host from the gates;
 * errors that name the bad option.
 */
import { describe, expect, it } from 'vitest';
import { Adam, auc, MMoE, mul, noGrad, PosoMMoE, Rng, tensor, tidy } from '../lib';
import { rand } from './gradcheck';
import { gateNURef, linearRef, moduleGradcheck } from './module-gradcheck';

const B = 3;
const IN = 5;
const E = 3;
const H = 4;
const T = 2;
const TOWER = 3;

/** The MMoE forward in float64 (tanh experts and towers), personal gate pg (B, E) or null. */
function mmoeRef(x: Float64Array, p: Record<string, Float64Array>, pg: Float64Array | null, C: number): Float64Array {
  const experts: Float64Array[] = [];
  for (let e = 0; e < E; ++e) {
    const w = p['experts.layers.0.weight'].subarray(e * H * IN, (e + 1) * H * IN);
    const b = p['experts.layers.0.bias'].subarray(e * H, (e + 1) * H);
    experts.push(linearRef(x, B, w, H, b, Math.tanh));
  }
  const z = linearRef(x, B, p['gate.weight'], T * E, p['gate.bias']);
  const out = new Float64Array(B * T);
  for (let t = 0; t < T; ++t) {
    const r = new Float64Array(B * H);
    for (let b = 0; b < B; ++b) {
      const row = z.subarray((b * T + t) * E, (b * T + t + 1) * E);
      const m = Math.max(...row);
      const ex = Array.from(row, (v) => Math.exp(v - m));
      const s = ex.reduce((a, v) => a + v, 0);
      for (let e = 0; e < E; ++e) {
        const w = (C * ex[e] / s) * (pg ? pg[b * E + e] : 1);
        for (let h = 0; h < H; ++h) r[b * H + h] += w * experts[e][b * H + h];
      }
    }
    const h1 = linearRef(r, B, p[`towers.${t}.layers.0.weight`], TOWER, p[`towers.${t}.layers.0.bias`], Math.tanh);
    const logit = linearRef(h1, B, p[`towers.${t}.layers.1.weight`], 1, p[`towers.${t}.layers.1.bias`]);
    for (let b = 0; b < B; ++b) out[b * T + t] = logit[b];
  }
  return out;
}

const small = { experts: E, expertHidden: [H], tasks: T, tower: [TOWER], activation: 'tanh' as const };

describe('MMoE', () => {
  it('matches the float64 model: experts, gates, combination and towers, every gradient', () => {
    const rng = new Rng(3);
    moduleGradcheck({
      name: 'MMoE',
      module: new MMoE(IN, { ...small, rng }),
      inputs: [{ data: rand(rng, B * IN), shape: [B, IN] }],
      forward: (m, [x]) => (m as MMoE).forward(x),
      ref: ([x], p) => mmoeRef(x, p, null, 1),
    });
  });

  it('gate dropout acts only while training, at its rate, per sample or per batch', () => {
    const rng = new Rng(4);
    const x = tensor(Float32Array.from(rand(rng, 4000 * IN)), { shape: [4000, IN] });
    for (const mode of ['sample', 'batch'] as const) {
      const m = new MMoE(IN, { ...small, experts: 8, gateDropout: 0.25, gateDropoutMode: mode, rng });
      const g = noGrad(() => m.taskGates(x)).toArraySync() as Float32Array;
      const zeros = g.filter((v) => v === 0).length / g.length;
      if (mode === 'sample') expect(zeros).toBeCloseTo(0.25, 1);
      else for (let b = 1; b < 4000; ++b) for (let k = 0; k < T * 8; ++k) expect(g[b * T * 8 + k] === 0).toBe(g[k] === 0);
      m.eval();
      expect((noGrad(() => m.taskGates(x)).toArraySync() as Float32Array).every((v) => v > 0)).toBe(true);
    }
  });

  it('utilization(): mean gate per expert, near-zero shares and the mean largest gate, as computed from the gates', () => {
    const rng = new Rng(5);
    const m = new MMoE(IN, { ...small, experts: 4, nearZero: 0.2, rng });
    m.eval();
    noGrad(() => m.gate.weight.copyFrom(mul(m.gate.weight, 8))); // sharper gates: some weights fall below nearZero
    const xs = [7, 9].map((n) => tensor(Float32Array.from(rand(rng, n * IN)), { shape: [n, IN] }));
    const all: number[][] = [];
    for (const x of xs) {
      const g = noGrad(() => m.taskGates(x)).toArraySync() as Float32Array;
      for (let b = 0; b < x.shape[0]; ++b) for (let t = 0; t < T; ++t) all.push([t, ...g.subarray((b * T + t) * 4, (b * T + t + 1) * 4)]);
    }
    const u = m.utilization();
    for (let t = 0; t < T; ++t) {
      const rows = all.filter((r) => r[0] === t).map((r) => r.slice(1));
      expect(u[t].samples).toBe(16);
      const mean = [0, 1, 2, 3].map((e) => rows.reduce((s, r) => s + r[e], 0) / 16);
      u[t].meanGate.forEach((v, e) => expect(v).toBeCloseTo(mean[e], 5));
      expect(u[t].nearZeroGates).toBeCloseTo(rows.flat().filter((v) => v < 0.2).length / 64, 5);
      expect(u[t].nearZeroExperts).toBe(mean.filter((v) => v < 0.2).length / 4);
      expect(u[t].meanMaxGate).toBeCloseTo(rows.reduce((s, r) => s + Math.max(...r), 0) / 16, 5);
    }
    expect(u.some((x) => x.nearZeroGates > 0)).toBe(true);
    m.resetUtilization();
    expect(m.utilization()[0]).toEqual({ task: 0, meanGate: [0, 0, 0, 0], nearZeroExperts: 0, nearZeroGates: 0, meanMaxGate: 0, samples: 0 });
  });

  it('refuses bad options and inputs, naming them', () => {
    expect(() => new MMoE(IN, { experts: 0 })).toThrow('options.experts');
    expect(() => new MMoE(IN, { gateDropout: 1 })).toThrow('options.gateDropout');
    expect(() => new MMoE(IN, { gateDropoutMode: 'token' as never })).toThrow("Expected one of 'sample', 'batch' for options.gateDropoutMode but received 'token' of type string");
    expect(() => new MMoE(IN, { tower: 3 as never })).toThrow('options.tower');
    expect(() => new MMoE(IN, small).forward(tensor(new Float32Array(8), { shape: [2, 4] }))).toThrow('Expected shape [batch, 5] for x but received [2,4]');
  });
});

describe('PosoMMoE', () => {
  it('scales each expert by C·σ(MLP(x_pc)) inside the combination, every gradient (x, x_pc, all parameters)', () => {
    const rng = new Rng(6);
    const PC = 4;
    moduleGradcheck({
      name: 'PosoMMoE',
      module: new PosoMMoE(IN, { ...small, pcFeatures: PC, gateHidden: 5, scale: 2, rng }),
      inputs: [
        { data: rand(rng, B * IN), shape: [B, IN] },
        { data: rand(rng, B * PC), shape: [B, PC] },
      ],
      forward: (m, [x, pc]) => (m as PosoMMoE).forward(x, pc),
      ref: ([x, pc], p) => mmoeRef(x, p, gateNURef(pc, B, p, 'personal.', 5, E, 1), 2),
    });
  });

  it('needs the personalization code, naming it', () => {
    const m = new PosoMMoE(IN, { ...small, pcFeatures: 4 });
    const x = tensor(new Float32Array(2 * IN), { shape: [2, IN] });
    expect(() => m.forward(x)).toThrow('pc');
    expect(() => m.forward(x, tensor(new Float32Array(6), { shape: [2, 3] }))).toThrow('Expected shape [batch, 4] for pc but received [2,3]');
    expect(() => new PosoMMoE(IN, { ...small } as never)).toThrow('options.pcFeatures');
  });
});

describe('MMoE with a classification and a regression task', () => {
  it('learns both from one model (BCE + MSE), ignoring masked labels', () => {
    const rng = new Rng(8);
    const n = 6000;
    const X = Float32Array.from(rand(rng, n * 5));
    const y = new Float32Array(n * 2);
    const mask = new Float32Array(n * 2);
    for (let i = 0; i < n; ++i) {
      const x = X.subarray(i * 5, i * 5 + 5);
      y[2 * i] = rng.uniform() < 1 / (1 + Math.exp(-4 * (x[0] + x[1] * x[2]))) ? 1 : 0;
      const missing = rng.uniform() < 0.3;
      y[2 * i + 1] = missing ? 1e6 : Math.sin(2 * x[0]) + x[3] * x[3]; // a masked label must not matter
      mask[2 * i] = 1;
      mask[2 * i + 1] = missing ? 0 : 1;
    }
    const m = new MMoE(5, { experts: 4, expertHidden: [32], tasks: 2, tower: [16], gateDropout: 0.1, rng });
    const opt = new Adam(m.parameters(), { lr: 5e-3 });
    const train = 5000;
    for (let epoch = 0; epoch < 12; ++epoch) {
      for (let s = 0; s < train; s += 250) {
        tidy(() => {
          const out = m.forward(tensor(X.subarray(s * 5, (s + 250) * 5), { shape: [250, 5] }));
          opt.zeroGrad();
          m.loss(out, tensor(y.subarray(2 * s, 2 * (s + 250)), { shape: [250, 2] }), { kinds: ['bce', 'mse'], weights: [1, 2], mask: tensor(mask.subarray(2 * s, 2 * (s + 250)), { shape: [250, 2] }) }).backward();
          opt.step();
        });
      }
    }
    m.eval();
    const out = noGrad(() => m.forward(tensor(X.subarray(train * 5), { shape: [n - train, 5] }))).toArraySync() as Float32Array;
    const idx = [...Array(n - train).keys()];
    expect(auc(idx.map((i) => out[2 * i]), idx.map((i) => y[2 * (train + i)]))).toBeGreaterThan(0.8);
    const labelled = idx.filter((i) => mask[2 * (train + i) + 1] === 1);
    const target = labelled.map((i) => y[2 * (train + i) + 1]);
    const mean = target.reduce((a, v) => a + v, 0) / target.length;
    const variance = target.reduce((a, v) => a + (v - mean) ** 2, 0) / target.length;
    const err = labelled.reduce((a, i, k) => a + (out[2 * i + 1] - target[k]) ** 2, 0) / labelled.length;
    expect(err).toBeLessThan(0.1 * variance);
  }, 60_000);
});
