/**
 * M2M: the whole model (batched experts, meta attention over (task, expert) pairs scored by
 * the scenario's generated MLP, residual meta towers, heads) against a float64 reference
 * with every parameter's gradient; MetaUnit on several rows per sample; the attention
 * weights a distribution per task that the scenario moves; errors naming the bad input.
 */
import { describe, expect, it } from 'vitest';
import { M2M, MetaUnit, noGrad, Rng, tensor } from '../lib';
import { rand } from './gradcheck';
import { linearRef, metaRef, moduleGradcheck } from './module-gradcheck';

/** Rows of a (rows, width) matrix, concatenated with one fixed vector each. */
function withVector(rows: Float64Array, width: number, v: Float64Array): Float64Array {
  const n = rows.length / width;
  const out = new Float64Array(n * (width + v.length));
  for (let r = 0; r < n; ++r) {
    out.set(rows.subarray(r * width, (r + 1) * width), r * (width + v.length));
    out.set(v, r * (width + v.length) + width);
  }
  return out;
}

function m2mRef(x: Float64Array, s: Float64Array, p: Record<string, Float64Array>, dims: { B: number; E: number; H: number; T: number; taskDim: number; att: number; layers: number }): Float64Array {
  const { B, E, H, T, taskDim, att, layers } = dims;
  const IN = x.length / B;
  // experts[e]: (B, H)
  const experts = Array.from({ length: E }, (_, e) =>
    linearRef(x, B, p['experts.layers.0.weight'].subarray(e * H * IN, (e + 1) * H * IN), H, p['experts.layers.0.bias'].subarray(e * H, (e + 1) * H), Math.tanh),
  );
  // pairs (B, T·E, H + taskDim): row t·E + e of sample b is [E_e[b] ‖ t_t]
  const pairs = new Float64Array(B * T * E * (H + taskDim));
  for (let b = 0; b < B; ++b)
    for (let t = 0; t < T; ++t)
      for (let e = 0; e < E; ++e) {
        const row = withVector(experts[e].subarray(b * H, (b + 1) * H), H, p.taskEmbedding.subarray(t * taskDim, (t + 1) * taskDim));
        pairs.set(row, ((b * T + t) * E + e) * (H + taskDim));
      }
  const hidden = metaRef(pairs, s, p, B, [[H + taskDim, att]], true, ['tanh'], 'attention.', T * E);
  const scores = linearRef(hidden, B * T * E, p['attentionScore.weight'], 1);
  const out = new Float64Array(B * T);
  for (let t = 0; t < T; ++t) {
    let h = new Float64Array(B * H);
    for (let b = 0; b < B; ++b) {
      const sc = Array.from({ length: E }, (_, e) => scores[(b * T + t) * E + e]);
      const mx = Math.max(...sc);
      const w = sc.map((v) => Math.exp(v - mx));
      const z = w.reduce((a, c) => a + c, 0);
      for (let e = 0; e < E; ++e) for (let j = 0; j < H; ++j) h[b * H + j] += (w[e] / z) * experts[e][b * H + j];
    }
    for (let l = 0; l < layers; ++l) {
      const m = metaRef(h, s, p, B, [[H, H]], true, ['identity'], `towers.${t}.layers.${l}.`);
      h = h.map((v, i) => Math.tanh(v + m[i]));
    }
    const logit = linearRef(h, B, p[`heads.${t}.weight`], 1, p[`heads.${t}.bias`]);
    for (let b = 0; b < B; ++b) out[b * T + t] = logit[b];
  }
  return out;
}

describe('M2M', () => {
  it('experts → meta attention → residual meta towers → heads: every gradient', () => {
    const rng = new Rng(21);
    const dims = { B: 3, E: 2, H: 3, T: 2, taskDim: 2, att: 3, layers: 1 };
    const [IN, S] = [4, 2];
    moduleGradcheck({
      name: 'M2M',
      module: new M2M(IN, { scenarioFeatures: S, tasks: dims.T, experts: dims.E, expertHidden: [dims.H], taskDim: dims.taskDim, attentionHidden: dims.att, towerLayers: dims.layers, activation: 'tanh', rng }),
      inputs: [
        { data: rand(rng, dims.B * IN), shape: [dims.B, IN] },
        { data: rand(rng, dims.B * S), shape: [dims.B, S] },
      ],
      forward: (m, [x, s]) => (m as M2M).forward(x, s),
      ref: ([x, s], p) => m2mRef(x, s, p, dims),
      gradTol: { atol: 3e-4, rtol: 3e-3 },
    });
  });

  it('attention weights: a distribution over experts per task, moved by the scenario', () => {
    const rng = new Rng(22);
    const m2m = new M2M(5, { scenarioFeatures: 3, experts: 4, rng });
    const x = tensor(Float32Array.from(rand(rng, 10)), { shape: [2, 5] });
    noGrad(() => {
      const experts = m2m.experts.forward(x);
      const s1 = tensor(Float32Array.from(rand(rng, 6, { lo: -3, hi: 3 })), { shape: [2, 3] });
      const s2 = tensor(Float32Array.from(rand(rng, 6, { lo: -3, hi: 3 })), { shape: [2, 3] });
      const w = m2m.attentionWeights(experts, s1).toArraySync() as Float32Array;
      expect(w.length).toBe(2 * 2 * 4);
      for (let r = 0; r < 4; ++r) expect(w.subarray(r * 4, r * 4 + 4).reduce((a, c) => a + c, 0)).toBeCloseTo(1, 5);
      const w2 = m2m.attentionWeights(experts, s2).toArraySync() as Float32Array;
      expect(Math.max(...w.map((v, i) => Math.abs(v - w2[i])))).toBeGreaterThan(1e-3);
    });
  });

  it('refuses bad inputs and options, naming them', () => {
    const m2m = new M2M(4, { scenarioFeatures: 2 });
    expect(() => m2m.forward(tensor(new Float32Array(8), { shape: [2, 4] }), tensor(new Float32Array(3), { shape: [1, 3] }))).toThrow('Expected shape [2, 2] for scenario');
    expect(() => new M2M(4, {} as never)).toThrow('options.scenarioFeatures');
    expect(() => new M2M(4, { scenarioFeatures: 2, towerLayers: -1 })).toThrow('options.towerLayers');
  });
});

describe('MetaUnit on several rows per sample', () => {
  it("(B, R, in): each sample's generated MLP on its R rows; every gradient", () => {
    const rng = new Rng(23);
    const [B, R, IN, Z] = [3, 2, 3, 2];
    moduleGradcheck({
      name: 'MetaUnit rows',
      module: new MetaUnit(IN, { condFeatures: Z, hidden: [2], outFeatures: 2, activation: 'tanh', rng }),
      inputs: [
        { data: rand(rng, B * R * IN), shape: [B, R, IN] },
        { data: rand(rng, B * Z), shape: [B, Z] },
      ],
      forward: (m, [x, z]) => (m as MetaUnit).forward(x, z),
      ref: ([x, z], p) => metaRef(x, z, p, B, [[3, 2], [2, 2]], true, ['tanh', 'identity'], '', R),
    });
    const m = new MetaUnit(IN, { condFeatures: Z });
    expect(() => m.forward(tensor(new Float32Array(12), { shape: [2, 2, 3] }), tensor(new Float32Array(4), { shape: [2, 2] })).shape).not.toThrow();
    expect(() => m.forward(tensor(new Float32Array(8), { shape: [2, 2, 2] }), tensor(new Float32Array(4), { shape: [2, 2] }))).toThrow('Expected shape [batch, rows, 3] for x');
  });
});
