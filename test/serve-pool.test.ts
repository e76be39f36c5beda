/**
 * The scoring pool's dispatch and update order, over lanes that record what they are given:
 * a request goes to the least-loaded live lane and its rows stay together in one lane call;
 * the answers are split back per request; a dead lane gets nothing; past maxQueue rows a
 * request is refused (503); updates reach every lane one after another, in order, and one
 * refused by the first lane reaches no other.
 */
import { describe, expect, it } from 'vitest';
import type { Prediction } from '../lib/serve/predictor';
import type { AppliedUpdate } from '../lib/serve/update';
import type { CheckedRequest, Lane, LaneResult } from '../lib/serve/http/lanes';
import { ScoringPool } from '../lib/serve/http/pool';
import { HttpError } from '../lib/serve/http/requests';

/** A lane that scores row `{ x }` as `{ y: x + step }`, taking `delayMs` per call, and logs its calls. */
class RecordingLane implements Lane {
  alive = true;
  step = 0;
  readonly calls: number[][] = [];
  readonly updates: number[] = [];
  constructor(
    readonly name: string,
    private readonly delayMs = 0,
  ) {}
  async run(requests: CheckedRequest[]): Promise<LaneResult> {
    if (!this.alive) throw new Error(`${this.name} is dead`);
    const rows = requests.flatMap((r) => r.rows.map((row) => row.x as number));
    this.calls.push(rows);
    await new Promise((r) => setTimeout(r, this.delayMs));
    return { predictions: rows.map((x): Prediction => ({ y: x + this.step })), step: this.step };
  }
  async update(bytes: Uint8Array): Promise<AppliedUpdate> {
    await new Promise((r) => setTimeout(r, 5));
    if (bytes[0] === 0) throw new Error(`${this.name} refuses a corrupt update`);
    this.updates.push(bytes[0]);
    this.step = bytes[0];
    return { step: bytes[0], sinceStep: null, rows: {} } as unknown as AppliedUpdate;
  }
  async close(): Promise<void> {}
}

const req = (...xs: number[]): CheckedRequest => ({ rows: xs.map((x) => ({ x })), body: JSON.stringify(xs.map((x) => ({ x }))) });

describe('ScoringPool', () => {
  it('sends each request to the least-loaded live lane, keeps its rows together, splits the answers back', async () => {
    const slow = new RecordingLane('slow', 80);
    const fast = new RecordingLane('fast', 0);
    const pool = new ScoringPool([slow, fast], { maxBatch: 4, maxDelayMs: 0, maxQueue: 100 });
    const first = pool.score(req(1, 2, 3)); // to slow (ties go in turn), held there 80 ms
    const rest = await Promise.all([pool.score(req(4)), pool.score(req(5, 6))]);
    expect(rest.map((r) => r.predictions)).toEqual([[{ y: 4 }], [{ y: 5 }, { y: 6 }]]);
    expect((await first).predictions).toEqual([{ y: 1 }, { y: 2 }, { y: 3 }]);
    expect(slow.calls).toEqual([[1, 2, 3]]);
    expect(fast.calls).toEqual([[4, 5, 6]]); // one batch of two requests
    expect(pool.pending).toBe(0);

    fast.alive = false;
    expect((await pool.score(req(7))).predictions).toEqual([{ y: 7 }]);
    expect(slow.calls.at(-1)).toEqual([7]);
    slow.alive = false;
    await expect(pool.score(req(8))).rejects.toEqual(new HttpError(503, 'no model copy is running'));
    expect(pool.live).toBe(0);
  });

  it('refuses a request that would pass maxQueue rows', async () => {
    const pool = new ScoringPool([new RecordingLane('a', 50)], { maxBatch: 8, maxDelayMs: 0, maxQueue: 5 });
    const held = pool.score(req(1, 2, 3, 4));
    await expect(pool.score(req(5, 6))).rejects.toEqual(new HttpError(503, 'overloaded: 4 rows are waiting (the limit is 5)'));
    expect((await pool.score(req(5))).predictions).toEqual([{ y: 5 }]);
    await held;
  });

  it('applies updates to every lane in order, one at a time; a refused one reaches no other lane', async () => {
    const lanes = [new RecordingLane('a'), new RecordingLane('b'), new RecordingLane('c')];
    const pool = new ScoringPool(lanes, { maxBatch: 8, maxDelayMs: 0, maxQueue: 100 });
    const results = await Promise.allSettled([pool.update(Uint8Array.of(3)), pool.update(Uint8Array.of(0)), pool.update(Uint8Array.of(9))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('a refuses a corrupt update');
    for (const lane of lanes) expect(lane.updates).toEqual([3, 9]);
    expect(pool.step).toBe(9);
    expect((await pool.score(req(1))).step).toBe(9);
    await pool.close();
  });
});
