import { noGrad } from '../autograd';
import { Device } from '../backend';
import { Batch, collate } from '../data/batches';
import { rowFromObject } from '../data/readers';
import { DataSchema, defineSchema, Schema } from '../data/schema';
import { DTypeError, ShapeError } from '../errors';
import { TaskKind, TASK_KINDS } from '../metrics/task-metrics';
import { inEvalMode, Module } from '../nn/module';
import { tidy } from '../scope';
import { Tensor } from '../tensor';
import { checkFunction, checkKnownKeys, checkOneOf, checkOptions, invalid } from '../validate';
import { MicroBatcher, MicroBatcherStats } from './micro-batcher';

/** One request's outputs by task name: probabilities for binary tasks, values for regression tasks. */
export type Prediction = Record<string, number>;

/** Options of {@link Predictor}. */
export interface PredictorOptions<Req, B> {
  /** The trained model; put in eval mode while predicting, its mode restored afterwards. */
  model: Module;
  /** Other modules put in eval mode with it (e.g. EmbeddingTables held outside the model, so lookups insert nothing) (default none). */
  alsoEval?: Module[];
  /** Makes one batch of some requests (at most maxBatch); called inside the prediction's tidy, so tensors it makes are freed. */
  collate: (requests: Req[]) => B;
  /** Runs the model on a batch: (B, T) float32, logits for binary tasks and values for regression tasks, columns in `tasks` order. */
  forward: (batch: B) => Tensor;
  /** Frees what a batch holds besides tracked tensors (e.g. `(b) => b.dispose()`), after its forward (default none). */
  release?: (batch: B) => void;
  /** Task names, in the outputs' column order. */
  tasks: string[];
  /** Each task's kind (default all 'binary': σ(logit) is returned; 'regression': the raw output). */
  kinds?: TaskKind[];
  /** The most requests per forward pass (default 256). */
  maxBatch?: number;
  /** How long `score()` lets the first waiting request wait for others, in ms (default 1). */
  maxDelayMs?: number;
}

/** A Predictor's counters: its batcher's, and its forward passes. */
export interface PredictorStats extends MicroBatcherStats {
  /** Forward passes run by predict() and score(). */
  forwards: number;
  /** Requests scored by those forward passes. */
  rows: number;
}

/**
 * Predictor: a trained model behind a request-shaped API. `predict(requests)` scores a list
 * synchronously, in chunks of `maxBatch`, with the model (and the modules in `alsoEval`, such
 * as embedding tables held beside it) in eval mode — dropout off, table lookups that never
 * insert: an unseen id reads the table's default row — without a graph, freeing every tensor
 * it made, and puts every module back in the mode it was in. `score(request)` goes through a
 * {@link MicroBatcher}, so the requests of concurrent HTTP handlers share forward passes.
 *
 * Outputs: a probability (σ of the logit) per binary task, the raw value per regression task.
 */
export class Predictor<Req, B> {
  /** Task names, in the outputs' column order. */
  readonly tasks: readonly string[];
  /** Each task's kind. */
  readonly kinds: readonly TaskKind[];
  /** The most requests per forward pass. */
  readonly maxBatch: number;
  private readonly o: PredictorOptions<Req, B>;
  private readonly batcher: MicroBatcher<Req, Prediction>;
  private forwards = 0;
  private rows = 0;

  constructor(options: PredictorOptions<Req, B>) {
    const o = checkOptions(options, 'options');
    checkKnownKeys(o, 'options', ['model', 'alsoEval', 'collate', 'forward', 'release', 'tasks', 'kinds', 'maxBatch', 'maxDelayMs']);
    if (!(o.model instanceof Module)) throw invalid('a Module', 'options.model', o.model);
    if (o.alsoEval !== undefined) {
      if (!Array.isArray(o.alsoEval)) throw invalid('an array of Modules', 'options.alsoEval', o.alsoEval);
      o.alsoEval.forEach((m, i) => {
        if (!(m instanceof Module)) throw invalid('a Module', `options.alsoEval[${i}]`, m);
      });
    }
    checkFunction(o.collate, 'options.collate');
    checkFunction(o.forward, 'options.forward');
    if (o.release !== undefined) checkFunction(o.release, 'options.release');
    if (!Array.isArray(o.tasks) || o.tasks.length === 0) throw invalid('a non-empty array of task names', 'options.tasks', o.tasks);
    o.tasks.forEach((t, i) => {
      if (typeof t !== 'string' || t.length === 0) throw invalid('a non-empty string', `options.tasks[${i}]`, t);
      if (o.tasks!.indexOf(t) !== i) throw invalid(`a unique task name ('${t}' is also options.tasks[${o.tasks!.indexOf(t)}])`, `options.tasks[${i}]`, t);
    });
    this.tasks = o.tasks.slice();
    const kinds = o.kinds ?? this.tasks.map((): TaskKind => 'binary');
    if (!Array.isArray(kinds) || kinds.length !== this.tasks.length) throw invalid(`${this.tasks.length} kinds (one per task)`, 'options.kinds', o.kinds);
    this.kinds = kinds.map((k, t) => checkOneOf(k, `options.kinds[${t}]`, TASK_KINDS));
    // The batcher validates maxBatch and maxDelayMs (with its own defaults: 256 and 1 ms).
    this.batcher = new MicroBatcher<Req, Prediction>({
      run: (requests) => this.predict(requests),
      ...(o.maxBatch === undefined ? {} : { maxBatch: o.maxBatch }),
      ...(o.maxDelayMs === undefined ? {} : { maxDelayMs: o.maxDelayMs }),
    });
    this.maxBatch = this.batcher.maxBatch;
    this.o = o as PredictorOptions<Req, B>;
  }

  /** Scores requests now, in order, in chunks of maxBatch (see the class comment). */
  predict(requests: Req[]): Prediction[] {
    if (!Array.isArray(requests)) throw invalid('an array of requests', 'requests', requests);
    const out: Prediction[] = [];
    for (let s = 0; s < requests.length; s += this.maxBatch) {
      for (const p of this.forwardChunk(requests.slice(s, s + this.maxBatch))) out.push(p);
    }
    return out;
  }

  /** Scores one request in a micro-batch with the others waiting at the time: what an HTTP handler awaits. */
  score(request: Req): Promise<Prediction> {
    return this.batcher.submit(request);
  }

  /** Stops score() (later calls reject) once the waiting requests are scored; predict() keeps working. */
  close(): Promise<void> {
    return this.batcher.close();
  }

  /** Counters since the predictor was made (requests, batches, forward passes, rows). */
  get stats(): PredictorStats {
    return { ...this.batcher.stats, forwards: this.forwards, rows: this.rows };
  }

  /** One forward pass in eval mode without a graph; every tensor made is freed and every module's mode restored. */
  private forwardChunk(requests: Req[]): Prediction[] {
    const n = requests.length;
    const T = this.tasks.length;
    const values = inEvalMode([this.o.model, ...(this.o.alsoEval ?? [])], () =>
      noGrad(() =>
        tidy(() => {
          const batch = this.o.collate(requests);
          try {
            const out = this.o.forward(batch);
            if (!(out instanceof Tensor)) throw invalid(`a Tensor of shape [${n}, ${T}] (requests, tasks)`, 'the result of options.forward', out);
            if (out.ndim !== 2 || out.shape[0] !== n || out.shape[1] !== T) {
              throw new ShapeError(`Expected outputs of shape [${n}, ${T}] (requests, tasks) from options.forward but received [${out.shape}]`);
            }
            if (out.dtype !== 'float32') throw new DTypeError(`Expected float32 outputs from options.forward but received ${out.dtype}`);
            return out.toArraySync() as Float32Array;
          } finally {
            this.o.release?.(batch);
          }
        }),
      ),
    );
    this.forwards += 1;
    this.rows += n;
    const binary = this.kinds.map((k) => k === 'binary');
    const out: Prediction[] = new Array(n);
    for (let b = 0; b < n; ++b) {
      const p: Prediction = {};
      for (let t = 0; t < T; ++t) {
        const x = values[b * T + t];
        p[this.tasks[t]] = binary[t] ? 1 / (1 + Math.exp(-x)) : x;
      }
      out[b] = p;
    }
    return out;
  }
}

/** Options of {@link objectCollate}. */
export interface ObjectCollateOptions {
  /** Device of the batch's tensors (default: `defaultDevice()`). */
  device?: Device;
  /** A sparse field whose ids come in `raw.group` (default: none). */
  groupField?: string;
}

/**
 * A Predictor's `collate` for plain objects (JSON request bodies) read with a schema: each
 * object becomes a Row as `readJsonl` reads a line (labels may be absent), then the rows one
 * {@link Batch}. A bad value throws a FormatError naming the request's position in the batch
 * and the field: "request 0, field 'age': expected a number but found 'abc'".
 */
export function objectCollate(schema: Schema | DataSchema, options: ObjectCollateOptions = {}): (requests: Record<string, unknown>[]) => Batch {
  const s = defineSchema(schema);
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['device', 'groupField']);
  if (o.device !== undefined) checkOneOf(o.device, 'options.device', ['cpu', 'cuda'] as const);
  const batchOptions = { ...o };
  return (requests) => {
    if (!Array.isArray(requests) || requests.length === 0) throw invalid('a non-empty array of request objects', 'requests', requests);
    const rows = requests.map((obj, i) => rowFromObject(s, obj, `request ${i}`));
    return collate(rows, s, batchOptions);
  };
}
