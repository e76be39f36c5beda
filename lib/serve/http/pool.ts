/**
 * The scoring pool: the server's lanes (model copies) each behind its own {@link MicroBatcher},
 * with checked requests dispatched to the least-loaded live lane (fewest rows waiting or
 * running; ties in turn). A batch gathers whole requests, so one request's rows are scored by
 * one model. The requests were checked on arrival, so a batch fails for reasons of its own:
 * it is re-run in halves at most 4·⌈log₂ maxBatch⌉ times (enough to isolate two requests that
 * passed the checks and still broke it), not once per request. Updates go through one queue: each is applied to every lane, in order, between
 * that lane's batches.
 */
import { InternalError } from '../../errors';
import { MicroBatcher } from '../micro-batcher';
import { Prediction } from '../predictor';
import { AppliedUpdate } from '../update';
import { CheckedRequest, Lane, LaneResult } from './lanes';
import { HttpError } from './requests';

/** A request's scores (one per row) and the step of the model that gave them. */
export interface Scored {
  predictions: Prediction[];
  step: number;
}

export interface PoolOptions {
  /** The most requests gathered into one batch. */
  maxBatch: number;
  maxDelayMs: number;
  /** The most rows waiting or running, all lanes together: past it, score() rejects with a 503. */
  maxQueue: number;
  /** After each lane call (a batch, or a part of a failed one re-run): its rows, and whether it failed. */
  onRun?: (rows: number, failed: boolean) => void;
}

interface Slot {
  lane: Lane;
  batcher: MicroBatcher<CheckedRequest, Scored>;
  /** Rows submitted and not yet answered. */
  load: number;
}

export class ScoringPool {
  private readonly slots: Slot[];
  private turn = 0;
  private queued = 0;
  private updates: Promise<unknown> = Promise.resolve();

  constructor(
    lanes: Lane[],
    private readonly o: PoolOptions,
  ) {
    this.slots = lanes.map((lane) => ({ lane, batcher: new MicroBatcher<CheckedRequest, Scored>({ run: (requests) => this.runBatch(lane, requests), maxBatch: o.maxBatch, maxDelayMs: o.maxDelayMs, maxRetries: 4 * Math.ceil(Math.log2(o.maxBatch)) }), load: 0 }));
  }

  /** Rows waiting or running. */
  get pending(): number {
    return this.queued;
  }

  /** Lanes still running. */
  get live(): number {
    return this.slots.filter((s) => s.lane.alive).length;
  }

  /** The step of the model served (the first live lane's; every lane applies the same updates). */
  get step(): number {
    return (this.slots.find((s) => s.lane.alive) ?? this.slots[0]).lane.step;
  }

  /** Scores a checked request's rows on the least-loaded lane. */
  async score(request: CheckedRequest): Promise<Scored> {
    const rows = request.rows;
    if (this.queued + rows.length > this.o.maxQueue) throw new HttpError(503, `overloaded: ${this.queued} rows are waiting (the limit is ${this.o.maxQueue})`);
    const slot = this.pick();
    if (!slot) throw new HttpError(503, 'no model copy is running');
    slot.load += rows.length;
    this.queued += rows.length;
    try {
      return await slot.batcher.submit(request);
    } finally {
      slot.load -= rows.length;
      this.queued -= rows.length;
    }
  }

  /**
   * Applies an update to every lane, after the updates before it. The first lane checks it: a
   * corrupt or mismatched update is refused there (its error thrown) and reaches no other lane.
   */
  update(bytes: Uint8Array): Promise<AppliedUpdate> {
    const next = this.updates.then(async () => {
      const live = this.slots.filter((s) => s.lane.alive).map((s) => s.lane);
      if (live.length === 0) throw new HttpError(503, 'no model copy is running');
      const applied = await live[0].update(bytes);
      const rest = await Promise.allSettled(live.slice(1).map((l) => l.update(bytes)));
      const failed = rest.findIndex((r) => r.status === 'rejected');
      if (failed >= 0) throw new InternalError(`the update from step ${applied.step} was applied by ${live[0].name} but refused by ${live[failed + 1].name}: ${((rest[failed] as PromiseRejectedResult).reason as Error).message}`);
      return applied;
    });
    this.updates = next.catch(() => undefined);
    return next;
  }

  /** Scores what is waiting, then stops every lane. */
  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.batcher.close()));
    await this.updates;
    await Promise.all(this.slots.map((s) => s.lane.close()));
  }

  private pick(): Slot | undefined {
    let best: Slot | undefined;
    const n = this.slots.length;
    for (let k = 0; k < n; ++k) {
      const s = this.slots[(this.turn + k) % n];
      if (s.lane.alive && (!best || s.load < best.load)) best = s;
    }
    this.turn = (this.turn + 1) % n;
    return best;
  }

  /** One batch: the requests' rows in one lane call, the scores handed back per request. */
  private async runBatch(lane: Lane, requests: CheckedRequest[]): Promise<Scored[]> {
    const rows = requests.reduce((n, r) => n + r.rows.length, 0);
    let result: LaneResult;
    try {
      result = await lane.run(requests);
    } catch (e) {
      this.o.onRun?.(rows, true);
      throw e;
    }
    this.o.onRun?.(rows, false);
    let at = 0;
    return requests.map((r) => {
      const predictions = result.predictions.slice(at, at + r.rows.length);
      at += r.rows.length;
      return { predictions, step: result.step };
    });
  }
}
