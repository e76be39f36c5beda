/**
 * Table exports cut and joined by id (lib/distributed/table-shards.ts) — what lets a sharded
 * table's checkpoint load into any world size — and the id → rank map. No Gloo needed.
 */
import { describe, expect, it } from 'vitest';
import { distinctIds, joinExports, ownerOf, ownersOf } from '../lib/distributed/table-shards';
import { EmbeddingTable } from '../lib/embedding/table';
import { FormatError } from '../lib/errors';
import { SparseOptimizer } from '../lib/embedding/sparse-optimizer';
import { lookupSequences } from '../lib/embedding/sequence';
import { sum } from '../lib/ops/reduce';
import { tidy } from '../lib/scope';

const options = { dim: 4, capacity: 256, seed: 9, clock: () => 0, optimizer: { kind: 'adagrad' as const, lr: 0.1 } };

/** A table holding `ids`, each trained once (so rows, metadata and optimizer state vary). */
function tableWith(ids: bigint[]): EmbeddingTable {
  const t = new EmbeddingTable(options);
  const opt = new SparseOptimizer(t);
  tidy(() => {
    sum(t.lookup(ids)).backward();
    opt.step();
  });
  return t;
}

describe('table exports by id', () => {
  const ids = Array.from({ length: 60 }, (_, i) => BigInt(i * 7919 - 100000));
  const even = ids.filter((_, i) => i % 2 === 0);
  const odd = ids.filter((_, i) => i % 2 === 1);

  it('joining two tables’ exports gives the export of one table holding both', () => {
    const [a, b, all] = [tableWith(even), tableWith(odd), tableWith(ids)];
    try {
      expect(Buffer.from(joinExports([a.export(), b.export()])).equals(Buffer.from(all.export()))).toBe(true);
      // And the joined file imports like the original.
      const c = new EmbeddingTable(options);
      expect(c.import(joinExports([b.export(), a.export()]))).toBe(ids.length);
      expect(Array.from(c.keys())).toEqual(Array.from(all.keys()));
      c.dispose();
    } finally {
      for (const t of [a, b, all]) t.dispose();
    }
  });

  it('cutting an export keeps the rows whose ids pass', () => {
    const [a, all] = [tableWith(even), tableWith(ids)];
    try {
      const evenSet = new Set(even);
      expect(Buffer.from(joinExports([all.export()], (id) => evenSet.has(id))).equals(Buffer.from(a.export()))).toBe(true);
      const none = joinExports([all.export()], () => false);
      const t = new EmbeddingTable(options);
      expect(t.import(none)).toBe(0);
      t.dispose();
    } finally {
      a.dispose();
      all.dispose();
    }
  });

  it('rejects what is not an export, or a corrupt one', () => {
    expect(() => joinExports([new Uint8Array(10)])).toThrow(FormatError);
    const t = tableWith(even);
    const bad = t.export().slice();
    bad[20] ^= 1;
    t.dispose();
    expect(() => joinExports([bad])).toThrow(/header checksum/);
    expect(() => joinExports([])).toThrow(FormatError);
  });

  it('owners: hash(id) mod worldSize, the same from bigints and from words, spread evenly', () => {
    const many = BigInt64Array.from({ length: 20000 }, (_, i) => BigInt(i) * 1000003n - 7n);
    for (const W of [1, 2, 3, 8]) {
      const owners = ownersOf(many, W);
      const counts = new Array<number>(W).fill(0);
      owners.forEach((r, i) => {
        counts[r] += 1;
        if (i < 200) expect(ownerOf(many[i], W)).toBe(r);
      });
      for (const c of counts) expect(Math.abs(c - many.length / W)).toBeLessThan(0.05 * (many.length / W) + 1);
    }
    expect(ownerOf(-1n, 2)).toBe(ownerOf(0xffffffffffffffffn, 2));
  });
});

describe('distinct ids', () => {
  it('first-seen order and each id’s index, across the whole int64 range', () => {
    const ids = BigInt64Array.from([5n, -1n, 5n, 2n ** 40n, -(2n ** 63n), -1n, 2n ** 40n + 1n, 0n, 5n]);
    const { distinct, index } = distinctIds(ids);
    expect(Array.from(distinct)).toEqual([5n, -1n, 2n ** 40n, -(2n ** 63n), 2n ** 40n + 1n, 0n]);
    expect(Array.from(index)).toEqual([0, 1, 0, 2, 3, 1, 4, 5, 0]);
    const many = BigInt64Array.from({ length: 5000 }, (_, i) => BigInt((i * 7) % 1234) << 33n);
    const r = distinctIds(many);
    expect(r.distinct.length).toBe(1234);
    r.index.forEach((u, i) => expect(r.distinct[u]).toBe(many[i]));
    expect(distinctIds(new BigInt64Array(0)).distinct.length).toBe(0);
  });
});

describe('every lookup happens (a sharded table needs every rank in each)', () => {
  it('lookupSequences looks an all-empty batch up, and training steps through it', () => {
    const t = new EmbeddingTable(options);
    const seen: number[] = [];
    const lookup = t.lookup.bind(t);
    t.lookup = (ids) => {
      seen.push(ids instanceof BigInt64Array ? ids.length : -1);
      return lookup(ids);
    };
    const opt = new SparseOptimizer(t);
    tidy(() => {
      const { embeddings } = lookupSequences(t, new BigInt64Array(6), [0, 0, 0], { layout: 'padded' });
      expect(embeddings.shape).toEqual([3, 1, 4]);
      expect(embeddings.values().every((v) => v === 0)).toBe(true);
      opt.step();
    });
    expect(seen).toEqual([0]);
    expect(t.step).toBe(1);
    t.dispose();
  });
});
