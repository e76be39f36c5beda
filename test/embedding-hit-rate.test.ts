/**
 * The bucketed table's eviction quality: on a Zipf(1.05) id stream over 10× the capacity in
 * ids, its hit rate is within 1% (absolute) of the exact global LRU and LFU (the simulators of
 * bench/exact-cache.ts), and with one bucket (bucketSize = capacity) it is the exact policy:
 * the same hits, batch by batch.
 */
import { describe, expect, it } from 'vitest';
import { CacheSim, exactLfu, exactLru } from '../bench/exact-cache';
import { EmbeddingTable, Rng, tidy } from '../lib';

const CAPACITY = 4096;
const UNIVERSE = 10 * CAPACITY;
const BATCH = 1024;
const BATCHES = 117; // 119,808 ids
const WARMUP = Math.floor(BATCHES / 3); // batches before the hit rate is measured
const EXPONENT = 1.05;

/**
 * Zipf(exponent) ranks over [0, universe) by inverting the continuous power law's CDF
 * (rank r + 1 ≈ x with density ∝ x^−exponent on [1, universe + 1)), each rank scrambled
 * over int64 by a bijection (an odd multiplier and an offset, mod 2^64), batch by batch.
 */
function zipfStream(seed: number, batches: number, batch: number, universe: number, exponent: number): BigInt64Array[] {
  const rng = new Rng(seed);
  const a = (universe + 1) ** (1 - exponent) - 1;
  return Array.from({ length: batches }, () => {
    const ids = new BigInt64Array(batch);
    for (let i = 0; i < batch; ++i) {
      const x = (1 + rng.uniform() * a) ** (1 / (1 - exponent));
      const rank = Math.min(universe - 1, Math.floor(x) - 1);
      ids[i] = BigInt.asIntN(64, BigInt(rank) * 0x9e3779b97f4a7c15n + 0x632be5ab9e3779b9n);
    }
    return ids;
  });
}

/** Hits per batch of a training table fed the stream, one step per batch. */
function tableHits(table: EmbeddingTable, stream: BigInt64Array[]): number[] {
  return stream.map((ids) => {
    const before = table.stats().hits;
    tidy(() => void table.lookup(ids));
    table.advance();
    return table.stats().hits - before;
  });
}

const simHits = (sim: CacheSim, stream: BigInt64Array[]) => stream.map((ids) => sim.lookup(ids));

/** Hit rate over the batches after the warm-up. */
const hitRate = (hits: number[]) => hits.slice(WARMUP).reduce((s, h) => s + h, 0) / ((hits.length - WARMUP) * BATCH);

describe('EmbeddingTable hit rate against the exact policy', () => {
  const stream = zipfStream(18, BATCHES, BATCH, UNIVERSE, EXPONENT);

  it('the stream spans far more ids than the table holds', () => {
    const distinct = new Set<bigint>();
    for (const ids of stream) for (const id of ids) distinct.add(id);
    expect(distinct.size).toBeGreaterThan(3 * CAPACITY);
    expect(distinct.size).toBeLessThanOrEqual(UNIVERSE);
  });

  for (const [policy, exact] of [
    ['lru', exactLru],
    ['lfu', exactLfu],
  ] as const) {
    it(`${policy}: buckets of 32 stay within 1% of exact ${policy}; one bucket is exact ${policy}`, () => {
      const exactHits = simHits(exact(CAPACITY), stream);
      const exactRate = hitRate(exactHits);

      const bucketed = new EmbeddingTable({ dim: 4, capacity: CAPACITY, policy, seed: 1, device: 'cpu' });
      const bucketedRate = hitRate(tableHits(bucketed, stream));
      expect(bucketed.stats().buckets).toBe(CAPACITY / 32);
      expect(bucketed.stats().evictions).toBeGreaterThan(0);
      expect(Math.abs(bucketedRate - exactRate), `${policy}: bucketed ${bucketedRate}, exact ${exactRate}`).toBeLessThanOrEqual(0.01);
      bucketed.dispose();

      const single = new EmbeddingTable({ dim: 4, capacity: CAPACITY, policy, seed: 1, device: 'cpu', bucketSize: CAPACITY });
      expect(single.stats().buckets).toBe(1);
      expect(tableHits(single, stream)).toEqual(exactHits);
      single.dispose();
    }, 60_000);
  }
});
