import { ArgumentError, DisposedError } from '../errors';
import { checkFunction, checkInt, checkKnownKeys, checkOptions, checkRange } from '../validate';

/** Options of {@link MicroBatcher}. */
export interface MicroBatcherOptions<Req, Res> {
  /** Runs a batch: one result per request, in the requests' order. May be async. */
  run: (requests: Req[]) => Res[] | Promise<Res[]>;
  /** The most requests in one batch (default 256). */
  maxBatch?: number;
  /** How long the first waiting request waits for others, in ms (default 1; 0: until the event loop's check phase, `setImmediate`). */
  maxDelayMs?: number;
  /**
   * The most re-runs of parts of one failed batch (default 2·(maxBatch − 1): enough to isolate
   * every request; 4·⌈log₂ maxBatch⌉ isolates two bad requests in a full batch; 0: a failed
   * batch rejects all its requests with its error).
   */
  maxRetries?: number;
}

/** A MicroBatcher's counters since it was made. */
export interface MicroBatcherStats {
  /** Requests submitted. */
  requests: number;
  /** Batches run (re-runs of single requests after a failed batch not included). */
  batches: number;
  /** The most requests in one batch. */
  largestBatch: number;
  /** Requests of failed batches (of several), re-run in halves. */
  isolated: number;
}

interface Waiting<Req, Res> {
  request: Req;
  resolve: (result: Res) => void;
  reject: (error: unknown) => void;
  /** performance.now() at submit. */
  at: number;
}

/**
 * MicroBatcher: requests that arrive one at a time (an HTTP handler's, say) gathered into
 * batches for one `run` call each. A batch runs when `maxBatch` requests are waiting or
 * `maxDelayMs` after the first of them arrived, whichever is first; batches run one at a time,
 * requests in arrival order. When `run` throws for a batch of several, the batch is split in
 * halves and each half run again, halving the parts that still fail, so a bad request ends up
 * alone and fails with its own error while the others are scored — in about 2·k·log₂(n/k)
 * re-runs for k bad requests among n, not n. `maxRetries` bounds the re-runs: by default
 * (2·(maxBatch − 1)) every request is always isolated; a caller that checks requests before
 * submitting them (an HTTP server parsing each on arrival), whose batches then only fail for
 * reasons of the whole batch, sets a small bound, and parts still failing when it is spent
 * reject with their error.
 */
export class MicroBatcher<Req, Res> {
  /** The most requests in one batch. */
  readonly maxBatch: number;
  /** How long the first waiting request waits for others, in ms. */
  readonly maxDelayMs: number;
  /** The most re-runs of parts of one failed batch. */
  readonly maxRetries: number;
  private readonly run: (requests: Req[]) => Res[] | Promise<Res[]>;
  private readonly queue: Waiting<Req, Res>[] = [];
  private readonly counters: MicroBatcherStats = { requests: 0, batches: 0, largestBatch: 0, isolated: 0 };
  private timer: { kind: 'timeout'; handle: NodeJS.Timeout } | { kind: 'immediate'; handle: NodeJS.Immediate } | null = null;
  private running = false;
  private closed = false;
  private idle: (() => void)[] = [];

  constructor(options: MicroBatcherOptions<Req, Res>) {
    const o = checkOptions(options, 'options');
    checkKnownKeys(o, 'options', ['run', 'maxBatch', 'maxDelayMs', 'maxRetries']);
    this.run = checkFunction(o.run, 'options.run') as (requests: Req[]) => Res[] | Promise<Res[]>;
    this.maxBatch = checkInt(o.maxBatch ?? 256, 'options.maxBatch', 1);
    this.maxDelayMs = checkRange(o.maxDelayMs ?? 1, 'options.maxDelayMs', 0, 2 ** 31 - 1, 'a number of milliseconds from 0 to 2^31 - 1');
    this.maxRetries = checkInt(o.maxRetries ?? 2 * (this.maxBatch - 1), 'options.maxRetries', 0);
  }

  /** Counters since construction (a copy). */
  get stats(): MicroBatcherStats {
    return { ...this.counters };
  }

  /** Requests waiting for a batch (not counting the one running). */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues a request; resolves with its result, or rejects with its error. */
  submit(request: Req): Promise<Res> {
    if (this.closed) return Promise.reject(new DisposedError('this MicroBatcher is closed: submit() after close()'));
    return new Promise<Res>((resolve, reject) => {
      this.counters.requests += 1;
      this.queue.push({ request, resolve, reject, at: performance.now() });
      if (this.queue.length >= this.maxBatch) queueMicrotask(() => this.pump(false));
      else this.arm(this.maxDelayMs);
    });
  }

  /**
   * Refuses further requests (their promises reject with a DisposedError) and runs the waiting
   * ones without further delay; resolves when the last has finished.
   */
  close(): Promise<void> {
    this.closed = true;
    const done = new Promise<void>((resolve) => this.idle.push(resolve));
    this.pump(true);
    return done;
  }

  /** Starts a timer (unless one is set) that runs the waiting requests when it fires. */
  private arm(ms: number): void {
    if (this.timer) return;
    const fire = () => {
      this.timer = null;
      this.pump(true);
    };
    this.timer = this.maxDelayMs === 0 ? { kind: 'immediate', handle: setImmediate(fire) } : { kind: 'timeout', handle: setTimeout(fire, Math.max(0, ms)) };
  }

  private disarm(): void {
    if (!this.timer) return;
    if (this.timer.kind === 'immediate') clearImmediate(this.timer.handle);
    else clearTimeout(this.timer.handle);
    this.timer = null;
  }

  /** Runs the next batch when one is due (`due`: the first request's wait is over). */
  private pump(due: boolean): void {
    if (this.running) return;
    if (this.queue.length === 0) {
      this.disarm();
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    const waited = performance.now() - this.queue[0].at;
    if (!due && !this.closed && this.queue.length < this.maxBatch && waited < this.maxDelayMs) {
      this.arm(this.maxDelayMs - waited);
      return;
    }
    this.disarm();
    const batch = this.queue.splice(0, this.maxBatch);
    this.running = true;
    this.counters.batches += 1;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    void this.runBatch(batch).finally(() => {
      this.running = false;
      this.pump(false);
    });
  }

  private async runBatch(batch: Waiting<Req, Res>[]): Promise<void> {
    const failed = await this.attempt(batch);
    if (failed === null) return;
    if (batch.length === 1 || this.maxRetries === 0) {
      for (const w of batch) w.reject(failed.error);
      return;
    }
    // Which request broke it? Halve the failing parts, breadth first, within the budget.
    this.counters.isolated += batch.length;
    let budget = this.maxRetries;
    const parts = [{ part: batch, error: failed.error }];
    for (let next = parts.shift(); next; next = parts.shift()) {
      const { part, error } = next;
      if (part.length === 1 || budget < 2) {
        for (const w of part) w.reject(error);
        continue;
      }
      budget -= 2;
      const mid = Math.ceil(part.length / 2);
      for (const half of [part.slice(0, mid), part.slice(mid)]) {
        const f = await this.attempt(half);
        if (f !== null) parts.push({ part: half, error: f.error });
      }
    }
  }

  /**
   * Runs some requests and settles them, or returns the error `run` threw (nothing settled).
   * A wrong number of results settles them all with that error: it is no request's fault.
   */
  private async attempt(part: Waiting<Req, Res>[]): Promise<{ error: unknown } | null> {
    const run = this.run; // called as a plain function, not as a method of the batcher
    let results: Res[];
    try {
      results = await run(part.map((w) => w.request));
    } catch (error) {
      return { error };
    }
    try {
      checkResults(results, part.length);
    } catch (e) {
      for (const w of part) w.reject(e);
      return null;
    }
    part.forEach((w, i) => w.resolve(results[i]));
    return null;
  }
}

function checkResults(results: unknown, n: number): void {
  if (!Array.isArray(results) || results.length !== n) {
    const got = Array.isArray(results) ? `${results.length} results` : `a value of type ${results === null ? 'null' : typeof results}`;
    throw new ArgumentError(`Expected options.run to return an array of ${n} result(s), one per request in order, but it returned ${got}`);
  }
}
