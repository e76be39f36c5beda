/**
 * Multi-task models trained on the bundled census-income data: MMoE with gate dropout,
 * POSO-MMoE and the Shared-Bottom baseline reach, after 2 epochs, AUCs far above a constant
 * model (0.5) and near a one-hot logistic regression (0.940 income / 0.994 never married);
 * the gates' utilization is measured on the test rows and sums to 1 per task.
 */
import { describe, expect, it } from 'vitest';
import { runCensusMtl } from '../examples/census-mmoe';
import { loadCensusIncomeSync } from '../examples/data/census-income';

describe('multi-task models on census-income', () => {
  const data = loadCensusIncomeSync();
  for (const model of ['shared-bottom', 'mmoe-gate-dropout', 'poso-mmoe'] as const) {
    it(`${model}: income > 0.93 and never married > 0.99 on the test rows after 2 epochs`, () => {
      const r = runCensusMtl({ model, seed: 1, epochs: 2, data });
      expect(r.aucs.map((a) => a.task)).toEqual(['income', 'neverMarried']);
      expect(r.aucs[0].auc).toBeGreaterThan(0.93);
      expect(r.aucs[1].auc).toBeGreaterThan(0.99);
      if (model === 'shared-bottom') expect(r.utilization).toBeNull();
      else {
        for (const u of r.utilization ?? []) {
          expect(u.samples).toBe(data.splits.test.length);
          expect(u.meanGate.reduce((s, g) => s + g, 0)).toBeCloseTo(1, 4);
          expect(u.meanMaxGate).toBeGreaterThan(1 / 8);
        }
      }
    }, 120_000);
  }
});
