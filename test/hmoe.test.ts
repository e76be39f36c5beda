/**
 * HMoE against a float64 reference whose other-scenario scores are frozen at their values
 * before perturbation (a stop-gradient is a constant to finite differences), with every
 * parameter's and h's gradient checked; a one-scenario batch leaves other towers' gradients
 * exactly zero; bad scenario ids are named.
 */
import { describe, expect, it } from 'vitest';
import { noGrad, Rng, sum, tensor } from '../lib';
import type { Tensor } from '../lib';
import { HMoE } from '../lib/multitask/hmoe';
import { rand } from './gradcheck';
import { linearRef, moduleGradcheck, relu } from './module-gradcheck';

const B = 6;
const IN = 4;
const S = 3;
const T = 2;

/** An MLP's float64 forward: relu hidden layers then a linear layer, parameters under `prefix`. */
function mlpRef(x: Float64Array, p: Record<string, Float64Array>, prefix: string, hidden: number[], out: number): Float64Array {
  let h = x;
  hidden.forEach((w, l) => {
    h = linearRef(h, B, p[`${prefix}layers.${l}.weight`], w, p[`${prefix}layers.${l}.bias`], relu);
  });
  const l = hidden.length;
  return linearRef(h, B, p[`${prefix}layers.${l}.weight`], out, p[`${prefix}layers.${l}.bias`]);
}

/** pred[b] = Σ_k w[b,k]·(k = d_b ? s_k[b] : frozen s_k[b]), with w = softmax(gate(h)). */
function hmoeRef(h: Float64Array, p: Record<string, Float64Array>, ids: number[], tower: number[], gateHidden: number[], frozen: (s: Float64Array[]) => Float64Array[]): Float64Array {
  const live = Array.from({ length: S }, (_, k) => mlpRef(h, p, `towers.${k}.`, tower, T));
  const sg = frozen(live);
  const z = mlpRef(h, p, 'gate.', gateHidden, S);
  const out = new Float64Array(B * T);
  for (let b = 0; b < B; ++b) {
    const row = Array.from({ length: S }, (_, k) => z[b * S + k]);
    const top = Math.max(...row);
    const e = row.map((v) => Math.exp(v - top));
    const total = e.reduce((a, c) => a + c, 0);
    for (let k = 0; k < S; ++k) {
      const s = k === ids[b] ? live[k] : sg[k];
      for (let t = 0; t < T; ++t) out[b * T + t] += (e[k] / total) * s[b * T + t];
    }
  }
  return out;
}

/** The towers' scores on the reference's first (unperturbed) call: models sg(). */
function frozenScores(): (s: Float64Array[]) => Float64Array[] {
  let first: Float64Array[] | null = null;
  return (s) => (first ??= s.map((v) => v.slice()));
}

describe('HMoE', () => {
  const ids = [0, 2, 1, 1, 0, 2];
  const cases = [
    { tower: [4], gateHidden: [], dtype: 'int32' as const },
    { tower: [3, 2], gateHidden: [3], dtype: 'int64' as const },
    { tower: [], gateHidden: [], dtype: 'int64' as const },
  ];
  for (const c of cases) {
    it(`mixes every tower's scores, others' with stop-gradient (towers [${c.tower}], gate [${c.gateHidden}], ${c.dtype} ids)`, () => {
      const rng = new Rng(31);
      const scenario = c.dtype === 'int32' ? tensor(Int32Array.from(ids)) : tensor(BigInt64Array.from(ids, BigInt));
      const frozen = frozenScores();
      moduleGradcheck({
        name: `HMoE [${c.tower}] [${c.gateHidden}]`,
        module: new HMoE(IN, { scenarios: S, tasks: T, tower: c.tower, gateHidden: c.gateHidden, rng }),
        inputs: [{ data: rand(rng, B * IN), shape: [B, IN] }],
        forward: (m, [h]) => (m as HMoE).forward(h, scenario),
        ref: ([h], p) => hmoeRef(h, p, ids, c.tower, c.gateHidden, frozen),
      });
    });
  }

  it('trains only the own scenario tower: a scenario-0 batch gives towers 1 and 2 exactly zero gradient', () => {
    const m = new HMoE(IN, { scenarios: S, tasks: T, tower: [5], gateHidden: [4], rng: new Rng(32) });
    const h = tensor(rand(new Rng(33), B * IN), { shape: [B, IN], requiresGrad: true });
    sum(m.forward(h, tensor(new Int32Array(B)))).backward();
    const norm = (t: Tensor | null) => (t ? t.values().reduce((a, v) => a + Math.abs(v), 0) : 0);
    for (const [name, p] of m.namedParameters()) {
      const g = norm(p.grad);
      if (name.startsWith('towers.1.') || name.startsWith('towers.2.')) expect(g, name).toBe(0);
      else expect(g, name).toBeGreaterThan(0);
    }
    expect(norm(h.grad)).toBeGreaterThan(0);
  });

  it('forward is Σ_k w_k·s_k, whatever the scenario', () => {
    const m = new HMoE(IN, { scenarios: S, tasks: T, tower: [4], rng: new Rng(34) });
    const h = tensor(rand(new Rng(35), B * IN), { shape: [B, IN] });
    noGrad(() => {
      const s = m.scores(h).values();
      const w = m.weights(h).values();
      const want = Array.from({ length: B * T }, (_, i) => {
        const b = Math.floor(i / T);
        return [0, 1, 2].reduce((a, k) => a + w[b * S + k] * s[(b * S + k) * T + (i % T)], 0);
      });
      for (const d of [0, 2]) {
        const got = m.forward(h, tensor(new Int32Array(B).fill(d))).values();
        got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
      }
    });
  });

  it('names bad arguments', () => {
    expect(() => new HMoE(4, {} as never)).toThrow('Expected an integer of at least 1 for options.scenarios but received undefined of type undefined');
    expect(() => new HMoE(4, { scenarios: 2, tower: [0] })).toThrow('Expected an integer of at least 1 for options.tower[0] but received 0 of type number');
    expect(() => new HMoE(4, { scenarios: 2, gateHidden: 3 as never })).toThrow('Expected an array of layer widths for options.gateHidden but received 3 of type number');
    expect(() => new HMoE(4, { scenarios: 2, tasks: 0 })).toThrow(/for options.tasks/);
    const m = new HMoE(2, { scenarios: 3, tower: [2] });
    const h = tensor([[1, 2], [3, 4]]);
    expect(() => m.forward(h, tensor(Int32Array.of(0, 3)))).toThrow('Expected a scenario id from 0 to 2 for scenario[1] but received 3 of type number');
    expect(() => m.forward(h, tensor(BigInt64Array.of(-1n, 0n)))).toThrow('Expected a scenario id from 0 to 2 for scenario[0] but received -1 of type number');
    expect(() => m.forward(h, tensor([0, 1]))).toThrow('Expected an int32 or int64 tensor for scenario but received float32');
    expect(() => m.forward(h, tensor(Int32Array.of(0, 1, 2)))).toThrow('Expected shape [2] for scenario but received [3]');
    expect(() => m.forward(h, 'x' as never)).toThrow("Expected a Tensor for scenario but received 'x' of type string");
    expect(() => m.forward(tensor([[1, 2, 3]]), tensor(Int32Array.of(0)))).toThrow('Expected shape [batch, 2] for h but received [1,3]');
  });
});
