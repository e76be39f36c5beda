/** SharedBottom against a float64 reference with every parameter's gradient, plus shapes and option errors. */
import { describe, expect, it } from 'vitest';
import { noGrad, Rng, tensor } from '../lib';
import { SharedBottom } from '../lib/multitask/shared-bottom';
import { rand } from './gradcheck';
import { linearRef, moduleGradcheck, relu } from './module-gradcheck';

const B = 4;
const IN = 5;

/** bottom (act after every layer), then per task: tower layers (act) and a linear head → (B, T). */
function sharedBottomRef(x: Float64Array, p: Record<string, Float64Array>, bottom: number[], tower: number[], tasks: number, act: (v: number) => number): Float64Array {
  let h = x;
  bottom.forEach((w, l) => {
    h = linearRef(h, B, p[`bottom.layers.${l}.weight`], w, p[`bottom.layers.${l}.bias`], act);
  });
  const out = new Float64Array(B * tasks);
  for (let t = 0; t < tasks; ++t) {
    let g = h;
    tower.forEach((w, l) => {
      g = linearRef(g, B, p[`towers.${t}.layers.${l}.weight`], w, p[`towers.${t}.layers.${l}.bias`], act);
    });
    const l = tower.length;
    const head = linearRef(g, B, p[`towers.${t}.layers.${l}.weight`], 1, p[`towers.${t}.layers.${l}.bias`]);
    for (let b = 0; b < B; ++b) out[b * tasks + t] = head[b];
  }
  return out;
}

describe('SharedBottom', () => {
  const cases = [
    { bottom: [4, 3], tower: [2], tasks: 3, activation: 'relu' as const, act: relu },
    { bottom: [3], tower: [], tasks: 2, activation: 'tanh' as const, act: Math.tanh },
    { bottom: [6], tower: [3, 2], tasks: 1, activation: 'relu' as const, act: relu },
  ];
  for (const c of cases) {
    it(`bottom [${c.bottom}], towers [${c.tower}] → 1 logit, ${c.tasks} task(s), ${c.activation}`, () => {
      const rng = new Rng(11);
      moduleGradcheck({
        name: `SharedBottom [${c.bottom}] [${c.tower}]`,
        module: new SharedBottom(IN, { tasks: c.tasks, bottom: c.bottom, tower: c.tower, activation: c.activation, dropout: 0.5, rng }).eval(),
        inputs: [{ data: rand(rng, B * IN), shape: [B, IN] }],
        forward: (m, [x]) => (m as SharedBottom).forward(x),
        ref: ([x], p) => sharedBottomRef(x, p, c.bottom, c.tower, c.tasks, c.act),
      });
    });
  }

  it('defaults to a [128] bottom and [64] towers', () => {
    const m = new SharedBottom(7, { tasks: 2 });
    expect(m.namedParameters().map(([n, t]) => `${n} [${t.shape}]`)).toEqual([
      'bottom.layers.0.weight [128,7]',
      'bottom.layers.0.bias [128]',
      'towers.0.layers.0.weight [64,128]',
      'towers.0.layers.0.bias [64]',
      'towers.0.layers.1.weight [1,64]',
      'towers.0.layers.1.bias [1]',
      'towers.1.layers.0.weight [64,128]',
      'towers.1.layers.0.bias [64]',
      'towers.1.layers.1.weight [1,64]',
      'towers.1.layers.1.bias [1]',
    ]);
    expect(noGrad(() => m.forward(tensor(new Float32Array(3 * 7), { shape: [3, 7] }))).shape).toEqual([3, 2]);
  });

  it('applies dropout only while training', () => {
    const m = new SharedBottom(3, { tasks: 2, bottom: [64], tower: [], dropout: 0.5, rng: new Rng(12) });
    const x = tensor([[1, -2, 0.5]]);
    const a = noGrad(() => m.forward(x).values());
    const b = noGrad(() => m.forward(x).values());
    expect(a).not.toEqual(b);
    m.eval();
    expect(noGrad(() => m.forward(x).values())).toEqual(noGrad(() => m.forward(x).values()));
  });

  it('names bad arguments', () => {
    expect(() => new SharedBottom(0, { tasks: 2 })).toThrow('Expected an integer of at least 1 for inFeatures but received 0 of type number');
    expect(() => new SharedBottom(3, {} as never)).toThrow('Expected an integer of at least 1 for options.tasks but received undefined of type undefined');
    expect(() => new SharedBottom(3, { tasks: 2, bottom: [] })).toThrow('Expected a non-empty array of layer widths for options.bottom but received [] of type array');
    expect(() => new SharedBottom(3, { tasks: 2, tower: [8, 0] })).toThrow('Expected an integer of at least 1 for options.tower[1] but received 0 of type number');
    expect(() => new SharedBottom(3, { tasks: 2, tower: 8 as never })).toThrow(/for options.tower/);
    expect(() => new SharedBottom(3, { tasks: 2, activation: 'swish' as never })).toThrow(/for options.activation/);
    expect(() => new SharedBottom(3, { tasks: 2, dropout: 1 })).toThrow(/for options.dropout/);
    const m = new SharedBottom(3, { tasks: 2, bottom: [4], tower: [] });
    expect(() => m.forward(tensor([[1, 2]]))).toThrow('Expected shape [batch, 3] for x but received [1,2]');
  });
});
