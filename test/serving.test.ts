/**
 * Serving: the Predictor scores requests with the model in eval mode (σ of the eval logits,
 * no table inserts, unseen ids on the default row, modes restored, no tensor leaked); the
 * MicroBatcher batches concurrent requests and isolates a bad one; serving updates keep a
 * serving copy bit-identical to the trainer with only the changed rows, and a corrupt or
 * mismatched update changes nothing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Adam,
  ArgumentError,
  backend,
  crc32,
  bceWithLogits,
  concat,
  defineSchema,
  DisposedError,
  EmbeddingTable,
  FormatError,
  hasCuda,
  loadCheckpoint,
  memoryStats,
  MLP,
  Module,
  noGrad,
  OptimizerSet,
  Rng,
  saveCheckpoint,
  ShapeError,
  SparseOptimizer,
  tensor,
  Tensor,
  tidy,
} from '../lib';
import type { Device } from '../lib';
import { encodeState } from '../lib/checkpoint/checkpoint';
import type { Batch } from '../lib/data/batches';
import { MicroBatcher } from '../lib/serve/micro-batcher';
import { objectCollate, Prediction, Predictor } from '../lib/serve/predictor';
import { applyUpdate, exportUpdate, loadUpdate, saveUpdate } from '../lib/serve/update';
import { logMaxError } from './parity-log';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatewise-serve-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const schema = defineSchema({
  fields: [
    { name: 'user', kind: 'sparse', hash: false },
    { name: 'item', kind: 'sparse', hash: false },
    { name: 'age', kind: 'dense' },
    { name: 'price', kind: 'dense' },
    { name: 'click', kind: 'label' },
    { name: 'buy', kind: 'label' },
  ],
});
const TASKS = ['click', 'buy'];
const DIM = 4;
const DEFAULT_ROW = [0.5, -0.5, 0.25, -0.25];
type Req = Record<string, unknown>;

/** Two tables beside an MLP with dropout (so eval mode matters), as census-job wires its table. */
function makeNet(seed: number, device: Device = 'cpu', tableOptimizer: 'adagrad' | 'sgd' = 'adagrad') {
  // A fixed clock keeps the rows' last-seen times equal between copies.
  const table = (s: number) => new EmbeddingTable({ dim: DIM, capacity: 1024, seed: s, device, optimizer: { kind: tableOptimizer, lr: 0.1 }, defaultRow: DEFAULT_ROW, clock: () => 1000 });
  const users = table(seed);
  const items = table(seed + 100);
  const model = new MLP(2 * DIM + 2, { hidden: [16], outFeatures: 2, dropout: 0.2, rng: new Rng(seed) }).to(device);
  const opt = new OptimizerSet([new SparseOptimizer([users, items]), new Adam(model.parameters(), { lr: 0.02 })]);
  const collate = objectCollate(schema, { device });
  const forward = (b: Batch) => model.forward(concat([users.lookup(b.ids.user), items.lookup(b.ids.item), b.dense], 1));
  return { model, users, items, opt, collate, forward, tables: { users, items } };
}
type Net = ReturnType<typeof makeNet>;

/** Requests with labels: users 0..19, items itemBase + 0..39. */
function requests(seed: number, n: number, itemBase = 0): Req[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const user = rng.int(20);
    const item = itemBase + rng.int(40);
    return { user, item, age: rng.uniform() * 2 - 1, price: rng.uniform(), click: item % 3 === 0 ? 1 : 0, buy: user % 2 };
  });
}

function trainStep(net: Net, reqs: Req[]): void {
  tidy(() => {
    for (const m of [net.model, net.users, net.items]) m.train();
    const b = net.collate(reqs);
    net.opt.zeroGrad();
    bceWithLogits(net.forward(b), b.labels).backward();
    net.opt.step();
  });
}

function predictorFor(net: Net, options: { maxBatch?: number; maxDelayMs?: number } = {}) {
  return new Predictor<Req, Batch>({ model: net.model, alsoEval: [net.users, net.items], collate: net.collate, forward: net.forward, release: (b) => b.dispose(), tasks: TASKS, ...options });
}

/** The eval-mode logits of one batch, by hand (modes set back to training). */
function evalLogits(net: Net, reqs: Req[], forward: (b: Batch) => Tensor = net.forward): Float32Array {
  for (const m of [net.model, net.users, net.items]) m.eval();
  const out = noGrad(() => tidy(() => forward(net.collate(reqs)).toArraySync() as Float32Array));
  for (const m of [net.model, net.users, net.items]) m.train();
  return out;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const flat = (ps: Prediction[]) => ps.flatMap((p) => TASKS.map((t) => p[t]));
const modesOf = (ms: Module[]) => ms.map((m) => m.training);

describe('Predictor', () => {
  it('gives σ of the eval-mode logits in chunks of maxBatch, restores every mode and leaks no tensor', () => {
    const net = makeNet(1);
    for (let s = 0; s < 5; ++s) trainStep(net, requests(s, 32));
    const p = predictorFor(net, { maxBatch: 16 });
    const probe = requests(99, 50);
    // Mixed modes, restored exactly (not just the roots').
    net.model.train();
    net.model.layers[1].eval();
    net.items.eval();
    const all = [net.model, ...net.model.layers, ...net.model.drops, net.users, net.items];
    const modes = modesOf(all);
    const before = memoryStats('cpu').allocated;
    const got = p.predict(probe);
    expect(memoryStats('cpu').allocated).toBe(before);
    expect(modesOf(all)).toEqual(modes);
    expect(p.stats).toMatchObject({ forwards: 4, rows: 50, requests: 0, batches: 0 }); // 16 + 16 + 16 + 2
    expect(got).toHaveLength(50);
    expect(Object.keys(got[0])).toEqual(TASKS);

    // Exactly σ of the eval-mode logits of the same chunks; the whole batch at once agrees to float32 rounding.
    const want = [0, 16, 32, 48].flatMap((s) => Array.from(evalLogits(net, probe.slice(s, s + 16)), sigmoid));
    expect(flat(got)).toEqual(want);
    const whole = Array.from(evalLogits(net, probe), sigmoid);
    flat(got).forEach((v, i) => expect(v).toBeCloseTo(whole[i], 6));
    // Dropout is off: predicting again gives the same, and differs from a training-mode pass.
    expect(p.predict(probe)).toEqual(got);
    net.model.train();
    const trainingMode = noGrad(() => tidy(() => net.forward(net.collate(probe.slice(0, 16))).toArraySync() as Float32Array));
    expect(Array.from(trainingMode, sigmoid)).not.toEqual(want.slice(0, 32));
    expect(p.predict([])).toEqual([]);
    for (const t of [net.users, net.items]) t.dispose();
  });

  it('never inserts into the tables: unseen ids read the default row', () => {
    const net = makeNet(2);
    for (let s = 0; s < 3; ++s) trainStep(net, requests(s, 32));
    const p = predictorFor(net);
    const sizes = [net.users.size, net.items.size];
    const inserts = [net.users.stats().inserts, net.items.stats().inserts];
    const unseen = requests(5, 12, 5000); // items 5000.. were never trained on
    const got = p.predict(unseen);
    expect([net.users.size, net.items.size]).toEqual(sizes);
    expect([net.users.stats().inserts, net.items.stats().inserts]).toEqual(inserts);
    expect(net.items.contains(unseen.map((r) => r.item as number)).some(Boolean)).toBe(false);
    expect(net.users.training && net.items.training).toBe(true); // back in training mode
    // The same model with the default row in the item's place, by hand.
    const byHand = evalLogits(net, unseen, (b) => {
      const n = b.size;
      const itemRows = tensor(Float32Array.from({ length: n * DIM }, (_, i) => DEFAULT_ROW[i % DIM]), { shape: [n, DIM] });
      return net.model.forward(concat([net.users.lookup(b.ids.user), itemRows, b.dense], 1));
    });
    expect(flat(got)).toEqual(Array.from(byHand, sigmoid));
    // A training-mode lookup would have inserted them.
    tidy(() => net.items.lookup(unseen.map((r) => r.item as number)));
    expect(net.items.size).toBeGreaterThan(sizes[1]);
    for (const t of [net.users, net.items]) t.dispose();
  });

  it('names a bad field, checks the output shape, returns regression values raw, and restores modes after a failure', () => {
    const net = makeNet(3);
    const p = predictorFor(net);
    const good = requests(1, 3);
    const modes = modesOf([net.model, net.users, net.items]);
    const before = memoryStats('cpu').allocated;
    expect(() => p.predict([good[0], { ...good[1], age: 'abc' }])).toThrow(new FormatError("request 1, field 'age': expected a number but found 'abc'"));
    expect(() => p.predict([{ ...good[0], item: undefined }])).toThrow("request 0, field 'item': missing value (the field has no default)");
    const narrow = new Predictor<Req, Batch>({ model: net.model, alsoEval: [net.users, net.items], collate: net.collate, forward: (b) => net.forward(b).narrow(0, 1), tasks: TASKS });
    expect(() => narrow.predict(good)).toThrow(ShapeError);
    expect(() => narrow.predict(good)).toThrow('Expected outputs of shape [3, 2] (requests, tasks) from options.forward but received [1,2]');
    expect(memoryStats('cpu').allocated).toBe(before);
    expect(modesOf([net.model, net.users, net.items])).toEqual(modes);

    const mixed = new Predictor<Req, Batch>({ model: net.model, alsoEval: [net.users, net.items], collate: net.collate, forward: net.forward, tasks: ['click', 'value'], kinds: ['binary', 'regression'] });
    const logits = evalLogits(net, good);
    expect(mixed.predict(good)).toEqual(good.map((_, i) => ({ click: sigmoid(logits[2 * i]), value: logits[2 * i + 1] })));

    expect(() => new Predictor({ model: net.model, collate: net.collate, forward: net.forward, tasks: TASKS, kinds: ['binary'] })).toThrow('Expected 2 kinds (one per task) for options.kinds');
    expect(() => new Predictor({ model: net.model, collate: net.collate, forward: net.forward, tasks: TASKS, maxBatch: 0 })).toThrow('Expected an integer of at least 1 for options.maxBatch but received 0 of type number');
    expect(() => new Predictor({ model: net.model, collate: net.collate, forward: net.forward, tasks: ['a', 'a'] })).toThrow("Expected a unique task name ('a' is also options.tasks[0]) for options.tasks[1]");
    for (const t of [net.users, net.items]) t.dispose();
  });

  it('scores concurrent score() calls in shared batches, equal to predict()', async () => {
    const net = makeNet(4);
    for (let s = 0; s < 3; ++s) trainStep(net, requests(s, 32));
    const p = predictorFor(net, { maxBatch: 8, maxDelayMs: 5 });
    const probe = requests(8, 24);
    const got = await Promise.all(probe.map((r) => p.score(r)));
    expect(p.stats).toMatchObject({ requests: 24, batches: 3, largestBatch: 8, forwards: 3 });
    expect(got).toEqual(p.predict(probe)); // the same chunks of 8
    const bad = await Promise.allSettled([p.score(probe[0]), p.score({ ...probe[1], price: [1] }), p.score(probe[2])]);
    expect(bad.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((bad[1] as PromiseRejectedResult).reason as Error).message).toBe("request 0, field 'price': expected a number but found [1]");
    expect((bad[2] as PromiseFulfilledResult<Prediction>).value).toEqual(got[2]);
    await p.close();
    await expect(p.score(probe[0])).rejects.toThrow(DisposedError);
    expect(p.predict(probe.slice(0, 8))).toEqual(got.slice(0, 8)); // predict() still works
    for (const t of [net.users, net.items]) t.dispose();
  });
});

describe('MicroBatcher', () => {
  it('runs 100 concurrent requests as 4 batches of at most 32, in order', async () => {
    const seen: number[][] = [];
    const b = new MicroBatcher<number, number>({ run: (xs) => (seen.push(xs), xs.map((x) => x * 2)), maxBatch: 32 });
    const out = await Promise.all(Array.from({ length: 100 }, (_, i) => b.submit(i)));
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => 2 * i));
    expect(seen.map((s) => s.length)).toEqual([32, 32, 32, 4]);
    expect(seen.flat()).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(b.stats).toEqual({ requests: 100, batches: 4, largestBatch: 32, isolated: 0 });
  });

  it('runs one batch at a time with an async run, gathering what arrives meanwhile', async () => {
    let active = 0;
    let most = 0;
    const sizes: number[] = [];
    const b = new MicroBatcher<number, number>({
      run: async (xs) => {
        most = Math.max(most, ++active);
        sizes.push(xs.length);
        await new Promise((r) => setTimeout(r, 10));
        active -= 1;
        return xs.map((x) => -x);
      },
      maxBatch: 64,
      maxDelayMs: 0,
    });
    const first = b.submit(1);
    await new Promise((r) => setTimeout(r, 2)); // the first batch is running
    const rest = Array.from({ length: 5 }, (_, i) => b.submit(i + 2));
    expect(await Promise.all([first, ...rest])).toEqual([-1, -2, -3, -4, -5, -6]);
    expect(most).toBe(1);
    expect(sizes).toEqual([1, 5]);
  });

  it('rejects only the bad requests of a failed batch, each with its own error', async () => {
    const b = new MicroBatcher<number, string>({
      run: (xs) => {
        const bad = xs.find((x) => x < 0);
        if (bad !== undefined) throw new RangeError(`bad request ${bad}`);
        return xs.map(String);
      },
      maxBatch: 16,
    });
    const settled = await Promise.allSettled([1, 2, -3, 4, -5, 6].map((x) => b.submit(x)));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual(['1', '2', 'bad request -3', '4', 'bad request -5', '6']);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(RangeError);
    expect(b.stats).toEqual({ requests: 6, batches: 1, largestBatch: 6, isolated: 6 });
  });

  it('rejects every request of a batch when run returns the wrong number of results', async () => {
    const b = new MicroBatcher<number, number>({ run: (xs) => xs.slice(1) });
    const settled = await Promise.allSettled([1, 2, 3].map((x) => b.submit(x)));
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      expect((s as PromiseRejectedResult).reason).toBeInstanceOf(ArgumentError);
      expect(((s as PromiseRejectedResult).reason as Error).message).toBe('Expected options.run to return an array of 3 result(s), one per request in order, but it returned 2 results');
    }
    await expect(new MicroBatcher<number, number>({ run: () => null as unknown as number[] }).submit(1)).rejects.toThrow('but it returned a value of type null');
  });

  it('runs a lone request maxDelayMs after it arrived; maxDelayMs 0 waits for setImmediate', async () => {
    const b = new MicroBatcher<number, number>({ run: (xs) => xs, maxDelayMs: 20 });
    const t0 = performance.now();
    await b.submit(1);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(18); // timers may fire up to ~1 ms early against performance.now()
    expect(waited).toBeLessThan(20 + 80);

    const sizes: number[] = [];
    const now = new MicroBatcher<number, number>({ run: (xs) => (sizes.push(xs.length), xs), maxDelayMs: 0 });
    const t1 = performance.now();
    expect(await Promise.all([now.submit(1), now.submit(2)])).toEqual([1, 2]);
    expect(performance.now() - t1).toBeLessThan(20);
    expect(sizes).toEqual([2]); // same tick, same batch
  });

  it('close() runs what is queued at once and refuses later requests', async () => {
    const b = new MicroBatcher<number, number>({ run: (xs) => xs.map((x) => x + 1), maxDelayMs: 10_000 });
    const queued = [b.submit(1), b.submit(2)];
    const t0 = performance.now();
    await b.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await Promise.all(queued)).toEqual([2, 3]);
    await expect(b.submit(3)).rejects.toThrow(new DisposedError('this MicroBatcher is closed: submit() after close()'));
    expect(b.stats.requests).toBe(2);
    await b.close(); // idempotent
    expect(() => new MicroBatcher({ run: (xs: number[]) => xs, maxBatch: 1.5 })).toThrow('Expected an integer of at least 1 for options.maxBatch but received 1.5 of type number');
    expect(() => new MicroBatcher({ run: (xs: number[]) => xs, maxDelayMs: -1 })).toThrow('for options.maxDelayMs but received -1');
    expect(() => new MicroBatcher({ run: 3 as never })).toThrow('Expected a function for options.run but received 3 of type number');
  });
});

describe('serving copy', () => {
  /** A trainer A and a serving copy B (another seed, so syncing matters), B synced with a full update. */
  function pair(servingOptimizer: 'adagrad' | 'sgd' = 'adagrad') {
    const a = makeNet(11);
    for (let s = 0; s < 6; ++s) trainStep(a, requests(s, 32));
    const b = makeNet(12, 'cpu', servingOptimizer);
    const full = exportUpdate({ model: a.model, tables: a.tables, step: 6 });
    const applied = applyUpdate(full, { model: b.model, tables: b.tables });
    expect(applied).toEqual({ step: 6, sinceStep: null, rows: { users: a.users.size, items: a.items.size }, metadata: {} });
    return { a, b, lastSync: a.items.step };
  }
  const probe = [...requests(21, 30), ...requests(22, 10, 40), ...requests(23, 4, 9000)]; // trained, new (40..79) and unseen items
  const same = (x: Prediction[], y: Prediction[]) => Buffer.from(Float64Array.from(flat(x)).buffer).equals(Buffer.from(Float64Array.from(flat(y)).buffer));

  it('carries only the changed rows and leaves the copy predicting bit-identically', () => {
    const { a, b, lastSync } = pair();
    const pa = predictorFor(a);
    const pb = predictorFor(b);
    expect(same(pb.predict(probe), pa.predict(probe))).toBe(true);
    expect(lastSync).toBe(6);

    // A trains on: a few users, and items 40..79 that B has never seen.
    const itemsBefore = a.items.size;
    for (let s = 0; s < 3; ++s) {
      trainStep(a, requests(100 + s, 8).map((r) => ({ ...r, user: (r.user as number) % 4 })));
      trainStep(a, requests(200 + s, 8, 40).map((r) => ({ ...r, user: (r.user as number) % 4 })));
    }
    expect(a.items.size).toBeGreaterThan(itemsBefore);
    expect(same(pb.predict(probe), pa.predict(probe))).toBe(false);

    const update = exportUpdate({ model: a.model, tables: a.tables, step: 12, sinceStep: lastSync });
    const full = exportUpdate({ model: a.model, tables: a.tables, step: 12 });
    expect(update.length).toBeLessThan(full.length);
    const applied = applyUpdate(update, { model: b.model, tables: b.tables });
    expect(applied.step).toBe(12);
    expect(applied.sinceStep).toBe(6);
    expect(applied.rows.users).toBe(4); // users 0..3 only
    expect(applied.rows.users).toBeLessThan(a.users.size);
    expect(applied.rows.items).toBeGreaterThan(0);
    expect(applied.rows.items).toBeLessThan(a.items.size);
    expect(b.items.size).toBe(a.items.size);
    expect(b.items.keys()).toEqual(a.items.keys());
    expect(same(pb.predict(probe), pa.predict(probe))).toBe(true);
    for (const n of [a, b]) for (const t of [n.users, n.items]) t.dispose();
  });

  it('serves from tables without optimizer state (SGD) and through saveUpdate / loadUpdate', () => {
    const { a, b, lastSync } = pair('sgd');
    trainStep(a, requests(300, 16, 40));
    const file = path.join(dir, 'update.gwck');
    expect(saveUpdate(file, { model: a.model, tables: a.tables, step: 7, sinceStep: lastSync })).toBe(file);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const applied = loadUpdate(file, { model: b.model, tables: b.tables });
    expect(applied.sinceStep).toBe(lastSync);
    expect(same(predictorFor(b).predict(probe), predictorFor(a).predict(probe))).toBe(true);
    // An update is not a checkpoint, nor the other way round.
    expect(() => loadCheckpoint(file, { model: b.model, tables: b.tables })).toThrow(`${file} is a serving update (exportUpdate), not a checkpoint`);
    const ckpt = path.join(dir, 'a.gwck');
    saveCheckpoint(ckpt, { model: a.model, tables: a.tables, step: 7 });
    expect(() => loadUpdate(ckpt, { model: b.model, tables: b.tables })).toThrow(`${ckpt} is a checkpoint, not a serving update`);
    for (const n of [a, b]) for (const t of [n.users, n.items]) t.dispose();
  });

  it('carries JSON metadata, which checkMetadata sees before anything changes', () => {
    const { a, b } = pair();
    for (let s = 0; s < 2; ++s) trainStep(a, requests(300 + s, 8));
    const pb = predictorFor(b);
    const before = pb.predict(probe);
    const update = exportUpdate({ model: a.model, tables: a.tables, step: 8, metadata: { vocabulary: ['x', 'y'] } });
    const refuse = (m: Record<string, unknown>) => {
      if (Array.isArray(m.vocabulary)) throw new Error(`no vocabulary of ${m.vocabulary.length} here`);
    };
    expect(() => applyUpdate(update, { model: b.model, tables: b.tables, checkMetadata: refuse })).toThrow('no vocabulary of 2 here');
    expect(same(pb.predict(probe), before)).toBe(true);
    expect(applyUpdate(update, { model: b.model, tables: b.tables }).metadata).toEqual({ vocabulary: ['x', 'y'] });
    expect(same(pb.predict(probe), before)).toBe(false);
    expect(() => exportUpdate({ model: a.model, tables: a.tables, step: 1, metadata: [] as never })).toThrow('Expected a JSON object for options.metadata');
  });

  it('rejects a corrupt, truncated or mismatched update and leaves the copy unchanged', () => {
    const { a, b, lastSync } = pair();
    trainStep(a, requests(400, 16, 40));
    const update = exportUpdate({ model: a.model, tables: a.tables, step: 7, sinceStep: lastSync });
    const pb = predictorFor(b);
    const before = pb.predict(probe);
    expect(same(before, predictorFor(a).predict(probe))).toBe(false); // the update would change them
    const sizes = [b.users.size, b.items.size];
    const unchanged = (f: () => unknown, error: unknown, message: string | RegExp) => {
      expect(f).toThrow(error as never);
      expect(f).toThrow(message);
      expect(same(pb.predict(probe), before)).toBe(true);
      expect([b.users.size, b.items.size]).toEqual(sizes);
    };
    const edit = (fn: (x: Buffer) => Buffer) => fn(Buffer.from(update));
    const hlen = Buffer.from(update).readUInt32LE(8);
    const header = JSON.parse(Buffer.from(update).subarray(16, 16 + hlen).toString('utf8')) as { entries: { name: string; offset: number; length: number }[] };
    const start = (16 + hlen + 7) & ~7;
    const at = (name: string, k: number) => start + header.entries.find((e) => e.name === name)!.offset + k;
    // The items table is the last entry: flipping a byte in it must not let the dense weights or users through.
    expect(header.entries.map((e) => e.name).slice(-2)).toEqual(['table.users', 'table.items']);
    unchanged(() => applyUpdate(edit((x) => ((x[at('table.items', 100)] ^= 0x04), x)), { model: b.model, tables: b.tables }), FormatError, "serving update is corrupt: CRC-32 mismatch in entry 'table.items'");
    unchanged(() => applyUpdate(edit((x) => ((x[at('model.layers.0.weight', 7)] ^= 0x80), x)), { model: b.model, tables: b.tables }), FormatError, "CRC-32 mismatch in entry 'model.layers.0.weight'");
    unchanged(() => applyUpdate(edit((x) => ((x[30] ^= 0x01), x)), { model: b.model, tables: b.tables }), FormatError, 'CRC-32 mismatch in the header');
    unchanged(() => applyUpdate(edit((x) => x.subarray(0, x.length - 9)), { model: b.model, tables: b.tables }), FormatError, /truncated/);
    unchanged(() => applyUpdate(edit((x) => x.subarray(0, 12)), { model: b.model, tables: b.tables }), FormatError, /fewer than the 16-byte prefix/);
    unchanged(() => applyUpdate(new Uint8Array(0), { model: b.model, tables: b.tables }), FormatError, /not a valid gatewise checkpoint/);

    // Mismatches: a table of another dim (after the users table and the dense weights passed), a missing or an extra table, another model.
    const wide = new EmbeddingTable({ dim: DIM + 1, capacity: 1024 });
    tidy(() => wide.lookup([1, 2, 3]));
    const odd = exportUpdate({ model: a.model, tables: { users: a.users, items: wide }, step: 7 });
    unchanged(() => applyUpdate(odd, { model: b.model, tables: b.tables }), ShapeError, 'Expected rows of dim 4 for table items but received dim 5 from serving update');
    unchanged(() => applyUpdate(update, { model: b.model, tables: { users: b.users, items: b.items, more: wide } }), ArgumentError, "Expected a table 'more' in serving update but it has [users, items]");
    unchanged(() => applyUpdate(update, { model: b.model, tables: { users: b.users } }), ArgumentError, 'serving update holds table(s) [items] that were not given');
    const other = new MLP(2 * DIM + 2, { hidden: [8], outFeatures: 2 });
    expect(() => applyUpdate(update, { model: other, tables: b.tables })).toThrow('Expected shape [8,10] for layers.0.weight but received [16,10] from serving update');
    expect(() => applyUpdate(update, { model: new MLP(3, { hidden: [4] }), tables: b.tables })).toThrow(/serving update does not match the model: missing \[.*\], unexpected \[.*layers\.1\.weight/);
    unchanged(() => applyUpdate([1, 2] as never, { model: b.model, tables: b.tables }), ArgumentError, 'Expected a Uint8Array (an exportUpdate result) for data');

    // A non-finite weight that import() would refuse after the dense weights and users were written: refused first.
    const items = Buffer.from(a.items.export());
    const n = Number(items.readBigUInt64LE(32));
    items.writeFloatLE(NaN, 64 + 44 * n + 4 * DIM * (n - 1));
    items.writeUInt32LE(crc32(items.subarray(64, items.length - 4)), items.length - 4);
    const fresh = new EmbeddingTable({ dim: DIM, capacity: 1024 });
    expect(() => fresh.import(items)).toThrow(/is not finite/); // import() refuses it too, but only when it gets there
    fresh.dispose();
    const chunks = encodeState({ model: a.model, tables: { users: a.users.export(), items }, optimizers: {}, head: { step: 7, config: null, metadata: {}, update: { sinceStep: null } } });
    unchanged(() => applyUpdate(Buffer.concat(chunks), { model: b.model, tables: b.tables }), FormatError, `entry 'table.items' of serving update is not a valid table export: weight of row ${n - 1} is not finite`);

    // The intact update still applies.
    applyUpdate(update, { model: b.model, tables: b.tables });
    expect(same(pb.predict(probe), predictorFor(a).predict(probe))).toBe(true);
    for (const t of [a.users, a.items, b.users, b.items, wide]) t.dispose();
  });
});

const cuda = hasCuda();
if (!cuda) console.log('Predictor CUDA parity skipped: ' + backend().cudaUnavailableReason);

describe.skipIf(!cuda)('Predictor: cuda against cpu', () => {
  it('a CUDA copy synced by a serving update predicts what the CPU trainer does', () => {
    const cpu = makeNet(31);
    for (let s = 0; s < 4; ++s) trainStep(cpu, requests(s, 32));
    const gpu = makeNet(32, 'cuda');
    applyUpdate(exportUpdate({ model: cpu.model, tables: cpu.tables, step: 4 }), { model: gpu.model, tables: gpu.tables });
    const probe = [...requests(41, 40), ...requests(42, 8, 7000)];
    const want = flat(predictorFor(cpu).predict(probe));
    const got = flat(predictorFor(gpu).predict(probe));
    logMaxError('predictions', got, want, { atol: 5e-6, rtol: 0 }); // toBeCloseTo(…, 5): |diff| < 5e-6
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    expect([gpu.users.size, gpu.items.size]).toEqual([cpu.users.size, cpu.items.size]);
    for (const n of [cpu, gpu]) for (const t of [n.users, n.items]) t.dispose();
  });
});
