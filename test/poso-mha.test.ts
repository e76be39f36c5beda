/**
 * MultiHeadAttention and PosoMultiHeadAttention (every parameter checked against float64
 * finite differences through a reference built from the formula), lookupSequences (jagged ≡
 * padded, truncation keeps the most recent ids, padding never touches the table), and the
 * SequenceRanker trained end to end on synthetic behaviour sequences.
 */
import { describe, expect, it } from 'vitest';
import { EmbeddingTable, lookupSequences, MultiHeadAttention, PosoMultiHeadAttention, Rng, SequenceRanker, tensor } from '../lib';
import { runSequence } from '../examples/sequence-poso';
import { attentionRef, AttentionCfg } from './attention-reference';
import { numel, rand } from './gradcheck';
import { gateNURef, linearRef, moduleGradcheck } from './module-gradcheck';

const data = (rng: Rng, shape: number[]) => ({ data: rand(rng, numel(shape)), shape });

describe('MultiHeadAttention / PosoMultiHeadAttention', () => {
  const [B, L, QF, KF, PC] = [3, 5, 4, 3, 2];
  const lengths = [5, 2, 0];

  it('plain attention: projections, heads, key lengths and out_proj against float64 finite differences', () => {
    const rng = new Rng(11);
    const cfg: AttentionCfg = { B, Lq: 0, L, H: 2, dh: 3, N: 1, G: 0, gk: false, lengths };
    moduleGradcheck({
      name: 'MultiHeadAttention',
      module: new MultiHeadAttention({ queryFeatures: QF, keyFeatures: KF, dim: 6, heads: 2, rng }),
      inputs: [data(rng, [B, QF]), data(rng, [B, L, KF])],
      forward: (m, [xq, seq]) => (m as MultiHeadAttention).forward(xq, seq, { lengths }),
      ref: ([xq, seq], p) => {
        const q = linearRef(xq, B, p['query.weight'], 6, p['query.bias']);
        const k = linearRef(seq, B * L, p['key.weight'], 6, p['key.bias']);
        const v = linearRef(seq, B * L, p['value.weight'], 6, p['value.bias']);
        return linearRef(attentionRef(cfg, q, k, v, null, null), B, p['out.weight'], 6, p['out.bias']);
      },
    });
  });

  /** POSO attention (K gate, 3 value folds, C = 2/N, no out_proj) against its float64 reference. */
  const checkPoso = (name: string, seed: number, gatePerHead: boolean, floor: number) => {
    const rng = new Rng(seed);
    const [H, dh, N, hid] = [2, 2, 3, 3];
    const cfg: AttentionCfg = { B, Lq: 0, L, H, dh, N, G: gatePerHead ? H : 1, gk: true, lengths, scale: 2 / N };
    const module = new PosoMultiHeadAttention({ queryFeatures: QF, keyFeatures: KF, pcFeatures: PC, dim: H * dh, heads: H, valueFolds: N, gatePerHead, gateHidden: hid, ...(floor > 0 ? { valueGateFloor: floor } : {}), outputProjection: false, rng });
    expect(module.scale).toBeCloseTo(2 / 3, 7);
    moduleGradcheck({
      name,
      module,
      inputs: [data(rng, [B, QF]), data(rng, [B, L, KF]), data(rng, [B, PC])],
      forward: (m, [xq, seq, pc]) => (m as PosoMultiHeadAttention).forward(xq, seq, pc, { lengths }),
      ref: ([xq, seq, pc], p) => {
        const q = linearRef(xq, B, p['query.weight'], H * dh, p['query.bias']);
        const k = linearRef(seq, B * L, p['key.weight'], H * dh, p['key.bias']);
        const v = linearRef(seq, B * L, p['value.weight'], N * H * dh, p['value.bias']);
        const gk = gateNURef(pc, B, p, 'keyGate.', hid, H * dh, 2);
        const gv = gateNURef(pc, B, p, 'valueGate.', hid, N * (gatePerHead ? H : 1), 1).map((g) => floor + (1 - floor) * g);
        return attentionRef(cfg, q, k, v, gk, gv);
      },
    });
  };

  for (const gatePerHead of [false, true]) {
    it(`POSO attention (${gatePerHead ? 'a gate per fold and head' : 'a gate per fold'}): K gate, 3 value folds, C = 2/N, against float64 finite differences`, () => {
      checkPoso(`PosoMultiHeadAttention gatePerHead ${gatePerHead}`, gatePerHead ? 13 : 12, gatePerHead, 0);
    });
  }

  it('a value-gate floor: g = floor + (1 − floor)·σ(…), against float64 finite differences', () => {
    checkPoso('PosoMultiHeadAttention valueGateFloor', 14, false, 0.3);
    expect(() => new PosoMultiHeadAttention({ queryFeatures: 4, keyFeatures: 3, pcFeatures: 2, valueGateFloor: 1 })).toThrow('options.valueGateFloor');
  });

  it('names bad inputs', () => {
    const m = new PosoMultiHeadAttention({ queryFeatures: 4, keyFeatures: 3, pcFeatures: 2, dim: 4, heads: 2 });
    const f = (shape: number[]) => tensor(new Float32Array(numel(shape)), { shape });
    expect(() => m.forward(f([2, 5]), f([2, 3, 3]), f([2, 2]))).toThrow('for query but received [2,5]');
    expect(() => m.forward(f([2, 4]), f([3, 3, 3]), f([2, 2]))).toThrow('Expected shape [2, length, 3] for seq but received [3,3,3]');
    expect(() => m.forward(f([2, 4]), f([2, 3, 3]), f([2, 3]))).toThrow('Expected shape [2, 2] for pc but received [2,3]');
    expect(() => new MultiHeadAttention({ queryFeatures: 4, keyFeatures: 3, dim: 6, heads: 4 })).toThrow('Expected options.heads to divide options.dim 6 but received 4');
    expect(() => new PosoMultiHeadAttention({ queryFeatures: 4, keyFeatures: 3, pcFeatures: 2, valueFolds: 17 })).toThrow('options.valueFolds');
  });
});

describe('lookupSequences', () => {
  const table = () => new EmbeddingTable({ dim: 3, capacity: 64, seed: 5 });

  it('jagged and padded layouts give the same (B, L, dim) rows, zeros past each length', () => {
    const t = table();
    const jagged = lookupSequences(t, BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 6n]), [3, 0, 3]);
    const padded = lookupSequences(t, BigInt64Array.from([1n, 2n, 3n, 0n, 0n, 0n, 4n, 5n, 6n]), [3, 0, 3], { layout: 'padded' });
    expect(jagged.embeddings.shape).toEqual([3, 3, 3]);
    expect(padded.embeddings.values()).toEqual(jagged.embeddings.values());
    const rows = t.lookup([1n, 2n, 3n, 4n, 5n, 6n]).values();
    expect(jagged.embeddings.values()).toEqual([...rows.slice(0, 9), ...new Array(9).fill(0), ...rows.slice(9)]);
    expect(t.stats().size).toBe(6); // the padding id 0 was never inserted
    t.dispose();
  });

  it('maxLen keeps the most recent ids and never looks up the dropped ones; bad lengths are named', () => {
    const t = table();
    const s = lookupSequences(t, BigInt64Array.from([7n, 8n, 9n, 10n, 11n]), [4, 1], { maxLen: 2 });
    expect(Array.from(s.lengths)).toEqual([2, 1]);
    expect(s.embeddings.values()).toEqual([...t.lookup([9n, 10n, 11n]).values().slice(0, 6), ...t.lookup([11n]).values(), 0, 0, 0]);
    expect(t.contains([7n, 8n])).toEqual([false, false]);
    t.dispose();
    expect(() => lookupSequences(table(), BigInt64Array.from([1n, 2n]), [3])).toThrow('Expected 3 ids (the sum of lengths) for ids but received 2');
    expect(() => lookupSequences(table(), BigInt64Array.from([1n, 2n]), [3], { layout: 'padded' })).toThrow('lengths[0]');
  });
});

describe('SequenceRanker', () => {
  it('trains end to end on behaviour sequences: attention beats mean pooling, POSO attention learns', () => {
    const opts = { samples: 40_000, epochs: 4, data: { items: 200, categories: 10 } };
    const mean = runSequence({ pooling: 'mean', head: 'mlp', ...opts });
    const mha = runSequence({ pooling: 'attention', head: 'mlp', ...opts });
    const poso = runSequence({ pooling: 'poso-attention', head: 'poso-mlp', ...opts });
    expect(mha.auc).toBeGreaterThan(mean.auc + 0.04);
    expect(mha.auc).toBeGreaterThan(0.76);
    expect(poso.auc).toBeGreaterThan(0.68);
  }, 60_000);

  it("MMoE heads ('mmoe', 'poso-mmoe'): one logit per sample, gradients reach the experts and the personal gate", () => {
    for (const head of ['mmoe', 'poso-mmoe'] as const) {
      const table = new EmbeddingTable({ dim: 4, capacity: 64, seed: 3 });
      const m = new SequenceRanker({ table, pcFeatures: 2, pooling: 'attention', head, dim: 4, hidden: [8, 4] });
      const pc = tensor([[1, 0], [0, 1], [1, 0]]);
      const logits = m.forward({ candidate: BigInt64Array.from([1n, 2n, 3n]), history: BigInt64Array.from([4n, 5n, 6n, 7n]), lengths: [2, 0, 2], pc });
      expect(logits.shape).toEqual([3]);
      m.loss(logits, tensor([1, 0, 1])).backward();
      const grads = Object.fromEntries(m.namedParameters().map(([n, p]) => [n, p.grad?.values().some((v) => v !== 0) ?? false]));
      expect(grads['tower.experts.layers.0.weight']).toBe(true);
      if (head === 'poso-mmoe') expect(grads['tower.personal.fc2.weight']).toBe(true);
      table.dispose();
    }
  });
});
