/**
 * EmbeddingTable's bookkeeping: lookups, duplicates, each eviction policy against the
 * plain-JS reference model (test/embedding-reference.ts) with several buckets and with one
 * (the exact global policy), bucket overflow, expiry, admission, pruning, capacity,
 * re-initialization, memory statistics, async lookups and bad input.
 */
import { describe, expect, it } from 'vitest';
import { EmbeddingTable, Rng, SparseOptimizer, tensor } from '../lib';
import { ReferenceTable, bucketLayout, bucketOf } from './embedding-reference';

const big = (xs: readonly (number | bigint)[]) => xs.map((x) => BigInt(x));
const sorted = (xs: Iterable<bigint>) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** A skewed id stream: batch ids from a universe of `universe` ids, low ids far more frequent, scrambled over int64. */
function idStream(rng: Rng, batches: number, batch: number, universe: number): bigint[][] {
  const scramble = (i: number) => BigInt.asIntN(64, BigInt(i) * 0x9e3779b97f4a7c15n);
  return Array.from({ length: batches }, () =>
    Array.from({ length: batch }, () => scramble(Math.floor(universe * rng.uniform() ** 3))),
  );
}

describe('EmbeddingTable lookups', () => {
  it('gives one row per id, the same row for repeated ids, any int64 id included', () => {
    const t = new EmbeddingTable({ dim: 5, capacity: 16, seed: 3, device: 'cpu' });
    const ids = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), -1n, 0n];
    const out = t.lookup(ids);
    expect(out.shape).toEqual([6, 5]);
    const v = out.values();
    const row = (i: number) => Array.from(v.slice(5 * i, 5 * i + 5));
    expect(row(4)).toEqual(row(1));
    expect(row(5)).toEqual(row(0));
    expect(row(0)).not.toEqual(row(1));
    expect(t.size).toBe(4);
    expect(t.stats().inserts).toBe(4);
    t.dispose();
  });

  it('takes an int64 id tensor of any shape and returns ids.shape ++ [dim]', () => {
    const t = new EmbeddingTable({ dim: 3, capacity: 16, seed: 3, device: 'cpu' });
    const flat = t.lookup([4, 5, 6, 7, 4, 9]).values();
    const grid = t.lookup(tensor(BigInt64Array.from([4n, 5n, 6n, 7n, 4n, 9n]), { shape: [2, 3] }));
    expect(grid.shape).toEqual([2, 3, 3]);
    expect(Array.from(grid.values())).toEqual(Array.from(flat));
    t.dispose();
  });

  it('starts a row from (seed, id) alone: another table with the same seed agrees, another seed does not', () => {
    const a = new EmbeddingTable({ dim: 8, capacity: 8, seed: 11, device: 'cpu' });
    const b = new EmbeddingTable({ dim: 8, capacity: 8, seed: 11, device: 'cpu' });
    const c = new EmbeddingTable({ dim: 8, capacity: 8, seed: 12, device: 'cpu' });
    const ra = a.lookup([42, 7]).values();
    const rb = b.lookup([7, 42]).values();
    expect(Array.from(ra.slice(0, 8))).toEqual(Array.from(rb.slice(8, 16)));
    expect(Array.from(c.lookup([42]).values())).not.toEqual(Array.from(ra.slice(0, 8)));
    // normal(0, 0.01): a thousand values have about that spread.
    const big = new EmbeddingTable({ dim: 1000, capacity: 1, seed: 1, device: 'cpu' });
    const x = big.lookup([5]).values();
    const mean = x.reduce((s, y) => s + y, 0) / x.length;
    const sd = Math.sqrt(x.reduce((s, y) => s + (y - mean) ** 2, 0) / x.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(sd).toBeGreaterThan(0.009);
    expect(sd).toBeLessThan(0.011);
    for (const t of [a, b, c, big]) t.dispose();
  });

  it('in eval mode reads the default row for a miss and inserts nothing', () => {
    const t = new EmbeddingTable({ dim: 3, capacity: 4, device: 'cpu', defaultRow: [1, 2, 3] });
    const trained = t.lookup([9]).values();
    t.eval();
    const out = t.lookup([9, 10]).values();
    expect(Array.from(out.slice(0, 3))).toEqual(Array.from(trained));
    expect(Array.from(out.slice(3))).toEqual([1, 2, 3]);
    expect(t.size).toBe(1);
    expect(t.contains([9, 10])).toEqual([true, false]);
    t.dispose();
  });

  it('pools bags by sum and mean with per-id weights, empty bags give zeros', () => {
    const t = new EmbeddingTable({ dim: 2, capacity: 8, device: 'cpu', init: 'uniform', initScale: 1, seed: 5 });
    const rows = t.lookup([1, 2, 3]).values();
    const r = (i: number) => [rows[2 * i], rows[2 * i + 1]];
    const ids = [1, 2, 3, 1];
    const sum = t.lookupBag(ids, [0, 2, 2], { weights: [1, 2, 3, 4] }).values();
    const mean = t.lookupBag(ids, [0, 2, 2], { mode: 'mean' }).values();
    const close = (a: ArrayLike<number>, b: number[]) => b.forEach((x, i) => expect(a[i]).toBeCloseTo(x, 6));
    close(sum, [r(0)[0] + 2 * r(1)[0], r(0)[1] + 2 * r(1)[1], 0, 0, 3 * r(2)[0] + 4 * r(0)[0], 3 * r(2)[1] + 4 * r(0)[1]]);
    close(mean, [(r(0)[0] + r(1)[0]) / 2, (r(0)[1] + r(1)[1]) / 2, 0, 0, (r(2)[0] + r(0)[0]) / 2, (r(2)[1] + r(0)[1]) / 2]);
    t.dispose();
  });
});

/** The table's counters that the reference model keeps too. */
function counters(s: { evictions: number; dropped: number; hits: number; inserts: number }) {
  return { evictions: s.evictions, dropped: s.dropped, hits: s.hits, inserts: s.inserts };
}

describe('EmbeddingTable eviction', () => {
  it('lru with one bucket (bucketSize = capacity 1,000) and 10,000 ids: the 1,000 most recent survive', () => {
    const t = new EmbeddingTable({ dim: 4, capacity: 1000, policy: 'lru', bucketSize: 1000, device: 'cpu' });
    for (let b = 0; b < 100; ++b) {
      t.lookup(Array.from({ length: 100 }, (_, i) => b * 100 + i));
      t.advance();
    }
    expect(t.stats().buckets).toBe(1);
    expect(t.size).toBe(1000);
    expect(sorted(t.keys())).toEqual(big(Array.from({ length: 1000 }, (_, i) => 9000 + i)));
    expect(t.stats().evictions).toBe(9000);
    t.dispose();
  });

  it('lru with buckets (capacity 1,000: 31 buckets of 32 slots and one of 8): each bucket keeps its own most recent ids', () => {
    const t = new EmbeddingTable({ dim: 4, capacity: 1000, policy: 'lru', device: 'cpu' });
    const ref = new ReferenceTable({ capacity: 1000, policy: 'lru' });
    for (let b = 0; b < 100; ++b) {
      const batch = big(Array.from({ length: 100 }, (_, i) => b * 100 + i));
      t.lookup(batch);
      ref.lookup(batch);
      t.advance();
      ref.advance();
    }
    const { buckets, slots } = bucketLayout(1000);
    expect(t.stats().buckets).toBe(buckets);
    expect(buckets).toBe(32);
    // Each bucket is full of its own most recent ids: none it dropped was seen after one it
    // kept (id i was seen at step floor(i / 100); ties within a step go by slot).
    const kept = new Set(t.keys());
    const step = (id: bigint) => Number(id / 100n);
    for (let b = 0; b < buckets; ++b) {
      const ids = Array.from({ length: 10000 }, (_, i) => BigInt(i)).filter((id) => bucketOf(id, 1000) === b);
      const mine = ids.filter((id) => kept.has(id));
      const gone = ids.filter((id) => !kept.has(id));
      expect(mine.length).toBe(slots(b));
      expect(Math.min(...mine.map(step))).toBeGreaterThanOrEqual(Math.max(...gone.map(step)));
    }
    expect(sorted(t.keys())).toEqual(ref.keys());
    expect(counters(t.stats())).toEqual(counters(ref));
    t.dispose();
  });

  // Capacity 64: two buckets of 32; 100: three of 32 and a last one of 4; bucketSize =
  // capacity: one bucket, the exact global policy.
  for (const policy of ['lru', 'lfu', 'score'] as const) {
    for (const [capacity, bucketSize] of [
      [64, undefined],
      [100, undefined],
      [64, 64],
      [100, 100],
    ] as const) {
      const layout = bucketLayout(capacity, bucketSize);
      it(`${policy}, capacity ${capacity} in ${layout.buckets} bucket(s): the surviving ids and counters match the reference model on a skewed stream`, () => {
        const rng = new Rng(policy.length);
        const t = new EmbeddingTable({ dim: 2, capacity, policy, scoreHalfLife: 1, device: 'cpu', ...(bucketSize ? { bucketSize } : {}) });
        const ref = new ReferenceTable({ capacity, policy, halfLife: 1, bucketSize });
        expect(t.stats().buckets).toBe(layout.buckets);
        const stream = idStream(rng, 60, 40, 400);
        for (const batch of stream) {
          t.lookup(batch);
          ref.lookup(batch);
          t.advance();
          ref.advance();
          expect(t.size).toBeLessThanOrEqual(capacity);
        }
        expect(ref.evictions).toBeGreaterThan(0);
        expect(sorted(t.keys())).toEqual(ref.keys());
        expect(counters(t.stats())).toEqual(counters(ref));
        // Eval lookups change nothing but count their hits.
        t.eval();
        t.lookup(stream[0]);
        ref.lookup(stream[0], { train: false });
        expect(sorted(t.keys())).toEqual(ref.keys());
        expect(counters(t.stats())).toEqual(counters(ref));
        // evict({ toSize }) takes the globally lowest rows whatever their buckets.
        expect(t.evict({ toSize: capacity >> 2 })).toBe(ref.evictTo(capacity >> 2));
        expect(sorted(t.keys())).toEqual(ref.keys());
        expect(counters(t.stats())).toEqual(counters(ref));
        t.dispose();
      });
    }
  }

  it('drops the new ids of one bucket beyond its slots even while other buckets have room', () => {
    const capacity = 256; // 8 buckets of 32
    const { buckets, slots } = bucketLayout(capacity);
    const inZero: bigint[] = [];
    const elsewhere: bigint[] = [];
    for (let i = 0n; inZero.length < 40 || elsewhere.length < 10; ++i) {
      if (bucketOf(i, capacity) === 0) {
        if (inZero.length < 40) inZero.push(i);
      } else if (elsewhere.length < 10) elsewhere.push(i);
    }
    const t = new EmbeddingTable({ dim: 2, capacity, policy: 'lru', device: 'cpu', defaultRow: [7, -7] });
    const ids = [...inZero, ...elsewhere];
    const out = t.lookup(ids).values();
    expect(t.stats().buckets).toBe(buckets);
    expect(slots(0)).toBe(32);
    // New ids take their bucket's slots in ascending order: the 8 highest of bucket 0 find none.
    const kept = inZero.slice(0, 32);
    const dropped = inZero.slice(32);
    expect(t.size).toBe(32 + elsewhere.length);
    expect(t.stats().dropped).toBe(8);
    expect(t.stats().evictions).toBe(0);
    expect(t.contains(dropped)).toEqual(dropped.map(() => false));
    expect(t.contains([...kept, ...elsewhere])).toEqual([...kept, ...elsewhere].map(() => true));
    const row = (i: number) => Array.from(out.slice(2 * i, 2 * i + 2));
    for (let i = 32; i < 40; ++i) expect(row(i)).toEqual([7, -7]);
    for (let i = 0; i < 32; ++i) expect(row(i)).not.toEqual([7, -7]);
    const ref = new ReferenceTable({ capacity, policy: 'lru' });
    ref.lookup(ids);
    expect(sorted(t.keys())).toEqual(ref.keys());
    expect(counters(t.stats())).toEqual(counters(ref));
    // A step later the dropped ids get rows, each evicting one of bucket 0's (lru: lowest id first).
    t.advance();
    t.lookup(dropped);
    expect(t.stats().evictions).toBe(8);
    expect(t.contains(dropped)).toEqual(dropped.map(() => true));
    expect(t.contains(kept.slice(0, 8))).toEqual(kept.slice(0, 8).map(() => false));
    t.dispose();
  });

  it('with buckets, expiry and re-initialization agree with the reference model', () => {
    for (const policy of ['lru', 'score'] as const) {
      const rng = new Rng(18);
      const t = new EmbeddingTable({ dim: 2, capacity: 100, policy, scoreHalfLife: 1, ttlSteps: 3, device: 'cpu' });
      const ref = new ReferenceTable({ capacity: 100, policy, halfLife: 1, ttlSteps: 3 });
      for (const batch of idStream(rng, 60, 40, 400)) {
        t.lookup(batch);
        ref.lookup(batch);
        t.advance();
        ref.advance();
      }
      expect(ref.reinits).toBeGreaterThan(0);
      expect(sorted(t.keys())).toEqual(ref.keys());
      expect(counters(t.stats())).toEqual(counters(ref));
      expect(t.stats().reinits).toBe(ref.reinits);
      expect(t.evict()).toBe(ref.evict());
      expect(t.stats().expired).toBe(ref.expired);
      expect(sorted(t.keys())).toEqual(ref.keys());
      t.dispose();
    }
  });

  it('lfu keeps the frequent ids; score lets a burst of old lookups fade', () => {
    const lfu = new EmbeddingTable({ dim: 2, capacity: 2, policy: 'lfu', device: 'cpu' });
    const score = new EmbeddingTable({ dim: 2, capacity: 2, policy: 'score', scoreHalfLife: 1, device: 'cpu' });
    for (const t of [lfu, score]) {
      t.lookup([1, 1, 1, 1, 1, 1, 1, 1]); // id 1: a burst of 8 lookups at step 0
      for (let s = 0; s < 6; ++s) t.advance();
      t.lookup([2]); // id 2: once, at step 6
      t.advance();
      t.lookup([3]); // needs a row: one of 1 and 2 goes
    }
    // lfu: 2 (1 lookup) goes. score: 1's 8·2^-7 = 0.06 < 2's 1·2^-1 = 0.5, so 1 goes.
    expect(sorted(lfu.keys())).toEqual([1n, 3n]);
    expect(sorted(score.keys())).toEqual([2n, 3n]);
    lfu.dispose();
    score.dispose();
  });

  it('never exceeds capacity, even when one batch holds more new ids than rows', () => {
    const t = new EmbeddingTable({ dim: 2, capacity: 10, policy: 'lru', device: 'cpu' });
    const out = t.lookup(Array.from({ length: 25 }, (_, i) => i)).values();
    expect(t.size).toBe(10);
    expect(t.stats().dropped).toBe(15);
    // The first 10 ids (ascending) got rows; the others read zeros.
    expect(Array.from(out.slice(20)).every((x) => x === 0)).toBe(true);
    expect(Array.from(out.slice(0, 20)).some((x) => x !== 0)).toBe(true);
    t.dispose();
  });

  it('re-initializes a reused row, optimizer state included', () => {
    const t = new EmbeddingTable({ dim: 3, capacity: 1, policy: 'lru', device: 'cpu', seed: 2, optimizer: { kind: 'adagrad', lr: 0.1 } });
    const opt = new SparseOptimizer(t);
    const first = t.lookup([5]);
    const start = first.values();
    first.sum().backward();
    opt.step();
    t.lookup([6]); // evicts 5
    t.advance();
    const again = t.lookup([5]); // evicts 6, 5 starts over
    expect(Array.from(again.values())).toEqual(Array.from(start));
    // A fresh AdaGrad accumulator: the first step moves each weight by exactly lr.
    again.sum().backward();
    opt.step();
    t.eval();
    const after = t.lookup([5]).values();
    after.forEach((x, i) => expect(x).toBeCloseTo(start[i] - 0.1, 6));
    t.dispose();
  });

  it('evict({ toSize }) removes the lowest-valued rows', () => {
    const t = new EmbeddingTable({ dim: 2, capacity: 10, policy: 'lru', device: 'cpu' });
    for (let i = 0; i < 6; ++i) {
      t.lookup([i]);
      t.advance();
    }
    expect(t.evict({ toSize: 2 })).toBe(4);
    expect(sorted(t.keys())).toEqual([4n, 5n]);
    t.dispose();
  });
});

describe('EmbeddingTable expiry, admission, pruning', () => {
  it('expires ids not seen for more than ttlSteps, and re-initializes one that comes back first', () => {
    const t = new EmbeddingTable({ dim: 2, capacity: 10, policy: 'lru', ttlSteps: 2, device: 'cpu', seed: 4 });
    const start = t.lookup([1, 2]).values();
    const opt = new SparseOptimizer(t);
    t.lookup([1, 2]).sum().backward();
    opt.step(); // step 1; rows moved
    t.lookup([2]);
    t.advance(); // step 2
    t.advance(); // step 3: id 1 last seen at 0 → expired; id 2 seen at 1 → not
    const again = t.lookup([1]).values();
    expect(Array.from(again)).toEqual(Array.from(start.slice(0, 2)));
    expect(t.stats().reinits).toBe(1);
    t.advance();
    t.advance(); // step 5: id 2 (seen at 1) expired
    expect(t.evict()).toBe(1);
    expect(sorted(t.keys())).toEqual([1n]);
    expect(t.stats().expired).toBe(1);
    t.dispose();
  });

  it('expires by ttlSeconds on the table clock, and expireEvery sweeps on its own', () => {
    let now = 1000;
    const t = new EmbeddingTable({ dim: 2, capacity: 10, ttlSeconds: 60, expireEvery: 1, clock: () => now, device: 'cpu' });
    t.lookup([1]);
    now += 30;
    t.lookup([2]);
    now += 40; // id 1: 70 s old; id 2: 40 s
    t.advance();
    expect(sorted(t.keys())).toEqual([2n]);
    t.dispose();
  });

  it('admits an id only on its admitAfter-th sighting; until then it reads zeros', () => {
    const t = new EmbeddingTable({ dim: 2, capacity: 10, admitAfter: 3, device: 'cpu', ...{ sketchWidth: 1 << 12 } });
    expect(Array.from(t.lookup([7]).values())).toEqual([0, 0]);
    t.advance();
    expect(Array.from(t.lookup([7]).values())).toEqual([0, 0]);
    expect(t.size).toBe(0);
    t.advance();
    expect(Array.from(t.lookup([7]).values()).some((x) => x !== 0)).toBe(true);
    expect(t.size).toBe(1);
    // Three sightings in one batch count as three.
    t.lookup([8, 8, 8]);
    expect(t.contains([8])).toEqual([true]);
    expect(t.stats().rejected).toBe(2);
    t.dispose();
  });

  it('admission agrees with the reference model on a skewed stream (two buckets: 32 and 18 slots)', () => {
    const rng = new Rng(9);
    const t = new EmbeddingTable({ dim: 2, capacity: 50, policy: 'lru', admitAfter: 2, device: 'cpu' });
    const ref = new ReferenceTable({ capacity: 50, policy: 'lru', admitAfter: 2 });
    expect(t.stats().buckets).toBe(2);
    for (const batch of idStream(rng, 40, 30, 300)) {
      t.lookup(batch);
      ref.lookup(batch);
      t.advance();
      ref.advance();
    }
    expect(ref.evictions).toBeGreaterThan(0);
    expect(sorted(t.keys())).toEqual(ref.keys());
    expect(counters(t.stats())).toEqual(counters(ref));
    t.dispose();
  });

  it('prunes rows updated fewer than minUpdates times', () => {
    const t = new EmbeddingTable({ dim: 2, capacity: 10, device: 'cpu' });
    const opt = new SparseOptimizer(t);
    t.lookup([1, 2, 3]);
    t.lookup([2]).sum().backward();
    opt.step();
    expect(t.evict({ minUpdates: 1 })).toBe(2);
    expect(sorted(t.keys())).toEqual([2n]);
    expect(t.stats().pruned).toBe(2);
    t.dispose();
  });
});

describe('EmbeddingTable concurrency and input checks', () => {
  it('serves concurrent async lookups, each applied whole', async () => {
    const t = new EmbeddingTable({ dim: 4, capacity: 8192, device: 'cpu', seed: 8 });
    const rng = new Rng(1);
    const batches = idStream(rng, 24, 500, 4000);
    const distinct = new Set(batches.flat());
    // Every id finds a slot whatever the order the lookups are applied in: no bucket overflows.
    const { buckets, slots } = bucketLayout(8192);
    const load = new Array<number>(buckets).fill(0);
    for (const id of distinct) load[bucketOf(id, 8192)] += 1;
    load.forEach((n, b) => expect(n).toBeLessThanOrEqual(slots(b)));
    const outs = await Promise.all(batches.map((b) => t.lookupAsync(b)));
    expect(t.size).toBe(distinct.size);
    t.eval();
    batches.forEach((b, i) => {
      expect(Array.from(outs[i].values())).toEqual(Array.from(t.lookup(b).values()));
    });
    t.dispose();
  });

  it('names the argument in every bad-input error', () => {
    expect(() => new EmbeddingTable({ dim: 0, capacity: 4 })).toThrow(/options\.dim/);
    expect(() => new EmbeddingTable({ dim: 2, capacity: 4, policy: 'fifo' as never })).toThrow(/options\.policy/);
    expect(() => new EmbeddingTable({ dim: 2, capacity: 4, sketchWidth: 1000 })).toThrow(/options\.sketchWidth/);
    expect(() => new EmbeddingTable({ dim: 2, capacity: 4, capcity: 3 } as never)).toThrow(/Unknown option options\.capcity/);
    expect(() => new EmbeddingTable({ dim: 2, capacity: 4, optimizer: { kind: 'adamw' as never } })).toThrow(/options\.optimizer\.kind/);
    expect(() => new EmbeddingTable({ dim: 2, capacity: 4, defaultRow: [1] })).toThrow(/options\.defaultRow/);
    const t = new EmbeddingTable({ dim: 2, capacity: 4, device: 'cpu' });
    expect(() => t.lookup([1.5])).toThrow(/ids\[0\]/);
    expect(() => t.lookup([Number.NaN])).toThrow(/ids\[0\]/);
    expect(() => t.lookup(tensor([1, 2]))).toThrow(/int64 tensor for ids/);
    expect(() => t.lookup('abc' as never)).toThrow(/for ids/);
    expect(() => t.lookupBag([1, 2], [1])).toThrow(/offsets\[0\]/);
    expect(() => t.lookupBag([1, 2], [0, 3])).toThrow(/offsets\[1\]/);
    expect(() => t.lookupBag([1, 2], [0], { weights: [1] })).toThrow(/options\.weights/);
    expect(() => t.lookupBag([1, 2], [0], { weights: [1, Number.NaN] })).toThrow(/options\.weights\[1\]/);
    expect(() => t.lookupBag([1, 2], [0], { mode: 'max' as never })).toThrow(/options\.mode/);
    expect(() => t.evict({ toSize: -1 })).toThrow(/options\.toSize/);
    expect(t.size).toBe(0);
    t.dispose();
    expect(() => t.lookup([1])).toThrow(/disposed/);
  });

  it('checks bucketSize: an integer in [1, 2^30]', () => {
    for (const bucketSize of [0, -1, 1.5, Number.NaN, 2 ** 30 + 1, '32' as never]) {
      expect(() => new EmbeddingTable({ dim: 2, capacity: 64, bucketSize, device: 'cpu' })).toThrow(/options\.bucketSize/);
    }
    for (const bucketSize of [1, 7, 64, 65, 2 ** 30]) {
      const t = new EmbeddingTable({ dim: 2, capacity: 64, bucketSize, device: 'cpu' });
      expect(t.stats().buckets).toBe(Math.ceil(64 / Math.min(bucketSize, 64)));
      t.dispose();
    }
  });
});

describe('EmbeddingTable memory statistics', () => {
  for (const [kind, state] of [
    ['sgd', 0],
    ['adagrad', 1],
    ['adam', 2],
  ] as const) {
    it(`reports the buckets and the bytes per row and in all (${kind})`, () => {
      const dim = 6;
      const t = new EmbeddingTable({ dim, capacity: 100, bucketSize: 16, optimizer: { kind }, device: 'cpu' });
      const s = t.stats();
      expect(s.bucketSize).toBe(16);
      expect(s.buckets).toBe(7); // six of 16 slots and one of 4
      const embedding = 4 * dim;
      const optimizer = 4 * state * dim;
      expect(s.bytesPerRow).toEqual({ embedding, optimizer, metadata: 36, index: 9, total: embedding + optimizer + 36 + 9 });
      expect(s.memoryBytes).toBe(100 * (embedding + optimizer + 36 + 9));
      t.dispose();
    });
  }

  it('counts the admission sketch in memoryBytes when admitAfter > 1', () => {
    const t = new EmbeddingTable({ dim: 4, capacity: 64, admitAfter: 2, sketchWidth: 1 << 10, sketchDepth: 3, device: 'cpu' });
    const s = t.stats();
    expect(s.bucketSize).toBe(32);
    expect(s.buckets).toBe(2);
    expect(s.memoryBytes).toBe(64 * s.bytesPerRow.total + 4 * (1 << 10) * 3);
    t.dispose();
  });
});
