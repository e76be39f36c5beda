/**
 * MetaUnit, the generic generated-weight MLP (M2M meta unit, CAN co-action, PTUPCDR bridge):
 * against a float64 reference that generates each sample's weights and runs its MLP, with
 * every parameter's gradient and the gradients to x and z; errors naming the bad option.
 */
import { describe, expect, it } from 'vitest';
import { MetaUnit, Rng, tensor } from '../lib';
import { rand } from './gradcheck';
import { metaRef, moduleGradcheck } from './module-gradcheck';

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
