/** Test helper for the synthetic data generators: labels drawn with the stated probability. */
import { expect } from 'vitest';

/** Within probability bins of width 0.2 (those with > 500 samples), the click rate matches the mean probability to 0.03. */
export function expectCalibrated(probability: ArrayLike<number>, label: ArrayLike<number>): void {
  for (let lo = 0; lo < 1; lo += 0.2) {
    let n = 0;
    let clicks = 0;
    let p = 0;
    for (let i = 0; i < probability.length; ++i) {
      const v = probability[i];
      if (v >= lo && v < lo + 0.2) {
        n += 1;
        clicks += label[i];
        p += v;
      }
    }
    if (n > 500) expect(Math.abs(clicks / n - p / n)).toBeLessThan(0.03);
  }
}
