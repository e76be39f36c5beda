/**
 * The service's metrics against values worked out by hand: AUC by pair counting, log loss of
 * σ(logit), GAUC over users, MSE, per task and per domain, with masked (missing) labels left
 * out; the table formatting; errors naming the bad argument.
 */
import { describe, expect, it } from 'vitest';
import { formatTaskMetrics, meanSquaredError, taskMetrics } from '../lib';

const logit = (p: number) => Math.log(p / (1 - p));

describe('taskMetrics', () => {
  // 6 rows, tasks: click (binary), watch (regression); domains a (rows 0–3) and b (rows 4–5).
  const p = [0.1, 0.4, 0.35, 0.8, 0.7, 0.2];
  const y = [0, 0, 1, 1, 1, 0];
  const pred = [1, 2, 3, 4, 5, 6];
  const target = [1, 3, 3, 2, 5, 9];
  const outputs = p.flatMap((v, i) => [logit(v), pred[i]]);
  const labels = y.flatMap((v, i) => [v, target[i]]);
  const mask = [1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1]; // row 3's watch label is missing

  it('AUC, log loss, MSE per task, overall and per domain; masked labels left out', () => {
    const m = taskMetrics({ outputs, labels, mask, tasks: ['click', 'watch'], kinds: ['binary', 'regression'], domains: { ids: [0, 0, 0, 0, 1, 1], names: ['a', 'b'] } });
    expect(m.map((r) => `${r.task} ${r.domain} ${r.n}`)).toEqual(['click all 6', 'click a 4', 'click b 2', 'watch all 5', 'watch a 3', 'watch b 2']);
    // click, all rows: positives {0.35, 0.8, 0.7}, negatives {0.1, 0.4, 0.2}: 8 of 9 pairs ordered.
    expect(m[0].auc).toBeCloseTo(8 / 9, 12);
    const ll = -(Math.log(0.9) + Math.log(0.6) + Math.log(0.35) + Math.log(0.8) + Math.log(0.7) + Math.log(0.8)) / 6;
    expect(m[0].logloss).toBeCloseTo(ll, 6);
    expect(m[1].auc).toBeCloseTo(0.75, 12); // the classic 0.1/0.4/0.35/0.8 example
    expect(m[2].auc).toBe(1);
    expect(m[3].mse).toBeCloseTo((0 + 1 + 0 + 0 + 9) / 5, 12);
    expect(m[4].mse).toBeCloseTo(1 / 3, 12);
    expect(m[5].mse).toBeCloseTo(4.5, 12);
    expect(m[0].mse).toBeUndefined();
    expect(m[3].auc).toBeUndefined();
  });

  it('sample weights: a row of weight w counts as the row w times (AUC, log loss, MSE, per domain); GAUC is not weighted', () => {
    const w = [2, 0, 1, 3, 1, 2];
    const domains = { ids: [0, 0, 0, 0, 1, 1], names: ['a', 'b'] };
    const rep = w.flatMap((c, i) => Array(c).fill(i) as number[]);
    const weighted = taskMetrics({ outputs, labels, tasks: ['click', 'watch'], kinds: ['binary', 'regression'], domains, weights: w });
    const repeated = taskMetrics({
      outputs: rep.flatMap((i) => [outputs[2 * i], outputs[2 * i + 1]]),
      labels: rep.flatMap((i) => [labels[2 * i], labels[2 * i + 1]]),
      tasks: ['click', 'watch'],
      kinds: ['binary', 'regression'],
      domains: { ids: rep.map((i) => domains.ids[i]), names: domains.names },
    });
    const plain = taskMetrics({ outputs, labels, tasks: ['click', 'watch'], kinds: ['binary', 'regression'], domains });
    for (const [i, m] of weighted.entries()) {
      for (const k of ['auc', 'logloss', 'mse'] as const) if (m[k] !== undefined) expect(m[k]).toBeCloseTo(repeated[i][k] as number, 12);
      expect(m.n).toBe(plain[i].n); // n still counts rows
    }
    expect(weighted[0].logloss).not.toBeCloseTo(plain[0].logloss as number, 3);
    expect(() => taskMetrics({ outputs, labels, tasks: ['click', 'watch'], weights: [1, 1, -1, 1, 1, 1] })).toThrow(/weights\[2\]/);
    expect(() => taskMetrics({ outputs, labels, tasks: ['click', 'watch'], weights: [1, 1] })).toThrow(/weights/);
  });

  it('GAUC over users: the impression-weighted mean of the users with both classes', () => {
    const m = taskMetrics({ outputs, labels, tasks: ['click', 'watch'], kinds: ['binary', 'regression'], users: ['u', 'u', 'u', 'u', 'v', 'w'] });
    expect(m[0].gauc).toBeCloseTo(0.75, 12); // u: AUC 0.75 over 4 rows; v and w have one class
  });

  it('formats a Markdown table and names bad inputs', () => {
    const table = formatTaskMetrics(taskMetrics({ outputs: [0, 1], labels: [0, 1], tasks: ['click'] }));
    expect(table.split('\n')).toEqual(['| task | domain | rows | auc | logloss |', '|---|---|---|---|---|', '| click | all | 2 | 1.0000 | 0.5032 |']);
    expect(() => taskMetrics({ outputs: [0, 1, 2], labels: [0, 1, 1], tasks: ['a', 'b'] })).toThrow('Expected outputs of length N × 2');
    expect(() => taskMetrics({ outputs: [0, 1], labels: [0, 1], tasks: ['a'], domains: { ids: [0], names: ['x'] } })).toThrow('Expected 2 domain ids (one per row) for domains.ids but received 1');
    expect(() => meanSquaredError([1, NaN], [1, 2])).toThrow('predictions[1]');
  });
});
