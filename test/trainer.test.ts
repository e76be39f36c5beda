/**
 * The Trainer: a two-task model (a click and a regression target) learns from a batch
 * stream; evaluation gives exact metrics per task and per domain; early stopping stops when
 * the watched metric stalls; a seed makes runs identical; gradient clipping is applied;
 * progress prints throughput as plain lines off a TTY; async sources keep the event loop
 * turning; bad options are named.
 */
import { describe, expect, it } from 'vitest';
import { MLP, Progress, Rng, SGD, tensor, Trainer } from '../lib';
import type { Tensor } from '../lib';
import { Batch, makeBatches } from './fixtures/two-task-batches';

function makeTrainer(seed: number, lr = 0.05) {
  const model = new MLP(5, { hidden: [32], outFeatures: 2, rng: new Rng(seed) });
  return new Trainer<Batch>({
    model,
    forward: (b) => ({ outputs: model.forward(b.x), labels: b.y }),
    tasks: ['click', 'watch'],
    kinds: ['binary', 'regression'],
    optimizers: [new SGD(model.parameters(), { lr, momentum: 0.9 })],
    clipNorm: 5,
    batchInfo: (b) => ({ domains: b.domain }),
    domainNames: ['left', 'right'],
    progress: { mode: 'none' },
  });
}

describe('Trainer', () => {
  const train = makeBatches(1, 4096, 128);
  const test = makeBatches(2, 1024, 256);

  it('learns both tasks; evaluation per task and per domain', async () => {
    const t = makeTrainer(3);
    const before = await t.evaluate(test);
    const r = await t.fit(train, { epochs: 3, eval: test, seed: 5 });
    expect(r.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(r.steps).toBe(3 * 32);
    expect(r.history[2].loss).toBeLessThan(r.history[0].loss);
    const m = r.history[2].metrics ?? [];
    expect(m.map((x) => `${x.task} ${x.domain}`)).toEqual(['click all', 'click left', 'click right', 'watch all', 'watch left', 'watch right']);
    expect(m[0].auc).toBeGreaterThan(0.95);
    expect(m[0].auc).toBeGreaterThan((before[0].auc as number) + 0.1);
    expect(m[3].mse).toBeLessThan(0.2 * (before[3].mse as number));
    expect(m[1].n + m[2].n).toBe(1024);
  });

  it('a seed makes runs identical', async () => {
    const [a, b] = [makeTrainer(4), makeTrainer(4)];
    await a.fit(train.slice(0, 8), { seed: 9 });
    await b.fit(train.slice(0, 8), { seed: 9 });
    expect(Array.from(a.predict(test[0]))).toEqual(Array.from(b.predict(test[0])));
  });

  it('the loss is read back every lossEvery steps and at each epoch end, as the mean of the steps since the last read', async () => {
    const batches = train.slice(0, 10);
    const perStep: [number, number | undefined][] = [];
    const a = makeTrainer(6);
    const ra = await a.fit(batches, { epochs: 2, seed: 2, lossEvery: 1, onStep: (s, l) => void perStep.push([s, l]) });
    const windowed: [number, number | undefined][] = [];
    const b = makeTrainer(6);
    const rb = await b.fit(batches, { epochs: 2, seed: 2, lossEvery: 4, onStep: (s, l) => void windowed.push([s, l]) });
    expect(perStep.every(([, l]) => l !== undefined)).toBe(true);
    // Reads at steps 4, 8, 10 (the epoch's end), then 14, 18, 20; undefined in between.
    expect(windowed.filter(([, l]) => l !== undefined).map(([s]) => s)).toEqual([4, 8, 10, 14, 18, 20]);
    expect(windowed.map(([s]) => s)).toEqual(perStep.map(([s]) => s));
    const read = new Map(windowed.filter(([, l]) => l !== undefined) as [number, number][]);
    const mean = (from: number, to: number) => perStep.slice(from, to).reduce((sum, [, l]) => sum + l!, 0) / (to - from);
    expect(read.get(4)).toBeCloseTo(mean(0, 4), 5);
    expect(read.get(10)).toBeCloseTo(mean(8, 10), 5);
    expect(read.get(18)).toBeCloseTo(mean(14, 18), 5);
    // The epoch's loss is the mean over its steps either way.
    for (const e of [0, 1]) expect(rb.history[e].loss).toBeCloseTo(ra.history[e].loss, 5);
    expect(ra.history[1].loss).toBeCloseTo(mean(10, 20), 5);
    await expect(makeTrainer(1).fit(batches, { lossEvery: 0 })).rejects.toThrow('options.lossEvery');
  });

  it('early stopping: stops after `patience` evaluations without improvement', async () => {
    const t = makeTrainer(5, 0); // lr 0: the metric never improves after the first epoch
    const r = await t.fit(train.slice(0, 2), { epochs: 10, eval: test, earlyStopping: { metric: 'auc', task: 'click', patience: 2 } });
    expect(r.stoppedEarly).toBe(true);
    expect(r.history.length).toBe(3);
    expect(r.bestEpoch).toBe(1);
  });

  it('async sources: the event loop keeps turning between batches', async () => {
    const t = makeTrainer(6);
    let ticks = 0;
    const timer = setInterval(() => ++ticks, 0);
    async function* stream() {
      for (const b of train) {
        await new Promise((resolve) => setImmediate(resolve));
        yield b;
      }
    }
    await t.fit(() => stream(), { epochs: 1 });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(3);
  });

  it('progress lines carry throughput and loss', () => {
    const lines: string[] = [];
    let now = 0;
    const p = new Progress({ mode: 'lines', every: 1, now: () => now, stream: { write: (s: string) => lines.push(s) } as never });
    p.begin('epoch 1/1', 1000);
    now = 500;
    p.update(500, 0.5);
    now = 1500;
    p.update(500, 0.3);
    p.end('done');
    expect(lines[0]).toBe('epoch 1/1  1000/1000  667 samples/s  loss 0.4000  ETA 0 s\n');
    expect(lines[1]).toBe('epoch 1/1  1000/1000  667 samples/s  loss 0.4000  1.5 s done\n');
  });

  it('sample weights: a row of weight 2 trains and evaluates as if it came twice; a wrong shape is named', async () => {
    const rng = new Rng(21);
    const n = 6;
    const x = Array.from({ length: n * 5 }, () => rng.normal());
    const y = Array.from({ length: n * 2 }, (_, i) => (i % 2 ? rng.normal() : rng.uniform() < 0.5 ? 1 : 0));
    const weights = [2, 1, 3, 1, 1, 2];
    const rows = (idx: number[]) => ({
      x: tensor(idx.flatMap((i) => x.slice(i * 5, i * 5 + 5)), { shape: [idx.length, 5] }),
      y: tensor(idx.flatMap((i) => y.slice(i * 2, i * 2 + 2)), { shape: [idx.length, 2] }),
    });
    const make = () => {
      const model = new MLP(5, { hidden: [8], outFeatures: 2, rng: new Rng(4) });
      return [model, new SGD(model.parameters(), { lr: 0.1 })] as const;
    };
    const [ma, oa] = make();
    const weighted = new Trainer<ReturnType<typeof rows> & { w: Tensor }>({ model: ma, forward: (b) => ({ outputs: ma.forward(b.x), labels: b.y, weight: b.w }), tasks: ['click', 'watch'], kinds: ['binary', 'regression'], optimizers: [oa], progress: { mode: 'none' } });
    weighted.trainStep({ ...rows([0, 1, 2, 3, 4, 5]), w: tensor(weights) });
    const [mb, ob] = make();
    const repeated = new Trainer<ReturnType<typeof rows>>({ model: mb, forward: (b) => ({ outputs: mb.forward(b.x), labels: b.y }), tasks: ['click', 'watch'], kinds: ['binary', 'regression'], optimizers: [ob], progress: { mode: 'none' } });
    repeated.trainStep(rows(weights.flatMap((w, i) => Array(w).fill(i))));
    const pa = ma.parameters().map((p) => Array.from(p.toArraySync() as Float32Array));
    const pb = mb.parameters().map((p) => Array.from(p.toArraySync() as Float32Array));
    pa.forEach((p, i) => p.forEach((v, j) => expect(v).toBeCloseTo(pb[i][j], 5)));
    // evaluate() weighs AUC, log loss and MSE the same way: the weighted rows ≡ the rows repeated.
    const plain = new Trainer<ReturnType<typeof rows>>({ model: ma, forward: (b) => ({ outputs: ma.forward(b.x), labels: b.y }), tasks: ['click', 'watch'], kinds: ['binary', 'regression'], optimizers: [oa], progress: { mode: 'none' } });
    const mw = await weighted.evaluate([{ ...rows([0, 1, 2, 3, 4, 5]), w: tensor(weights) }]);
    const mr = await plain.evaluate([rows(weights.flatMap((w, i) => Array(w).fill(i)))]);
    const mu = await plain.evaluate([rows([0, 1, 2, 3, 4, 5])]);
    expect(mw.map((m) => [m.task, m.auc === undefined ? m.mse : m.logloss])).not.toEqual(mu.map((m) => [m.task, m.auc === undefined ? m.mse : m.logloss]));
    for (const [i, m] of mw.entries())
      for (const k of ['auc', 'logloss', 'mse'] as const) if (m[k] !== undefined) expect(m[k]).toBeCloseTo(mr[i][k] as number, 6);
    expect(() => weighted.trainStep({ ...rows([0, 1]), w: tensor([1, 1, 1]) })).toThrow(/forward\(batch\)\.weight/);
  });

  it('refuses bad options, naming them', () => {
    const model = new MLP(2, { hidden: [], outFeatures: 1 });
    const forward = () => ({ outputs: model.forward(tensor(new Float32Array(2), { shape: [1, 2] })), labels: tensor(new Float32Array(1), { shape: [1, 1] }) });
    expect(() => new Trainer({ model, forward, tasks: [] })).toThrow('options.tasks');
    expect(() => new Trainer({ model, forward, tasks: ['a'], kinds: ['ranking' as never] })).toThrow("options.kinds[0]");
    expect(() => new Trainer({ model, forward, tasks: ['a'], clipNorm: -1 })).toThrow('options.clipNorm');
    const t = new Trainer({ model, forward, tasks: ['a'], progress: { mode: 'none' } });
    return expect(t.fit([], { earlyStopping: {} })).rejects.toThrow('options.eval');
  });
});
