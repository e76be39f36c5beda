/**
 * Ranking metrics: auc against hand-computed values and an O(n²) pairwise count (ties,
 * weights), groupedAuc and gauc against a hand example, logloss, and the errors' text.
 */
import { describe, expect, it } from 'vitest';
import { ArgumentError, auc, gauc, groupedAuc, logloss, Rng } from '../lib';

/** The definition: Σ over (positive, negative) pairs of w⁺w⁻·[s⁺ > s⁻ + ½·(s⁺ = s⁻)] / Σ w⁺w⁻. */
function pairwiseAuc(s: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < s.length; ++i) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < s.length; ++j) {
      if (y[j] !== 0) continue;
      const pw = w ? w[i] * w[j] : 1;
      num += pw * (s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0);
      den += pw;
    }
  }
  return den > 0 ? num / den : NaN;
}

describe('auc', () => {
  it("matches sklearn's documented example", () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
  });

  it('counts a tie between a positive and a negative as one half', () => {
    // pairs: (0.5, 0.5) ½, (0.5, 0.2) 1, (0.9, 0.5) 1, (0.9, 0.2) 1 → 3.5 / 4
    expect(auc([0.5, 0.5, 0.2, 0.9], [0, 1, 0, 1])).toBe(0.875);
    expect(auc(new Float32Array([3, 3, 3, 3, 3]), new Uint8Array([0, 1, 1, 0, 1]))).toBe(0.5);
    expect(auc([1, 2, 3, 4], [0, 0, 1, 1])).toBe(1);
    expect(auc([4, 3, 2, 1], [0, 0, 1, 1])).toBe(0);
    expect(auc([-Infinity, 0, Infinity, Infinity], [0, 1, 0, 1])).toBe(0.625); // 1 + 0 + 1 + ½
  });

  it('weights each pair by w⁺·w⁻ (integer weights equal repeated rows)', () => {
    // pos 0.35 (w 3) beats 0.1 (w 1): 3; pos 0.8 (w 4) beats both (w 1 + 2): 12 → 15 / (7 · 3)
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], [1, 2, 3, 4])).toBeCloseTo(5 / 7, 15);
    expect(auc([0.1, 0.4, 0.4, 0.35, 0.35, 0.35, 0.8, 0.8, 0.8, 0.8], [0, 0, 0, 1, 1, 1, 1, 1, 1, 1])).toBeCloseTo(5 / 7, 15);
    // Zero weights drop rows.
    expect(auc([0.1, 0.9, 0.5, 0.3], [0, 1, 1, 0], [1, 1, 0, 0])).toBe(1);
  });

  it('equals the pairwise count on random data with many ties, weighted or not', () => {
    const rng = new Rng(5);
    for (const n of [1, 2, 17, 300, 1000]) {
      const s = new Float32Array(n).map(() => rng.int(12) / 4 - 1);
      const y = new Uint8Array(n).map(() => (rng.uniform() < 0.3 ? 1 : 0));
      const w = new Float64Array(n).map(() => rng.int(4) * 0.5);
      const want = pairwiseAuc(s, y);
      if (Number.isNaN(want)) expect(auc(s, y)).toBeNaN();
      else expect(auc(s, y)).toBeCloseTo(want, 12);
      const wantW = pairwiseAuc(s, y, w);
      if (Number.isNaN(wantW)) expect(auc(s, y, w)).toBeNaN();
      else expect(auc(s, y, w)).toBeCloseTo(wantW, 12);
    }
  });

  it('is NaN when only one class is present, or for an empty input', () => {
    expect(auc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(auc([0.1, 0.2], [0, 0])).toBeNaN();
    expect(auc([0.1, 0.2], [0, 1], [1, 0])).toBeNaN();
    expect(auc([], [])).toBeNaN();
  });

  it('names the bad argument', () => {
    expect(() => auc([0.1, 0.2], [0, 2])).toThrow(ArgumentError);
    expect(() => auc([0.1, 0.2], [0, 2])).toThrow('Expected 0 or 1 for labels[1] but received 2 of type number');
    expect(() => auc([0.1, NaN], [0, 1])).toThrow('Expected a number (not NaN) for scores[1] but received NaN of type number');
    expect(() => auc([0.1, 0.2, 0.3], [0, 1])).toThrow('Expected 3 labels (one per score) for labels but received 2');
    expect(() => auc([0.1, 0.2], [0, 1], [1])).toThrow('Expected 2 weights (one per score) for weights but received 1');
    expect(() => auc([0.1, 0.2], [0, 1], [1, -1])).toThrow('Expected a finite non-negative number for weights[1] but received -1 of type number');
    expect(() => auc('0.1' as never, [0])).toThrow("Expected an array or typed array of numbers for scores but received '0.1' of type string");
    expect(() => auc(new BigInt64Array(1) as never, [0])).toThrow('Expected an array or typed array of numbers for scores but received BigInt64Array of type object');
    expect(() => auc([0.5], [true] as never)).toThrow('Expected 0 or 1 for labels[0] but received true of type boolean');
  });
});

describe('groupedAuc and gauc', () => {
  // user a: AUC 1 (3 rows); b: AUC 0 (2 rows); c: positives only (2 rows);
  // d: pairs (0.3, 0.3) ½, (0.3, 0.1) 1, (0.2, 0.3) 0, (0.2, 0.1) 1 → 0.625 (4 rows).
  const users = ['a', 'b', 'a', 'c', 'd', 'd', 'b', 'c', 'a', 'd', 'd'];
  const scores = [0.9, 0.2, 0.1, 0.4, 0.3, 0.3, 0.8, 0.6, 0.5, 0.1, 0.2];
  const labels = [1, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1];

  it('gives each group its AUC, rows and positives, in order of first appearance', () => {
    const g = groupedAuc(scores, labels, users);
    expect([...g.keys()]).toEqual(['a', 'b', 'c', 'd']);
    expect(g.get('a')).toEqual({ auc: 1, n: 3, positives: 1 });
    expect(g.get('b')).toEqual({ auc: 0, n: 2, positives: 1 });
    expect(g.get('c')!.auc).toBeNaN();
    expect(g.get('c')!.n).toBe(2);
    expect(g.get('c')!.positives).toBe(2);
    expect(g.get('d')).toEqual({ auc: 0.625, n: 4, positives: 2 });
  });

  it('GAUC is the row-weighted mean over users having both classes', () => {
    // (3·1 + 2·0 + 4·0.625) / (3 + 2 + 4); user c is left out.
    expect(gauc(scores, labels, users)).toBeCloseTo(5.5 / 9, 15);
    expect(gauc([0.1, 0.2], [1, 1], [1, 2])).toBeNaN();
  });

  it('takes number, bigint and typed-array group ids (1 and 1n are different groups)', () => {
    const asNum = users.map((u) => u.charCodeAt(0));
    expect(gauc(scores, labels, new Int32Array(asNum))).toBeCloseTo(5.5 / 9, 15);
    expect(gauc(scores, labels, BigInt64Array.from(asNum, BigInt))).toBeCloseTo(5.5 / 9, 15);
    const mixed = groupedAuc([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1], [1, 1, 1n, 1n]);
    expect(mixed.size).toBe(2);
    expect(mixed.get(1)!.auc).toBe(1);
    expect(mixed.get(1n)!.auc).toBe(1);
  });

  it('agrees with auc on each group of random data', () => {
    const rng = new Rng(9);
    const n = 2000;
    const s = new Float32Array(n).map(() => rng.int(20));
    const y = new Uint8Array(n).map(() => (rng.uniform() < 0.2 ? 1 : 0));
    const u = new Int32Array(n).map(() => rng.int(50));
    for (const [user, g] of groupedAuc(s, y, u)) {
      const mine = [...u.keys()].filter((i) => u[i] === user);
      const want = auc(mine.map((i) => s[i]), mine.map((i) => y[i]));
      if (Number.isNaN(want)) expect(g.auc).toBeNaN();
      else expect(g.auc).toBe(want);
      expect(g.n).toBe(mine.length);
    }
  });

  it('names the bad argument', () => {
    expect(() => gauc([0.1, 0.2], [0, 1], [1])).toThrow('Expected 2 group ids (one per score) for groups but received 1');
    expect(() => groupedAuc([0.1, 0.2], [0, 1], [1, NaN])).toThrow('Expected a group id (a number, a string or a bigint) for groups[1] but received NaN of type number');
    expect(() => groupedAuc([0.1, 0.2], [0, 1], [1, null] as never)).toThrow('for groups[1] but received null of type null');
    expect(() => gauc([0.1, 0.2], [0, 1], 'ab' as never)).toThrow(ArgumentError);
  });
});

describe('logloss', () => {
  it('is the mean binary cross-entropy', () => {
    const want = -(Math.log(0.9) + Math.log(1 - 0.2) + Math.log(0.6)) / 3;
    expect(logloss([0.9, 0.2, 0.6], [1, 0, 1])).toBeCloseTo(want, 14);
    expect(logloss(new Float32Array([0.5, 0.5]), new Uint8Array([0, 1]))).toBeCloseTo(Math.LN2, 14);
    expect(logloss([], [])).toBeNaN();
  });

  it('clips probabilities at 1e-7', () => {
    expect(logloss([0, 1], [1, 0])).toBeCloseTo(-Math.log(1e-7), 8);
    expect(logloss([1, 0], [1, 0])).toBeCloseTo(-Math.log(1 - 1e-7), 14);
  });

  it('names the bad argument', () => {
    expect(() => logloss([0.5, 1.5], [0, 1])).toThrow('Expected a probability in [0, 1] for probs[1] but received 1.5 of type number');
    expect(() => logloss([0.5, NaN], [0, 1])).toThrow('for probs[1] but received NaN');
    expect(() => logloss([0.5], [0, 1])).toThrow('Expected 1 labels (one per probability) for labels but received 2');
  });
});
