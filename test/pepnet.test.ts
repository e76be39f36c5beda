/**
 * PEPNet end to end: shapes, gradients reaching the shared table and every dense weight,
 * eval mode inserting nothing, training to a lower loss, and argument errors.
 */
import { describe, expect, it } from 'vitest';
import { EmbeddingTable, noGrad, PEPNet, Rng, tensor, tidy } from '../lib';

function model(tasks = 2, placement: 'lazy' | 'eager' = 'lazy') {
  const table = new EmbeddingTable({ dim: 4, capacity: 256, seed: 1, optimizer: { kind: 'adagrad', lr: 0.05 } });
  return new PEPNet({ table, fields: 3, domainFields: 1, priorFields: 2, denseFeatures: 2, tasks, hidden: [8, 4], placement, rng: new Rng(3) });
}

const ids = (rows: number[][]) => tensor(BigInt64Array.from(rows.flat().map(BigInt)), { shape: [rows.length, rows[0].length] });

describe('PEPNet', () => {
  it('maps a batch to (B, tasks) logits and trains every part', () => {
    const m = model();
    const batch = { ids: ids([[1, 2, 3], [4, 5, 6]]), domainIds: ids([[100], [101]]), priorIds: ids([[200, 300], [201, 301]]), dense: tensor([[0.5, -1], [1, 2]]) };
    const opt = m.optimizers({ denseLr: 1e-2 });
    const logits = m.forward(batch);
    expect(logits.shape).toEqual([2, 2]);
    const before = noGrad(() => m.table.eval().lookup([1, 100, 200]).values());
    m.table.train();
    m.loss(logits, tensor([[1, 0], [0, 1]])).backward();
    for (const [name, p] of m.namedParameters()) expect(p.grad, name).not.toBeNull();
    opt.step();
    const after = noGrad(() => m.table.eval().lookup([1, 100, 200]).values());
    // AdaGrad's first step moves every touched element by lr · sign(g) (or not at all).
    for (let i = 0; i < before.length; ++i) expect(Math.abs(after[i] - before[i])).toBeLessThanOrEqual(0.05 + 1e-6);
    expect(after.some((v, i) => Math.abs(v - before[i]) > 0.04)).toBe(true);
    m.table.dispose();
  });

  it('inserts no ids in eval mode', () => {
    const m = model(1, 'eager');
    m.eval();
    const out = noGrad(() => m.forward({ ids: ids([[7, 8, 9]]), domainIds: ids([[10]]), priorIds: ids([[11, 12]]), dense: tensor([[0, 0]]) }));
    expect(out.shape).toEqual([1, 1]);
    expect(m.table.size).toBe(0);
    m.table.dispose();
  });

  it('learns per-domain labels to a low loss', () => {
    const m = model(2);
    const opt = m.optimizers({ denseLr: 1e-2 });
    const rng = new Rng(4);
    // Task 0 clicks when field 0 is even in domain 0 and odd in domain 1; task 1 the reverse.
    const make = (n: number) => {
      const rows = Array.from({ length: n }, () => [rng.int(20), 20 + rng.int(5), 30 + rng.int(5)]);
      const dom = rows.map(() => rng.int(2));
      const y0 = rows.map((r, i) => ((r[0] % 2 === 0) !== (dom[i] === 1) ? 1 : 0));
      return {
        batch: { ids: ids(rows), domainIds: ids(dom.map((d) => [100 + d])), priorIds: ids(rows.map((r) => [r[1], r[2]])), dense: tensor(new Float32Array(n * 2), { shape: [n, 2] }) },
        labels: tensor(Float32Array.from(y0.flatMap((v) => [v, 1 - v])), { shape: [n, 2] }),
      };
    };
    let first = 0;
    let tail = 0;
    const steps = 300;
    for (let step = 0; step < steps; ++step) {
      const last = tidy(() => {
        const { batch, labels } = make(64);
        opt.zeroGrad();
        const loss = m.loss(m.forward(batch), labels);
        loss.backward();
        opt.step();
        return loss.item();
      });
      if (step === 0) first = last;
      if (step >= steps - 20) tail += last / 20;
    }
    expect(first).toBeGreaterThan(1.2); // two tasks near ln 2 each
    expect(tail).toBeLessThan(0.1);
    m.table.dispose();
  });

  it('names bad arguments', () => {
    const m = model();
    const ok = { ids: ids([[1, 2, 3]]), domainIds: ids([[4]]), priorIds: ids([[5, 6]]), dense: tensor([[0, 0]]) };
    expect(() => m.forward({ ...ok, ids: ids([[1, 2]]) })).toThrow('Expected shape [batch, 3] for batch.ids but received [1,2]');
    expect(() => m.forward({ ...ok, priorIds: tensor([[5, 6]]) })).toThrow(/batch.priorIds/);
    expect(() => m.forward({ ...ok, dense: tensor([[0, 0, 0]]) })).toThrow('Expected shape [1, 2] for batch.dense but received [1,3]');
    expect(() => new PEPNet({ table: {} as never, fields: 1, domainFields: 1, priorFields: 1 })).toThrow(/options.table/);
    m.table.dispose();
  });
});
