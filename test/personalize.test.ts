/**
 * The personalization modules against float64 references, with every parameter's gradient
 * checked by finite differences: GateNU, LHUC, SENet, EPNet, PPNet (lazy and eager),
 * PosoMLP and ScenarioLogit (multiTaskBce: test/multi-task-loss.test.ts). Stop-gradient inputs are modelled in the
 * reference by feeding the gate path the unperturbed values.
 */
import { describe, expect, it } from 'vitest';
import { EPNet, GateNU, LHUC, noGrad, PosoMLP, PPNet, Rng, ScenarioLogit, SENet, tensor } from '../lib';
import { rand } from './gradcheck';
import { concatRef, gateNURef, linearRef, moduleGradcheck, relu, sigmoid } from './module-gradcheck';

const data = (rng: Rng, shape: number[], grad = true) => ({ data: rand(rng, shape.reduce((a, b) => a * b, 1)), shape, grad });

/** A value captured on the reference's first call (the unperturbed input): models sg(). */
function frozen(): (v: Float64Array) => Float64Array {
  let first: Float64Array | null = null;
  return (v) => (first ??= v.slice());
}

describe('GateNU', () => {
  it('matches γ·σ(W2·relu(W1·x + b1) + b2) with all gradients', () => {
    const rng = new Rng(1);
    for (const gamma of [2, 1.5]) {
      moduleGradcheck({
        name: `GateNU γ ${gamma}`,
        module: new GateNU({ inFeatures: 5, outFeatures: 4, hidden: 6, gamma, rng }),
        inputs: [data(rng, [3, 5])],
        forward: (m, [x]) => (m as GateNU).forward(x),
        ref: ([x], p) => gateNURef(x, 3, p, '', 6, 4, gamma),
      });
    }
  });
  it('starts near 1 with γ = 2 and zero output weights', () => {
    const g = new GateNU({ inFeatures: 3, outFeatures: 2 });
    noGrad(() => g.fc2.weight.copyFrom(tensor(new Float32Array(4), { shape: [2, 2] })));
    expect(Array.from(g.forward(tensor([[1, -2, 3]])).values())).toEqual([1, 1]);
  });
});

describe('field gating', () => {
  const B = 3;
  const F = 4;
  const D = 3;
  it('LHUC multiplies each field by γ·σ(W·c + b)', () => {
    const rng = new Rng(2);
    moduleGradcheck({
      name: 'LHUC',
      module: new LHUC({ fields: F, condFeatures: 5, rng }),
      inputs: [data(rng, [B, F, D]), data(rng, [B, 5])],
      forward: (m, [emb, cond]) => (m as LHUC).forward(emb, cond),
      ref: ([emb, cond], p) => {
        const g = linearRef(cond, B, p['fc.weight'], F, p['fc.bias'], (v) => 2 * sigmoid(v));
        return emb.map((v, i) => v * g[Math.floor(i / D)]);
      },
    });
  });
  it('SENet squeezes by the mean over the dim and excites with reduction r', () => {
    const rng = new Rng(3);
    const hidden = Math.ceil(F / 2);
    moduleGradcheck({
      name: 'SENet',
      module: new SENet({ fields: F, reduction: 2, rng }),
      inputs: [data(rng, [B, F, D])],
      forward: (m, [emb]) => (m as SENet).forward(emb),
      ref: ([emb], p) => {
        const z = Float64Array.from({ length: B * F }, (_, bf) => (emb[bf * D] + emb[bf * D + 1] + emb[bf * D + 2]) / D);
        const a = gateNURef(z, B, p, 'excite.', hidden, F, 2);
        return emb.map((v, i) => v * a[Math.floor(i / D)]);
      },
    });
  });
});

describe('EPNet', () => {
  const B = 3;
  const F = 2;
  const D = 3;
  for (const granularity of ['element', 'field'] as const) {
    it(`O_ep = GateNU([domain ; sg(E)]) ⊙ E per ${granularity}`, () => {
      const rng = new Rng(4);
      const out = granularity === 'element' ? F * D : F;
      const sgE = frozen();
      moduleGradcheck({
        name: `EPNet ${granularity}`,
        module: new EPNet({ fields: F, dim: D, domainFeatures: 4, hidden: 5, granularity, rng }),
        inputs: [data(rng, [B, F, D]), data(rng, [B, 4])],
        forward: (m, [emb, domain]) => (m as EPNet).forward(emb, domain),
        ref: ([emb, domain], p) => {
          const g = gateNURef(concatRef(B, domain, sgE(emb)), B, p, 'gate.', 5, out, 2);
          return emb.map((v, i) => v * g[granularity === 'element' ? i : Math.floor(i / D)]);
        },
      });
    });
  }
});

/** PPNet's float64 forward; x's gate path reads sgX (its unperturbed value). */
function ppnetRef(x: Float64Array, sgX: Float64Array, prior: Float64Array, p: Record<string, Float64Array>, o: { B: number; tasks: number; hidden: number[]; gateHidden: number; eager: boolean }): Float64Array {
  const { B, tasks, hidden, gateHidden, eager } = o;
  const inF = x.length / B;
  const cond = concatRef(B, prior, sgX);
  const widths = [inF, ...hidden];
  const gates = hidden.map((h, l) => gateNURef(cond, B, p, `gates.${l}.`, gateHidden, tasks * (eager ? widths[l] : h), 2));
  const logits = new Float64Array(B * tasks);
  for (let t = 0; t < tasks; ++t) {
    let h = x;
    hidden.forEach((w, l) => {
      const gw = eager ? widths[l] : w;
      const gate = (b: number, j: number) => gates[l][b * tasks * gw + t * gw + j];
      const pre = `towers.${t}.layers.${l}.`;
      if (eager) {
        const hg = h.map((v, i) => v * gate(Math.floor(i / gw), i % gw));
        h = linearRef(hg, B, p[`${pre}weight`], w, p[`${pre}bias`], relu);
      } else {
        h = linearRef(h, B, p[`${pre}weight`], w, p[`${pre}bias`], relu).map((v, i) => v * gate(Math.floor(i / w), i % w));
      }
    });
    const head = linearRef(h, B, p[`towers.${t}.head.weight`], 1, p[`towers.${t}.head.bias`]);
    for (let b = 0; b < B; ++b) logits[b * tasks + t] = head[b];
  }
  return logits;
}

describe('PPNet', () => {
  for (const placement of ['lazy', 'eager'] as const) {
    it(`gates every tower layer from [prior ; sg(x)] (${placement})`, () => {
      const rng = new Rng(5);
      const cfg = { B: 3, tasks: 2, hidden: [4, 3], gateHidden: 3, eager: placement === 'eager' };
      const sgX = frozen();
      moduleGradcheck({
        name: `PPNet ${placement}`,
        module: new PPNet(5, { priorFeatures: 4, tasks: 2, hidden: cfg.hidden, gateHidden: 3, placement, rng }),
        inputs: [data(rng, [3, 5]), data(rng, [3, 4])],
        forward: (m, [x, prior]) => (m as PPNet).forward(x, prior),
        ref: ([x, prior], p) => ppnetRef(x, sgX(x), prior, p, cfg),
      });
    });
  }
  it('with one task returns (B, 1)', () => {
    const m = new PPNet(3, { priorFeatures: 2, tasks: 1, hidden: [4] });
    expect(m.forward(tensor([[1, 2, 3]]), tensor([[0.5, -1]])).shape).toEqual([1, 1]);
  });
});

describe('PosoMLP', () => {
  for (const placement of ['lazy', 'eager'] as const) {
    it(`stacks C·g(pc) ⊙ relu(h·Wᵀ + b) layers (${placement})`, () => {
      const rng = new Rng(6);
      const B = 3;
      const hidden = [4, 3];
      moduleGradcheck({
        name: `PosoMLP ${placement}`,
        module: new PosoMLP(5, { hidden, pcFeatures: 2, outFeatures: 2, gateHidden: 3, placement, rng }),
        inputs: [data(rng, [B, 5]), data(rng, [B, 2])],
        forward: (m, [x, pc]) => (m as PosoMLP).forward(x, pc),
        ref: ([x, pc], p) => {
          let h = x;
          const widths = [5, ...hidden];
          hidden.forEach((w, l) => {
            const gw = placement === 'eager' ? widths[l] : w;
            const g = gateNURef(pc, B, p, `gates.${l}.`, 3, gw, 2);
            const pre = `layers.${l}.`;
            h = placement === 'eager'
              ? linearRef(h.map((v, i) => v * g[i]), B, p[`${pre}weight`], w, p[`${pre}bias`], relu)
              : linearRef(h, B, p[`${pre}weight`], w, p[`${pre}bias`], relu).map((v, i) => v * g[i]);
          });
          return linearRef(h, B, p['out.weight'], 2, p['out.bias']);
        },
      });
    });
  }
});

describe('ScenarioLogit', () => {
  it('adds the scenario logit (no dropout in eval mode)', () => {
    const rng = new Rng(7);
    const m = new ScenarioLogit({ sceneFeatures: 3, tasks: 2, dropout: 0.5, rng }).eval();
    moduleGradcheck({
      name: 'ScenarioLogit eval',
      module: m,
      inputs: [data(rng, [4, 2]), data(rng, [4, 3])],
      forward: (mm, [common, scene]) => (mm as ScenarioLogit).forward(common, scene),
      ref: ([common, scene], p) => {
        const s = linearRef(scene, 4, p['fc.weight'], 2, p['fc.bias']);
        return common.map((v, i) => v + s[i]);
      },
    });
  });
  it('drops the scenario logit, not the common one, while training', () => {
    const m = new ScenarioLogit({ sceneFeatures: 2, dropout: 0.5, rng: new Rng(8) });
    const n = 400;
    const common = tensor(Float32Array.from({ length: n }, (_, i) => i), { shape: [n, 1] });
    const scene = tensor(new Float32Array(n * 2).fill(1), { shape: [n, 2] });
    const s = noGrad(() => m.sceneLogit(scene).values()[0]);
    const out = noGrad(() => m.forward(common, scene).values());
    let dropped = 0;
    for (let i = 0; i < n; ++i) {
      const extra = out[i] - i;
      if (Math.abs(extra) < 1e-4) dropped += 1;
      else expect(extra).toBeCloseTo(2 * s, 4);
    }
    expect(dropped).toBeGreaterThan(n * 0.4);
    expect(dropped).toBeLessThan(n * 0.6);
  });
});

describe('bad input', () => {
  it('names the argument', () => {
    const poso = new PosoMLP(4, { hidden: [3], pcFeatures: 2 });
    expect(() => poso.forward(tensor([[1, 2, 3]]), tensor([[1, 0]]))).toThrow('Expected shape [batch, 4] for x but received [1,3]');
    expect(() => poso.forward(tensor([[1, 2, 3, 4]]), tensor([[1, 0], [0, 1]]))).toThrow('Expected shape [1, 2] for pc but received [2,2]');
    expect(() => new PosoMLP(4, { hidden: [], pcFeatures: 2 })).toThrow(/options.hidden/);
    expect(() => new GateNU({ inFeatures: 3, outFeatures: 2, gamma: 0 })).toThrow(/options.gamma/);
    const lhuc = new LHUC({ fields: 3, condFeatures: 2 });
    expect(() => lhuc.forward(tensor([[1, 2, 3]]), tensor([[1, 0]]))).toThrow('Expected shape [batch, 3, dim] for emb but received [1,3]');
    expect(() => new PPNet(3, { priorFeatures: 2, tasks: 2, hidden: [4], placement: 'late' as never })).toThrow(/options.placement/);
  });
});
