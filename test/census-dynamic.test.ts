/**
 * The dynamic-weight models trained on the bundled census-income data with sex as the
 * domain: after 2 epochs each reaches income > 0.93 and never married > 0.99 on the test
 * rows (a constant model scores 0.5), with the AUC reported per domain value as well.
 */
import { describe, expect, it } from 'vitest';
import { runCensusDynamic } from '../examples/census-dynamic';
import { loadCensusIncomeSync } from '../examples/data/census-income';

describe('dynamic-weight models on census-income', () => {
  const data = loadCensusIncomeSync();
  for (const model of ['apg-mlp', 'm2m', 'star'] as const) {
    it(`${model}: income > 0.93 and never married > 0.99 after 2 epochs, per domain too`, () => {
      const r = runCensusDynamic({ model, domain: 'sex', seed: 1, epochs: 2, data });
      expect(r.aucs.map((a) => `${a.task} ${a.domain}`)).toEqual(['income all', 'income Female', 'income Male', 'neverMarried all', 'neverMarried Female', 'neverMarried Male']);
      for (const a of r.aucs) expect(a.auc, `${a.task} ${a.domain}`).toBeGreaterThan(a.task === 'income' ? 0.9 : 0.99);
      expect(r.aucs[0].auc).toBeGreaterThan(0.93);
      expect(r.parameters).toBeGreaterThan(0);
    }, 120_000);
  }
});
