/**
 * EmbeddingTable's backward and sparse optimizers: the per-id gradient (duplicates summed,
 * bags pooled by sum or mean with weights) read back through SGD with lr 1, the gradient of
 * per-id weights against finite differences, AdaGrad and Adam against float64 references,
 * several lookups of one table in one step, and training that converges.
 */
import { describe, expect, it } from 'vitest';
import { Adam, EmbeddingTable, noGrad, Linear, mse, OptimizerSet, Rng, SparseOptimizer, tensor, Tensor, setBackend } from '../lib';

// These are CPU checks (float64 references, host memory statistics, the CPU table's export);
// they pin the CPU backend so that a machine whose default is CUDA runs them unchanged.
setBackend('cpu');

function randn(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Rows of `ids` as float64 arrays (inserting the missing ones, recording no gradient). */
function rowsOf(t: EmbeddingTable, ids: number[]): number[][] {
  const wasTraining = t.training;
  noGrad(() => t.lookup(ids));
  t.eval();
  const v = t.lookup(ids).values();
  t.train(wasTraining);
  return ids.map((_, i) => Array.from(v.slice(i * t.dim, (i + 1) * t.dim)));
}

function expectClose(a: number[][], b: number[][], tol = 1e-5): void {
  a.forEach((row, i) => row.forEach((x, j) => expect(Math.abs(x - b[i][j])).toBeLessThan(tol * (1 + Math.abs(b[i][j])))));
}

const sgd1 = (dim: number) => new EmbeddingTable({ dim, capacity: 64, device: 'cpu', seed: 3, init: 'uniform', initScale: 1, optimizer: { kind: 'sgd', lr: 1 } });

describe('EmbeddingTable backward', () => {
  it('sums the gradient of repeated ids (lookup)', () => {
    const rng = new Rng(1);
    const t = sgd1(6);
    const ids = [4, 9, 4, -2, 4, 9];
    const uniq = [4, 9, -2];
    const before = rowsOf(t, uniq);
    const g = randn(rng, ids.length * 6);
    t.lookup(ids).backward(tensor(g, { shape: [ids.length, 6] }));
    new SparseOptimizer(t).step();
    const want = before.map((row, u) => row.map((w, j) => w - ids.reduce((s, id, p) => s + (id === uniq[u] ? g[p * 6 + j] : 0), 0)));
    expectClose(rowsOf(t, uniq), want);
    t.dispose();
  });

  for (const mode of ['sum', 'mean'] as const) {
    it(`pools the gradient of bags (${mode}, weighted)`, () => {
      const rng = new Rng(2);
      const t = sgd1(5);
      const ids = [1, 2, 1, 3, 2, 2, 7];
      const offsets = [0, 3, 3, 5];
      const weights = [0.5, -1, 2, 1.5, 0.25, 3, -0.75];
      const uniq = [1, 2, 3, 7];
      const before = rowsOf(t, uniq);
      const g = randn(rng, offsets.length * 5);
      t.lookupBag(ids, offsets, { mode, weights }).backward(tensor(g, { shape: [offsets.length, 5] }));
      new SparseOptimizer(t).step();
      const bagOf = (p: number) => offsets.filter((o) => o <= p).length - 1;
      const len = (b: number) => (b + 1 < offsets.length ? offsets[b + 1] : ids.length) - offsets[b];
      const want = before.map((row, u) =>
        row.map((w, j) => w - ids.reduce((s, id, p) => s + (id === uniq[u] ? (weights[p] / (mode === 'mean' ? len(bagOf(p)) : 1)) * g[bagOf(p) * 5 + j] : 0), 0)),
      );
      expectClose(rowsOf(t, uniq), want);
      t.dispose();
    });
  }

  it('gives per-id weights their gradient (finite differences)', () => {
    const rng = new Rng(3);
    const t = sgd1(4);
    const ids = [1, 2, 1, 3];
    const offsets = [0, 2];
    t.lookup(ids); // rows exist before the check
    const w0 = Float32Array.from([0.3, -0.7, 1.1, 0.4]);
    const g = tensor(randn(rng, 2 * 4), { shape: [2, 4] });
    const loss = (w: Tensor) => t.lookupBag(ids, offsets, { mode: 'mean', weights: w }).mul(g).sum();
    const w = tensor(w0, { requiresGrad: true });
    loss(w).backward();
    const analytic = w.grad!.values();
    t.clearGradients();
    t.eval();
    for (let p = 0; p < 4; ++p) {
      const h = 1e-2;
      const at = (d: number) => loss(tensor(w0.map((x, i) => (i === p ? x + d : x)))).values()[0];
      expect(analytic[p]).toBeCloseTo((at(h) - at(-h)) / (2 * h), 4);
    }
    t.dispose();
  });

  it('merges several lookups of one table in one step', () => {
    const rng = new Rng(4);
    const t = sgd1(3);
    const before = rowsOf(t, [1, 2, 3]);
    const g1 = randn(rng, 2 * 3);
    const g2 = randn(rng, 2 * 3);
    t.lookup([1, 2]).mul(tensor(g1, { shape: [2, 3] })).sum().add(t.lookup([2, 3]).mul(tensor(g2, { shape: [2, 3] })).sum()).backward();
    new SparseOptimizer(t).step();
    const want = [
      before[0].map((w, j) => w - g1[j]),
      before[1].map((w, j) => w - g1[3 + j] - g2[j]),
      before[2].map((w, j) => w - g2[3 + j]),
    ];
    expectClose(rowsOf(t, [1, 2, 3]), want);
    expect(t.step).toBe(1);
    t.dispose();
  });
});

describe('sparse optimizers against float64 references', () => {
  const cases = [
    { kind: 'adagrad' as const, lr: 0.05, eps: 1e-10, initialAccumulatorValue: 0.1 },
    { kind: 'adam' as const, lr: 0.01, eps: 1e-8, beta1: 0.9, beta2: 0.999 },
    { kind: 'sgd' as const, lr: 0.1, weightDecay: 0.01 },
  ];
  for (const o of cases) {
    it(`${o.kind}: five steps, rows updated in some steps only`, () => {
      const rng = new Rng(5);
      const dim = 4;
      const t = new EmbeddingTable({ dim, capacity: 16, device: 'cpu', seed: 9, optimizer: o });
      const ids = [1, 2, 3];
      const w = rowsOf(t, ids);
      const s1 = ids.map(() => new Array(dim).fill(o.kind === 'adagrad' ? o.initialAccumulatorValue : 0));
      const s2 = ids.map(() => new Array(dim).fill(0));
      const count = ids.map(() => 0);
      const opt = new SparseOptimizer(t);
      for (let step = 0; step < 5; ++step) {
        const active = ids.filter((_, i) => (step + i) % 3 !== 0); // each row skips some steps
        const g = randn(rng, active.length * dim);
        t.lookup(active).backward(tensor(g, { shape: [active.length, dim] }));
        opt.step();
        active.forEach((id, a) => {
          const r = ids.indexOf(id);
          count[r] += 1;
          for (let j = 0; j < dim; ++j) {
            let gj = g[a * dim + j];
            if (o.kind === 'sgd') {
              gj += (o.weightDecay ?? 0) * w[r][j];
              w[r][j] -= o.lr * gj;
            } else if (o.kind === 'adagrad') {
              s1[r][j] += gj * gj;
              w[r][j] -= (o.lr * gj) / (Math.sqrt(s1[r][j]) + o.eps);
            } else {
              s1[r][j] = 0.9 * s1[r][j] + 0.1 * gj;
              s2[r][j] = 0.999 * s2[r][j] + 0.001 * gj * gj;
              const mh = s1[r][j] / (1 - 0.9 ** count[r]);
              const vh = s2[r][j] / (1 - 0.999 ** count[r]);
              w[r][j] -= (o.lr * mh) / (Math.sqrt(vh) + o.eps);
            }
          }
        });
      }
      expectClose(rowsOf(t, ids), w, 2e-5);
      t.dispose();
    });
  }
});

describe('learning rate', () => {
  it('follows table.lr from the next step on', () => {
    const t = sgd1(2);
    const before = rowsOf(t, [1]);
    t.lr = 0.5;
    expect(t.lr).toBe(0.5);
    t.lookup([1]).sum().backward();
    new SparseOptimizer(t).step();
    expectClose(rowsOf(t, [1]), [before[0].map((w) => w - 0.5)]);
    expect(() => (t.lr = -1)).toThrow(/for lr/);
    t.dispose();
  });
});

describe('training with a table', () => {
  it('learns per-id targets with sparse AdaGrad beside Adam for a dense head', () => {
    const rng = new Rng(6);
    const nIds = 200;
    const targets = Float32Array.from({ length: nIds }, () => rng.normal());
    const t = new EmbeddingTable({ dim: 8, capacity: 256, device: 'cpu', seed: 1, initScale: 0.1 });
    const head = new Linear(8, 1, { rng });
    const opt = new OptimizerSet([new SparseOptimizer(t), new Adam(head.parameters(), { lr: 0.01 })]);
    const lossAt = () => {
      const ids = Array.from({ length: nIds }, (_, i) => i);
      return mse(head.forward(t.lookup(ids)).reshape(nIds), tensor(targets));
    };
    const initial = lossAt().values()[0];
    t.clearGradients();
    for (let step = 0; step < 300; ++step) {
      const ids = Array.from({ length: 64 }, () => Math.floor(rng.uniform() * nIds));
      const loss = mse(head.forward(t.lookup(ids)).reshape(64), tensor(ids.map((i) => targets[i])));
      opt.zeroGrad();
      loss.backward();
      opt.step();
    }
    t.eval();
    const final = lossAt().values()[0];
    expect(final).toBeLessThan(0.05 * initial);
    t.dispose();
  });
});
