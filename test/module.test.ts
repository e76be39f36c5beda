import { describe, expect, it } from 'vitest';
import { ArgumentError, Dropout, init, Linear, manualSeed, MLP, Module, ReLU, Rng, Sequential, ShapeError, tensor, Tensor, zeros } from '../lib';

class Tower extends Module {
  fc1 = new Linear(4, 3);
  act = new ReLU();
  fc2 = new Linear(3, 1, { bias: false });
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

class TwoTowers extends Module {
  towers = [new Tower(), new Tower()];
  scale = zeros([1]); // a buffer: not a parameter
  forward(x: Tensor): Tensor {
    return this.towers[0].forward(x).add(this.towers[1].forward(x));
  }
}

describe('Module', () => {
  it('names parameters with dotted paths in declaration order; buffers apart', () => {
    const m = new TwoTowers();
    expect(m.namedParameters().map(([n]) => n)).toEqual([
      'towers.0.fc1.weight', 'towers.0.fc1.bias', 'towers.0.fc2.weight',
      'towers.1.fc1.weight', 'towers.1.fc1.bias', 'towers.1.fc2.weight',
    ]);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['scale']);
    expect(m.numParameters()).toBe(2 * (12 + 3 + 3));
    expect(Object.keys(m.stateDict())).toContain('scale');
  });

  it('train()/eval() reach every sub-module; Dropout is the identity in eval', () => {
    const m = new Sequential(new Linear(4, 4), new Dropout(0.5));
    m.eval();
    expect(m.layers.every((l) => !l.training)).toBe(true);
    const x = tensor([[1, 2, 3, 4]]);
    expect(m.forward(x).values()).toEqual(m.forward(x).values());
    m.train();
    expect(m.layers[1].training).toBe(true);
  });

  it('stateDict/loadStateDict round-trip in place; strict mode names mismatches', () => {
    manualSeed(1);
    const a = new TwoTowers();
    const b = new TwoTowers();
    const x = tensor([[0.1, -0.2, 0.3, 0.4]]);
    expect(a.forward(x).item()).not.toBeCloseTo(b.forward(x).item(), 6);
    const weightBefore = b.towers[0].fc1.weight;
    b.loadStateDict(a.stateDict());
    expect(b.towers[0].fc1.weight).toBe(weightBefore); // same tensor object, new values
    expect(b.forward(x).item()).toBeCloseTo(a.forward(x).item(), 6);
    const partial = { ...a.stateDict() };
    delete partial['towers.1.fc2.weight'];
    expect(() => b.loadStateDict(partial)).toThrow(ArgumentError);
    expect(() => b.loadStateDict(partial)).toThrow('missing [towers.1.fc2.weight]');
    b.loadStateDict(partial, { strict: false });
    expect(() => b.loadStateDict({ ...a.stateDict(), 'towers.0.fc1.bias': zeros([5]) })).toThrow(ShapeError);
  });

  it('seeded initializers are reproducible and follow their variance', () => {
    const w1 = init.heNormal([256, 128], { rng: new Rng(3) });
    const w2 = init.heNormal([256, 128], { rng: new Rng(3) });
    const a = w1.toArraySync() as Float32Array;
    expect(Array.from(a.slice(0, 8))).toEqual(Array.from((w2.toArraySync() as Float32Array).slice(0, 8)));
    const variance = a.reduce((s, v) => s + v * v, 0) / a.length;
    expect(variance).toBeGreaterThan(0.9 * (2 / 128));
    expect(variance).toBeLessThan(1.1 * (2 / 128));
    const u = init.xavierUniform([64, 32], { rng: new Rng(4) }).toArraySync() as Float32Array;
    const bound = Math.sqrt(6 / 96);
    expect(Math.max(...u)).toBeLessThanOrEqual(bound);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-bound);
  });

  it('MLP validates its options', () => {
    expect(() => new MLP(4, { hidden: [] })).toThrow('at least one layer');
    expect(new MLP(4, { hidden: [8], outFeatures: 2 }).parameters().length).toBe(4);
  });

  it('refuses an array of arrays of modules, whose parameters would be lost', () => {
    class Nested extends Module {
      towers = [[new Linear(2, 2)]];
      forward(): null {
        return null;
      }
    }
    expect(() => new Nested().parameters()).toThrow('Nested.towers[0] is an array of modules');
  });
});
