/**
 * The Gloo process group across 2 ranks (child processes on loopback, started as torchrun
 * would): every collective's result, and faults: a rank that exits or hangs makes the other
 * fail within the timeout with an error naming it. Skips, saying why, without the Gloo addon.
 */
import { describe, expect, it } from 'vitest';
import { launch, skipReason } from './fixtures/distributed-launch';

if (skipReason) console.log(skipReason);

describe.skipIf(skipReason !== '')('process group (gloo, 2 ranks)', () => {
  it('runs allReduce, broadcast, allGather, allToAllV and barrier on arrays and tensors', async () => {
    const ranks = await launch('collectives', 2);
    for (const r of ranks) expect(r.code, r.stderr).toBe(0);
    const [a, b] = ranks.map((r) => r.json as Record<string, unknown>);
    for (const r of [a, b]) {
      // Σ over ranks of (rank + 1) · i at i = 0, 1, 999.
      expect(r.sum).toEqual([0, 3, 2997]);
      expect(r.max).toEqual(['1000000000000000', '0']);
      expect(r.bcast).toEqual([200, 201, 202, 203, 204]);
      expect(r.gathered).toEqual([[0], [1, 1]]);
      expect(r.none).toBe(0);
      expect(r.tensor).toEqual([1, 3, 5, 7, 9, 11]);
    }
    // Rank r sent d + 1 copies of r·10 + d to rank d.
    expect(a.a2a).toEqual({ data: [0, 10], counts: [1, 1] });
    expect(b.a2a).toEqual({ data: [1, 1, 11, 11], counts: [2, 2] });
    const stats = a.stats as { ops: number; bytesSent: number };
    expect(stats.ops).toBeGreaterThanOrEqual(8);
    // The 1000-float all-reduce alone sends 2·(W−1)/W · 4000 bytes.
    expect(stats.bytesSent).toBeGreaterThan(4000);
  }, 60000);

  it.each([1, 0])('names rank %i when it exits mid-way (rank 0 also hosts the store)', async (victim) => {
    const ranks = await launch('dies', 2, [String(victim)]);
    const survivor = ranks[1 - victim];
    expect(ranks[victim].code).toBe(3);
    expect(survivor.code, survivor.stderr).toBe(0);
    const r = survivor.json as { failedAfterMs: number; message: string; culprit: number };
    expect(r.culprit).toBe(victim);
    expect(r.message).toMatch(new RegExp(`^rank ${victim} exited`));
    expect(r.failedAfterMs).toBeLessThan(5000);
  }, 60000);

  it.each([1, 0])('names rank %i when it hangs, once the timeout passes (rank 0 also hosts the store)', async (victim) => {
    const ranks = await launch('hangs', 2, [String(victim)], { env: { GATEWISE_DIST_TIMEOUT_MS: '2000' }, killAfterMs: 20000 });
    const survivor = ranks[1 - victim];
    const r = survivor.json as { failedAfterMs: number; message: string; culprit: number };
    expect(survivor.code, survivor.stderr).toBe(0);
    expect(r.culprit).toBe(victim);
    expect(r.message).toMatch(new RegExp(`^rank ${victim} did not respond`));
    expect(r.message).toMatch(/Timed out waiting 2000ms/);
    // The timeout plus the 1 s check-in window, and some slack for a loaded machine.
    expect(r.failedAfterMs).toBeGreaterThanOrEqual(2000);
    expect(r.failedAfterMs).toBeLessThan(8000);
  }, 60000);
});
