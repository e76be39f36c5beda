/**
 * Lanes: the copies of the model a server scores with. A local lane runs its {@link ModelCopy}
 * on the main thread; a worker lane runs one in a worker thread (its own instance of the addon)
 * and talks to it by messages, one at a time in the order sent — so an update sent between two
 * batches lands between them. Errors cross the thread boundary as the library's own classes.
 */
import { workerScript } from '../../worker-script';
import { Worker } from 'node:worker_threads';
import { fromNativeError, InternalError } from '../../errors';
import { ResolvedConfig } from '../../train/config';
import { Prediction } from '../predictor';
import { AppliedUpdate } from '../update';
import { ModelCopy } from './model-copy';
import { ServeConfig } from './options';

/**
 * A request checked on arrival: its objects, and the body text they were parsed from — what a
 * worker is sent (a string crosses threads as one copy; the worker parses it again).
 */
export interface CheckedRequest {
  rows: Record<string, unknown>[];
  body: string;
}

/** A batch's scores (one per row, the requests' rows in order) and the step of the weights that gave them. */
export interface LaneResult {
  predictions: Prediction[];
  step: number;
}

export interface Lane {
  readonly name: string;
  /** The step of the weights served; updated when an update is applied. */
  readonly step: number;
  /** False once a worker has died: its lane takes no more work. */
  readonly alive: boolean;
  run(requests: CheckedRequest[]): Promise<LaneResult>;
  update(bytes: Uint8Array): Promise<AppliedUpdate>;
  close(): Promise<void>;
}

/** What is needed to build a model copy, on any thread. */
export interface LaneSpec {
  config: ServeConfig;
  checkpoint: string | null;
  maxBatch: number;
}

/** An error as it crosses a thread boundary. */
export interface WireError {
  message: string;
  code?: string;
}

export function toWire(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  return { message: err.message, code: (err as { code?: string }).code };
}

/** The library's error class for the code (a GatewiseError), else a plain Error. */
export function fromWire(w: WireError): Error {
  return fromNativeError(Object.assign(new Error(w.message), { code: w.code })) as Error;
}

/** Messages to a serving worker. */
export type ToWorker = { type: 'run'; id: number; bodies: string[] } | { type: 'update'; id: number; bytes: Uint8Array } | { type: 'close' };

/** Messages from a serving worker. */
export type FromWorker =
  | { type: 'ready'; step: number }
  | { type: 'failed'; error: WireError }
  | { type: 'ran'; id: number; predictions?: Prediction[]; step: number; error?: WireError }
  | { type: 'updated'; id: number; applied?: AppliedUpdate; error?: WireError };

/** The model on this thread. */
export class LocalLane implements Lane {
  readonly name = 'main';
  readonly alive = true;
  private readonly copy: ModelCopy;

  constructor(config: ResolvedConfig, spec: LaneSpec) {
    this.copy = new ModelCopy(config, spec.checkpoint, spec.maxBatch);
  }

  get step(): number {
    return this.copy.step;
  }

  async run(requests: CheckedRequest[]): Promise<LaneResult> {
    return { predictions: this.copy.run(requests.length === 1 ? requests[0].rows : requests.flatMap((r) => r.rows)), step: this.copy.step };
  }

  async update(bytes: Uint8Array): Promise<AppliedUpdate> {
    return this.copy.update(bytes);
  }

  close(): Promise<void> {
    return this.copy.dispose();
  }
}

function workerEntry(): { file: string; eval: boolean } {
  return workerScript(__dirname, 'worker-entry');
}

interface Pending {
  resolve: (value: never) => void;
  reject: (error: Error) => void;
}

/** The model in a worker thread. */
export class WorkerLane implements Lane {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private current = 0;
  private live = true;
  private closing = false;

  private constructor(
    readonly name: string,
    spec: LaneSpec,
  ) {
    const entry = workerEntry();
    this.worker = new Worker(entry.file, { eval: entry.eval, workerData: spec });
  }

  /** Starts a worker and resolves once its model is loaded (rejects with its error otherwise). */
  static start(name: string, spec: LaneSpec): Promise<WorkerLane> {
    const lane = new WorkerLane(name, spec);
    return new Promise<WorkerLane>((resolve, reject) => {
      lane.worker.once('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          lane.current = m.step;
          lane.worker.on('message', (msg: FromWorker) => lane.receive(msg));
          resolve(lane);
        } else {
          void lane.worker.terminate();
          reject(m.type === 'failed' ? fromWire(m.error) : new InternalError(`serving worker ${name} sent '${m.type}' before it was ready`));
        }
      });
      lane.worker.on('error', (e) => lane.die(e, reject));
      lane.worker.on('exit', (code) => lane.die(new InternalError(`serving worker ${name} exited (code ${code})`), reject));
    });
  }

  get step(): number {
    return this.current;
  }

  get alive(): boolean {
    return this.live;
  }

  run(requests: CheckedRequest[]): Promise<LaneResult> {
    return this.send<LaneResult>((id) => ({ type: 'run', id, bodies: requests.map((r) => r.body) }));
  }

  update(bytes: Uint8Array): Promise<AppliedUpdate> {
    return this.send<AppliedUpdate>((id) => ({ type: 'update', id, bytes }));
  }

  /** Lets the worker finish what it was sent, free its model and exit. */
  async close(): Promise<void> {
    if (!this.live) return;
    this.closing = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    await exited;
  }

  private send<T>(message: (id: number) => ToWorker): Promise<T> {
    if (!this.live) return Promise.reject(new InternalError(`serving worker ${this.name} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: never) => void, reject });
      this.worker.postMessage(message(id));
    });
  }

  private receive(m: FromWorker): void {
    if (m.type !== 'ran' && m.type !== 'updated') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.error) return p.reject(fromWire(m.error));
    if (m.type === 'ran') p.resolve({ predictions: m.predictions!, step: m.step } as never);
    else {
      this.current = m.applied!.step;
      p.resolve(m.applied as never);
    }
  }

  /** The worker is gone: what it was sent fails, and it takes no more. */
  private die(error: Error, reject: (e: Error) => void): void {
    if (!this.live) return;
    this.live = false;
    reject(error); // no-op once started
    const e = this.closing ? new InternalError(`serving worker ${this.name} closed`) : error;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
