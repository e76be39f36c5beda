/**
 * The synthetic behaviour-sequence generator: determinism from its seeds, the minority share,
 * the histories' lengths and offsets, labels drawn from the stated probability, the two
 * groups' different history–candidate relations, and the padded / jagged history batches.
 */
import { describe, expect, it } from 'vitest';
import { auc, padHistories, sliceHistories, syntheticSequences } from '../lib';
import type { SyntheticSequences } from '../lib';
import { expectCalibrated } from './calibration';

/** The history of sample b as numbers. */
const historyOf = (d: SyntheticSequences, b: number) => Array.from(d.history.subarray(d.offsets[b], d.offsets[b + 1]), Number);

/** m: the number of history items of the candidate's category (rule 'same') or of π(its category) (rule 'shift'). */
function matches(d: SyntheticSequences, b: number, rule: 'same' | 'shift'): number {
  const c = d.itemCategory[Number(d.candidate[b])];
  const relevant = rule === 'same' ? c : d.categoryShift[c];
  return historyOf(d, b).filter((item) => d.itemCategory[item] === relevant).length;
}

describe('syntheticSequences', () => {
  it('is a function of its seeds; sampleSeed redraws the samples of the same world', () => {
    const a = syntheticSequences({ samples: 2_000, seed: 4 });
    const b = syntheticSequences({ samples: 2_000, seed: 4 });
    expect(b).toEqual(a);
    const other = syntheticSequences({ samples: 2_000, seed: 4, sampleSeed: 99 });
    expect(other.itemCategory).toEqual(a.itemCategory);
    expect(other.categoryShift).toEqual(a.categoryShift);
    expect(other.candidate).not.toEqual(a.candidate);
    expect(other.label).not.toEqual(a.label);
    const world = syntheticSequences({ samples: 2_000, seed: 5 });
    expect(world.itemCategory).not.toEqual(a.itemCategory);
    // π is a derangement of the categories; every category has items.
    expect([...a.categoryShift].sort((x, y) => x - y)).toEqual([...Array(a.categories).keys()]);
    a.categoryShift.forEach((v, c) => expect(v).not.toBe(c));
    expect(new Set(a.itemCategory).size).toBe(a.categories);
  });

  it('honours the minority share, the history lengths and the offsets', () => {
    const d = syntheticSequences({ samples: 20_000, seed: 3, minLen: 4, maxLen: 9 });
    expect([d.items, d.categories, d.maxLen]).toEqual([1000, 20, 9]);
    const share = d.group.reduce((s, g) => s + g, 0) / d.samples;
    expect(share).toBeGreaterThan(0.09);
    expect(share).toBeLessThan(0.11);
    expect(d.offsets.length).toBe(d.samples + 1);
    expect(d.offsets[0]).toBe(0);
    expect(d.offsets[d.samples]).toBe(d.history.length);
    const seen = new Set<number>();
    for (let b = 0; b < d.samples; ++b) seen.add(d.offsets[b + 1] - d.offsets[b]);
    expect([...seen].sort((x, y) => x - y)).toEqual([4, 5, 6, 7, 8, 9]);
    for (const ids of [d.history, d.candidate]) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of ids) {
        lo = Math.min(lo, Number(v));
        hi = Math.max(hi, Number(v));
      }
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThan(d.items);
    }
    expect(d.label.every((y) => y === 0 || y === 1)).toBe(true);
  });

  it('draws labels with the stated probability; the groups relate history and candidate differently', () => {
    const d = syntheticSequences({ samples: 40_000, seed: 2, minorityShare: 0.5 });
    const rate = d.label.reduce((s, y) => s + y, 0) / d.samples;
    expect(rate).toBeGreaterThan(0.2);
    expect(rate).toBeLessThan(0.4);
    expectCalibrated(d.probability, d.label);
    // The majority clicks on matches of the candidate's category, the minority on matches of π(category).
    for (const g of [0, 1]) {
      const rows = [...d.group.keys()].filter((b) => d.group[b] === g);
      const labels = rows.map((b) => d.label[b]);
      const oracle = auc(rows.map((b) => d.probability[b]), labels);
      const same = auc(rows.map((b) => matches(d, b, 'same')), labels);
      const shift = auc(rows.map((b) => matches(d, b, 'shift')), labels);
      expect(oracle).toBeGreaterThan(0.8);
      expect(oracle).toBeLessThan(0.92);
      expect(g === 0 ? same : shift).toBeGreaterThan(0.65);
      expect(g === 0 ? shift : same).toBeLessThan(0.58);
    }
  });

  it('pads, truncates and slices the histories of chosen rows', () => {
    const d = syntheticSequences({ samples: 50, seed: 7, minLen: 2, maxLen: 12 });
    const rows = [3, 0, 3, 49, 17];
    const full = padHistories(d, rows);
    const longest = Math.max(...rows.map((b) => historyOf(d, b).length));
    expect(full.maxLen).toBe(longest);
    expect(full.ids.length).toBe(rows.length * longest);
    rows.forEach((b, i) => {
      const h = historyOf(d, b);
      expect(full.lengths[i]).toBe(h.length);
      const row = Array.from(full.ids.subarray(i * longest, (i + 1) * longest), Number);
      expect(row).toEqual([...h, ...Array(longest - h.length).fill(0)]);
    });
    // Truncation keeps the most recent items.
    const short = padHistories(d, rows, 3);
    expect(short.maxLen).toBe(3);
    rows.forEach((b, i) => {
      const h = historyOf(d, b).slice(-3);
      expect(short.lengths[i]).toBe(h.length);
      expect(Array.from(short.ids.subarray(i * 3, i * 3 + h.length), Number)).toEqual(h);
    });
    const empty = padHistories(d, []);
    expect([empty.ids.length, empty.lengths.length, empty.maxLen]).toEqual([0, 0, 0]);

    const jagged = sliceHistories(d, new Int32Array(rows));
    expect(jagged.offsets.length).toBe(rows.length + 1);
    rows.forEach((b, i) => {
      expect(Array.from(jagged.ids.subarray(jagged.offsets[i], jagged.offsets[i + 1]), Number)).toEqual(historyOf(d, b));
    });
    expect(jagged.offsets[rows.length]).toBe(jagged.ids.length);
  });

  it('names bad options and arguments', () => {
    expect(() => syntheticSequences({ samples: 0 })).toThrow(/options.samples/);
    expect(() => syntheticSequences({ samples: 10, categories: 1 })).toThrow(/options.categories/);
    expect(() => syntheticSequences({ samples: 10, items: 5, categories: 6 })).toThrow(/options.items/);
    expect(() => syntheticSequences({ samples: 10, minorityShare: 1.5 })).toThrow(/options.minorityShare/);
    expect(() => syntheticSequences({ samples: 10, minLen: 0 })).toThrow(/options.minLen/);
    expect(() => syntheticSequences({ samples: 10, minLen: 8, maxLen: 7 })).toThrow(/options.maxLen/);
    expect(() => syntheticSequences({ samples: 10, focus: -0.1 })).toThrow(/options.focus/);
    expect(() => syntheticSequences({ samples: 10, signal: NaN })).toThrow(/options.signal/);
    expect(() => syntheticSequences({ samples: 10, popularity: -1 })).toThrow(/options.popularity/);
    expect(() => syntheticSequences({ samples: 10, seed: 1.5 })).toThrow(/options.seed/);
    expect(() => syntheticSequences({ samples: 10, sampleSeed: -1 })).toThrow(/options.sampleSeed/);
    expect(() => syntheticSequences({ samples: 10, maxlen: 7 } as never)).toThrow(/options.maxlen/);
    const d = syntheticSequences({ samples: 10 });
    expect(() => padHistories(d, [0, 10])).toThrow(/rows\[1\]/);
    expect(() => padHistories(d, [0], 0)).toThrow(/maxLen/);
    expect(() => sliceHistories(d, [-1])).toThrow(/rows\[0\]/);
    expect(() => sliceHistories(d, [0.5])).toThrow(/rows\[0\]/);
  });
});
