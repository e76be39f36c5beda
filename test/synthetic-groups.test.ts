/** The synthetic imbalanced-group generator: determinism, the minority share, and labels drawn from the stated probability. */
import { describe, expect, it } from 'vitest';
import { syntheticGroups } from '../lib';
import { expectCalibrated } from './calibration';

describe('syntheticGroups', () => {
  it('is a function of its seeds and honours the minority share', () => {
    const a = syntheticGroups({ samples: 20_000, seed: 4 });
    const b = syntheticGroups({ samples: 20_000, seed: 4 });
    expect(a.label).toEqual(b.label);
    expect(a.dense).toEqual(b.dense);
    const other = syntheticGroups({ samples: 20_000, seed: 4, sampleSeed: 99 });
    expect(other.label).not.toEqual(a.label);
    const share = a.group.reduce((s, g) => s + g, 0) / a.samples;
    expect(share).toBeGreaterThan(0.04);
    expect(share).toBeLessThan(0.06);
    expect(Math.max(...a.item)).toBeLessThan(a.items);
  });
  it('draws labels with the stated probability, differently per group', () => {
    const d = syntheticGroups({ samples: 40_000, seed: 2, minorityShare: 0.5, similarity: -1 });
    expectCalibrated(d.probability, d.label);
    // similarity −1: the same item pushes the two groups in opposite directions.
    const itemMean = (g: number) => {
      let s = 0;
      let n = 0;
      d.item.forEach((it, i) => {
        if (it === 0 && d.group[i] === g) {
          s += d.probability[i];
          n += 1;
        }
      });
      return s / n;
    };
    expect(Math.abs(itemMean(0) - itemMean(1))).toBeGreaterThan(0.1);
  });
  it('names bad options', () => {
    expect(() => syntheticGroups({ samples: 0 })).toThrow(/options.samples/);
    expect(() => syntheticGroups({ samples: 10, similarity: 2 })).toThrow(/options.similarity/);
  });
});
