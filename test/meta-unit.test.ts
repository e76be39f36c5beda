/**
 * MetaUnit, the generic generated-weight MLP (M2M meta unit, CAN co-action, PTUPCDR bridge):
 * against a float64 reference that generates each sample's weights and runs its MLP, with
 * every parameter's gradient and the gradients to x and z; errors naming the bad option.
 */
import { describe, expect, it } from 'vitest';
import { MetaUnit, Rng, tensor } from '../lib';
import type { Activation } from '../lib';
import { actRef, rand } from './gradcheck';
import { linearRef, moduleGradcheck } from './module-gradcheck';

function metaRef(x: Float64Array, z: Float64Array, p: Record<string, Float64Array>, B: number, shapes: [number, number][], bias: boolean, acts: Activation[]): Float64Array {
  const total = shapes.reduce((s, [i, o]) => s + i * o + (bias ? o : 0), 0);
  const g = linearRef(z, B, p['generator.layers.0.weight'], total, p['generator.layers.0.bias']);
  let h = x;
  let width = shapes[0][0];
  let at = 0;
  shapes.forEach(([inF, outF], l) => {
    const next = new Float64Array(B * outF);
    for (let b = 0; b < B; ++b) {
      const row = g.subarray(b * total, (b + 1) * total);
      for (let j = 0; j < outF; ++j) {
        let acc = bias ? row[at + inF * outF + j] : 0;
        for (let i = 0; i < inF; ++i) acc += (h[b * width + i] * row[at + i * outF + j]) / Math.sqrt(inF);
        next[b * outF + j] = actRef[acts[l]](acc);
      }
    }
    at += inF * outF + (bias ? outF : 0);
    h = next;
    width = outF;
  });
  return h;
}

describe('MetaUnit', () => {
  it('a generated 2-layer MLP (M2M meta unit / CAN co-action): every gradient', () => {
    const rng = new Rng(1);
    const [B, IN, Z] = [3, 4, 5];
    moduleGradcheck({
      name: 'MetaUnit 4→3→2',
      module: new MetaUnit(IN, { condFeatures: Z, hidden: [3], outFeatures: 2, activation: 'tanh', rng }),
      inputs: [
        { data: rand(rng, B * IN), shape: [B, IN] },
        { data: rand(rng, B * Z), shape: [B, Z] },
      ],
      forward: (m, [x, z]) => (m as MetaUnit).forward(x, z),
      ref: ([x, z], p) => metaRef(x, z, p, B, [[4, 3], [3, 2]], true, ['tanh', 'identity']),
    });
  });

  it("a generated bridge matrix without bias (PTUPCDR): x's width kept", () => {
    const rng = new Rng(2);
    const [B, D, Z] = [4, 3, 2];
    const m = new MetaUnit(D, { condFeatures: Z, bias: false, rng });
    expect(m.layerShapes).toEqual([[3, 3]]);
    moduleGradcheck({
      name: 'MetaUnit bridge',
      module: m,
      inputs: [
        { data: rand(rng, B * D), shape: [B, D] },
        { data: rand(rng, B * Z), shape: [B, Z] },
      ],
      forward: (mod, [x, z]) => (mod as MetaUnit).forward(x, z),
      ref: ([x, z], p) => metaRef(x, z, p, B, [[3, 3]], false, ['identity']),
    });
  });

  it('refuses bad options and inputs, naming them', () => {
    expect(() => new MetaUnit(4, {} as never)).toThrow('options.condFeatures');
    expect(() => new MetaUnit(4, { condFeatures: 2, hidden: [0] })).toThrow('options.hidden[0]');
    const m = new MetaUnit(4, { condFeatures: 2 });
    expect(() => m.forward(tensor(new Float32Array(8), { shape: [2, 4] }), tensor(new Float32Array(3), { shape: [1, 3] }))).toThrow('Expected shape [2, 2] for z but received [1,3]');
  });
});
