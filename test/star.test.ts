/**
 * STAR: StarLinear (W ⊙ W_p, b + b_p per domain) and PartitionedNorm (per-domain batch
 * statistics, per-domain running statistics) against float64 references with every
 * gradient; a mixed-domain batch giving exactly what each domain's own sub-batch gives;
 * gradients reaching a domain's parameters only through its samples; the Star model's
 * auxiliary tower; errors naming the bad argument.
 */
import { describe, expect, it } from 'vitest';
import { domainMask, noGrad, PartitionedNorm, Rng, Star, StarLinear, StarMLP, sum, tensor } from '../lib';
import { actRef, expectAllClose, rand } from './gradcheck';
import { moduleGradcheck } from './module-gradcheck';

const ids = (values: number[]) => tensor(Int32Array.from(values), { shape: [values.length], dtype: 'int32' });
const rows = (rng: Rng, b: number, f: number) => tensor(Float32Array.from(rand(rng, b * f)), { shape: [b, f] });

/** act(Σ_i x_i·W[o,i]·W_p[d,o,i] + b[o] + b_p[d,o]) per sample of domain d. */
function starRef(x: Float64Array, dom: number[], p: Record<string, Float64Array>, inF: number, outF: number, act: (v: number) => number, prefix = ''): Float64Array {
  const w = p[`${prefix}weight`];
  const wp = p[`${prefix}domainWeight`];
  const y = new Float64Array(dom.length * outF);
  dom.forEach((d, b) => {
    for (let o = 0; o < outF; ++o) {
      let acc = p[`${prefix}bias`][o] + p[`${prefix}domainBias`][d * outF + o];
      for (let i = 0; i < inF; ++i) acc += x[b * inF + i] * w[o * inF + i] * wp[(d * outF + o) * inF + i];
      y[b * outF + o] = act(acc);
    }
  });
  return y;
}

/** Per-domain batch normalization of the rows with (γ·γ_p)·x̂ + β + β_p. */
function pnRef(x: Float64Array, dom: number[], p: Record<string, Float64Array>, F: number, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (const d of new Set(dom)) {
    const mine = dom.flatMap((v, b) => (v === d ? [b] : []));
    for (let f = 0; f < F; ++f) {
      const m = mine.reduce((s, b) => s + x[b * F + f], 0) / mine.length;
      const v = mine.reduce((s, b) => s + (x[b * F + f] - m) ** 2, 0) / mine.length;
      for (const b of mine) y[b * F + f] = (p.gamma[f] * p.domainGamma[d * F + f] * (x[b * F + f] - m)) / Math.sqrt(v + eps) + p.beta[f] + p.domainBeta[d * F + f];
    }
  }
  return y;
}

describe('StarLinear', () => {
  for (const act of ['identity', 'tanh'] as const) {
    it(`W ⊙ W_p, b + b_p per sample's domain in a mixed batch: every gradient (${act})`, () => {
      const rng = new Rng(3);
      const dom = [0, 2, 1, 2, 0];
      moduleGradcheck({
        name: `StarLinear ${act}`,
        module: new StarLinear(4, 3, { domains: 3, activation: act, rng }),
        inputs: [{ data: rand(rng, dom.length * 4), shape: [dom.length, 4] }],
        forward: (m, [x]) => (m as StarLinear).forward(x, ids(dom)),
        ref: ([x], p) => starRef(x, dom, p, 4, 3, actRef[act]),
      });
    });
  }

  it('starts as the shared layer for every domain; a mixed batch equals each domain alone', () => {
    const rng = new Rng(4);
    const layer = new StarLinear(5, 4, { domains: 3, activation: 'relu', rng });
    const x = rows(rng, 6, 5);
    noGrad(() => {
      const d = ids([1, 0, 2, 1, 2, 0]);
      const shared = layer.forward(x, ids([0, 0, 0, 0, 0, 0])).values();
      expectAllClose(layer.forward(x, d).values(), shared, { atol: 1e-6 }, 'fresh W_p = 1');
      layer.domainWeight.copyFrom(tensor(Float32Array.from(rand(rng, 3 * 4 * 5)), { shape: [3, 4, 5] }));
      const mixed = layer.forward(x, d).toArraySync() as Float32Array;
      [1, 0, 2, 1, 2, 0].forEach((dd, b) => {
        const alone = layer.forward(x.narrow(b, 1), ids([dd])).values();
        expectAllClose(mixed.subarray(b * 4, b * 4 + 4), alone, { atol: 1e-6 }, `row ${b}`);
      });
    });
  });

  it("a domain's parameters learn only from its samples", () => {
    const layer = new StarLinear(3, 2, { domains: 3, rng: new Rng(5) });
    sum(layer.forward(rows(new Rng(6), 4, 3), ids([0, 2, 0, 2]))).backward();
    const gw = layer.domainWeight.grad?.toArraySync() as Float32Array;
    const gb = layer.domainBias?.grad?.toArraySync() as Float32Array;
    expect([...gw.subarray(6, 12)].every((v) => v === 0)).toBe(true); // domain 1: no sample
    expect([...gw.subarray(0, 6)].some((v) => v !== 0) && [...gw.subarray(12, 18)].some((v) => v !== 0)).toBe(true);
    expect([...gb.subarray(2, 4)]).toEqual([0, 0]);
  });

  it('StarMLP stacks star layers: every gradient through two layers', () => {
    const rng = new Rng(7);
    const dom = [1, 0, 1, 1];
    moduleGradcheck({
      name: 'StarMLP 3→4→1',
      module: new StarMLP(3, { domains: 2, hidden: [4], outFeatures: 1, activation: 'tanh', rng }),
      inputs: [{ data: rand(rng, dom.length * 3), shape: [dom.length, 3] }],
      forward: (m, [x]) => (m as StarMLP).forward(x, ids(dom)),
      ref: ([x], p) => starRef(starRef(x, dom, p, 3, 4, Math.tanh, 'layers.0.'), dom, p, 4, 1, (v) => v, 'layers.1.'),
    });
  });
});

describe('PartitionedNorm', () => {
  it("normalizes each domain's samples by their own batch moments: every gradient", () => {
    const rng = new Rng(8);
    const dom = [0, 1, 0, 1, 1, 0, 0];
    moduleGradcheck({
      name: 'PartitionedNorm',
      module: new PartitionedNorm(3, { domains: 3 }),
      inputs: [{ data: rand(rng, dom.length * 3), shape: [dom.length, 3] }],
      forward: (m, [x]) => (m as PartitionedNorm).forward(x, ids(dom)),
      ref: ([x], p) => pnRef(x, dom, p, 3, 1e-5),
      gradTol: { atol: 5e-4, rtol: 5e-3 },
    });
  });

  it("keeps per-domain running statistics (unbiased, momentum 0.1); eval uses the sample's domain's", () => {
    const pn = new PartitionedNorm(2, { domains: 3, affine: false });
    const x = tensor(Float32Array.from([1, 10, 3, 20, 5, 0, 7, -4]), { shape: [4, 2] });
    noGrad(() => pn.forward(x, ids([0, 0, 1, 2]))); // domain 0: rows 0, 1; 1 and 2: one row each
    expectAllClose(pn.runningMean.values(), [0.2, 1.5, 0.5, 0, 0.7, -0.4], { atol: 1e-6 }, 'running mean');
    // domain 0's unbiased variances: (1, 3) → 2 and (10, 20) → 50; a single sample leaves the variance at 1.
    expectAllClose(pn.runningVar.values(), [0.9 + 0.2, 0.9 + 5, 1, 1, 1, 1], { atol: 1e-5 }, 'running var');
    pn.eval();
    const y = noGrad(() => pn.forward(tensor(Float32Array.from([2, 2, 2, 2]), { shape: [2, 2] }), ids([0, 2]))).values();
    const want = [(2 - 0.2) / Math.sqrt(1.1 + 1e-5), (2 - 1.5) / Math.sqrt(5.9 + 1e-5), (2 - 0.7) / Math.sqrt(1 + 1e-5), (2 + 0.4) / Math.sqrt(1 + 1e-5)];
    expectAllClose(y, want, { atol: 1e-5 }, 'eval output');
  });

  it('a mixed-domain batch gives what each domain gives alone; absent domains keep their statistics', () => {
    const rng = new Rng(9);
    const [a, b] = [new PartitionedNorm(4, { domains: 3 }), new PartitionedNorm(4, { domains: 3 })];
    noGrad(() => {
      for (const m of [a, b]) m.domainGamma?.copyFrom(tensor(Float32Array.from(rand(rng, 12)), { shape: [3, 4] }));
      b.loadStateDict(a.stateDict());
      const x = rows(rng, 6, 4);
      const dom = [2, 0, 2, 0, 0, 2];
      const mixed = a.forward(x, ids(dom)).toArraySync() as Float32Array;
      for (const d of [0, 2]) {
        const mine = dom.flatMap((v, r) => (v === d ? [r] : []));
        const sub = tensor(Float32Array.from(mine.flatMap((r) => [...(x.narrow(r, 1).toArraySync() as Float32Array)])), { shape: [mine.length, 4] });
        const alone = b.forward(sub, ids(mine.map(() => d))).toArraySync() as Float32Array;
        mine.forEach((r, k) => expectAllClose(mixed.subarray(r * 4, r * 4 + 4), alone.subarray(k * 4, k * 4 + 4), { atol: 1e-5 }, `domain ${d} row ${r}`));
      }
      expectAllClose(a.runningMean.values(), b.runningMean.values(), { atol: 1e-6 }, 'running means');
      expect([...(a.runningVar.toArraySync() as Float32Array).subarray(4, 8)]).toEqual([1, 1, 1, 1]);
    });
    expect(a.namedBuffers().map(([n]) => n)).toEqual(['runningMean', 'runningVar']);
  });
});

describe('Star model', () => {
  it('partitioned norm → star network, plus the auxiliary domain tower; trains on a mixed batch', () => {
    const rng = new Rng(10);
    const star = new Star(5, { domains: 2, hidden: [8], auxFeatures: 1, rng });
    const x = rows(rng, 8, 5);
    const aux = rows(rng, 8, 1);
    const d = ids([0, 1, 1, 0, 1, 1, 1, 0]);
    const y = star.forward(x, d, aux);
    expect(y.shape).toEqual([8, 1]);
    sum(y).backward();
    for (const [name, p] of star.namedParameters()) expect(p.grad, name).not.toBeNull();
    // The auxiliary tower sees the domain: with the main network's output fixed, only it differs across domains.
    star.eval();
    const mask = noGrad(() => domainMask(d, 2, 'cpu'));
    expect(mask.shape).toEqual([8, 2]);
    const viaMask = noGrad(() => star.forward(x, mask, aux)).values();
    expectAllClose(viaMask, noGrad(() => star.forward(x, d, aux)).values(), { atol: 0 }, 'ids and mask agree');
  });

  it('refuses bad domains and inputs, naming them', () => {
    const layer = new StarLinear(2, 2, { domains: 2 });
    const x = tensor(new Float32Array(6), { shape: [3, 2] });
    expect(() => layer.forward(x, ids([0, 2, 1]))).toThrow('domain[1]');
    expect(() => layer.forward(x, ids([0, 1]))).toThrow('Expected shape [3, 2] for domain');
    expect(() => layer.forward(x, tensor(new Float32Array(9), { shape: [3, 3] }))).toThrow('for domain but received [3,3]');
    expect(() => new StarLinear(2, 2, {} as never)).toThrow('options.domains');
    expect(() => new PartitionedNorm(2, { domains: 2, momentum: 2 })).toThrow('options.momentum');
    expect(() => new Star(4, { domains: 2, auxFeatures: 2 }).forward(tensor(new Float32Array(8), { shape: [2, 4] }), ids([0, 1]))).toThrow('aux');
  });
});
