import { noGrad } from '../autograd';
import { multiTaskLoss, TaskLossKind } from '../models/multi-task-loss';
import { GroupArray } from '../metrics/inputs';
import { TaskKind, TaskMetric, taskMetrics, TASK_KINDS } from '../metrics/task-metrics';
import { inEvalMode, Module } from '../nn/module';
import { Adam } from '../optim/adam';
import { clipGradNorm } from '../optim/clip';
import { OptimizerSet, Steppable } from '../optim/optimizer';
import { manualSeed } from '../random';
import { keep, tidy } from '../scope';
import { ShapeError } from '../errors';
import { addInPlace, mul } from '../ops/elementwise';
import { checkTensor, ones, Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkPositive, invalid } from '../validate';
import { Progress, ProgressOptions } from './progress';

/** What the model makes of one batch. */
export interface StepOutput {
  /** (B, T): logits for binary tasks, predictions for regression tasks. */
  outputs: Tensor;
  /** (B, T) labels. */
  labels: Tensor;
  /** (B, T) 0/1, 0 where a label is missing (default: all present). */
  mask?: Tensor | null;
  /** (B) sample weights: each task's loss is Σ w·m·ℓ / Σ w·m, as if a row of weight 2 came twice (default: all 1); evaluate() weights AUC, log loss and MSE the same way. */
  weight?: Tensor | null;
}

/** Host-side facts about a batch's rows for the metrics. */
export interface BatchInfo {
  /** Each row's domain id (indexes TrainerOptions.domainNames). */
  domains?: ArrayLike<number>;
  /** Each row's user, for GAUC. */
  users?: GroupArray;
}

/** Batches: an iterable, an async iterable, or a function returning a fresh one per pass. */
export type DataSource<B> = Iterable<B> | AsyncIterable<B> | (() => Iterable<B> | AsyncIterable<B>);

/**
 * Options of {@link Trainer}: the model and how to run it, the tasks and their losses, the
 * optimizers, and hooks.
 */
export interface TrainerOptions<B> {
  /** The model trained (its parameters get the default optimizer; train/eval mode is switched on it). */
  model: Module;
  /** Runs the model on a batch. */
  forward: (batch: B) => StepOutput;
  /** Task names, in the outputs' column order. */
  tasks: string[];
  /** Each task's kind (default all 'binary': BCE-with-logits; 'regression': squared error). */
  kinds?: TaskKind[];
  /** Weight of each task's loss (default 1 each). */
  taskWeights?: number[];
  /** Stepped after every batch (default: Adam, lr 1e-3, over the model's parameters). */
  optimizers?: Steppable[];
  /** Clip the global gradient norm of the model's dense parameters to this (default: no clipping). */
  clipNorm?: number;
  /** The rows' domains and users, for per-domain metrics and GAUC. */
  batchInfo?: (batch: B) => BatchInfo;
  /** Names of the domain ids batchInfo returns. */
  domainNames?: string[];
  /** Progress output while training (default: a bar on a terminal, lines otherwise, on stderr). */
  progress?: ProgressOptions;
  /** Other modules put in eval mode with the model while evaluating and predicting (e.g. an EmbeddingTable held outside it, so eval lookups insert no rows). */
  alsoEval?: Module[];
  /** Runs after each backward, before clipping and the optimizer steps (distributed data parallel averages the gradients over the ranks here). */
  afterBackward?: () => void;
  /** Turns the rows this process evaluated into the rows the metrics are computed over (distributed evaluation gathers every rank's). */
  gatherEval?: (rows: EvalRows) => EvalRows | Promise<EvalRows>;
}

/** The evaluated rows, flat: outputs, labels and mask (B·T each, row-major), and per row its weight, domain and user (null when absent). */
export interface EvalRows {
  /** The model's outputs (B·T, row-major). */
  outputs: number[];
  /** The labels (B·T, row-major). */
  labels: number[];
  /** 1 where a label is present, 0 where missing (B·T). */
  mask: number[];
  /** Each row's sample weight, or null. */
  weights: number[] | null;
  /** Each row's domain id, or null. */
  domains: number[] | null;
  /** Each row's user, or null. */
  users: (number | string | bigint)[] | null;
}

/** When to stop training early: a validation metric that stopped improving. */
export interface EarlyStopping {
  /** Metric to watch on the eval data's 'all' rows (default 'auc'). */
  metric?: 'auc' | 'gauc' | 'logloss' | 'mse';
  /** Task whose metric is watched (default: the mean over the tasks that have it). */
  task?: string;
  /** Evaluations without improvement before stopping (default 2). */
  patience?: number;
  /** Smallest change that counts as improvement (default 0). */
  minDelta?: number;
}

/** Options of `Trainer.fit()`. */
export interface FitOptions<B> {
  /** Passes over the training data (default 1). */
  epochs?: number;
  /** Evaluated after every epoch. */
  eval?: DataSource<B>;
  /** Stop when the eval metric stops improving (needs eval). */
  earlyStopping?: EarlyStopping;
  /** Seeds the global generator (dropout masks, shuffles that use it) before training. */
  seed?: number;
  /** Called after each epoch (and its evaluation). */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /**
   * Steps whose losses are summed on the device before one read brings their mean back to the
   * host (default 16; also at the end of each epoch). A read waits for the device, so 1 (every
   * step) stalls a GPU's queue each step; progress still counts samples every step.
   */
  lossEvery?: number;
  /**
   * Called after every optimizer step (awaited: periodic checkpoints and serving updates go
   * here) with the step count and, on the steps that read the loss back (see lossEvery), the
   * mean loss of the steps since the previous read; undefined on the others.
   */
  onStep?: (step: number, loss: number | undefined) => void | Promise<void>;
  /** Stops training after the current step when aborted; fit then returns with `interrupted` (no evaluation of the partial epoch). */
  signal?: AbortSignal;
}

/** One epoch of `Trainer.fit()`: its loss, throughput and validation metrics. */
export interface EpochRecord {
  /** The epoch's number, from 1. */
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Training rows seen in the epoch. */
  samples: number;
  /** Training throughput over the epoch, in rows per second. */
  samplesPerSecond: number;
  /** Eval metrics, when eval data was given. */
  metrics?: TaskMetric[];
}

/** What `Trainer.fit()` returns. */
export interface FitResult {
  /** One record per epoch trained. */
  history: EpochRecord[];
  /** The epoch with the best watched metric (with early stopping), else the last. */
  bestEpoch: number;
  /** Whether early stopping ended training. */
  stoppedEarly: boolean;
  /** Whether options.signal stopped training. */
  interrupted: boolean;
  /** Optimizer steps taken. */
  steps: number;
}

const LOSS_OF: Record<TaskKind, TaskLossKind> = { binary: 'bce', regression: 'mse' };

async function* batchesOf<B>(source: DataSource<B>): AsyncGenerator<B> {
  const it = typeof source === 'function' ? source() : source;
  for await (const b of it as AsyncIterable<B>) yield b;
}

/**
 * Trainer: the loop a Node training service runs — epochs (or online passes over a stream),
 * every optimizer stepped after each batch (sparse AdaGrad for the tables and Adam for the
 * dense weights, as PEPNet trains), global-norm gradient clipping, evaluation on a held-out
 * stream with exact metrics per task and per domain, early stopping, and progress with
 * throughput. Data sources are iterables or async iterables of batches (or functions that
 * return a fresh one per epoch); awaiting between batches keeps the event loop turning.
 */
export class Trainer<B> {
  /** The model trained. */
  readonly model: Module;
  /** Task names, in the outputs' column order. */
  readonly tasks: string[];
  /** Each task's kind (its loss and metrics). */
  readonly kinds: TaskKind[];
  /** Every optimizer, stepped together after each batch. */
  readonly optimizer: OptimizerSet;
  /** Optimizer steps taken (also restored from checkpoints). */
  step = 0;
  private readonly o: TrainerOptions<B>;
  private readonly clipNorm: number | null;

  constructor(options: TrainerOptions<B>) {
    const o = checkOptions(options, 'options');
    if (!(o.model instanceof Module)) throw invalid('a Module', 'options.model', o.model);
    if (typeof o.forward !== 'function') throw invalid('a function (batch) => { outputs, labels }', 'options.forward', o.forward);
    if (!Array.isArray(o.tasks) || o.tasks.length === 0) throw invalid('a non-empty array of task names', 'options.tasks', o.tasks);
    this.model = o.model;
    this.tasks = o.tasks.slice();
    this.kinds = (o.kinds ?? this.tasks.map(() => 'binary' as TaskKind)).map((k, t) => checkOneOf(k, `options.kinds[${t}]`, TASK_KINDS));
    if (this.kinds.length !== this.tasks.length) throw invalid(`${this.tasks.length} kinds (one per task)`, 'options.kinds', o.kinds);
    this.optimizer = new OptimizerSet(o.optimizers ?? [new Adam(this.model.parameters(), { lr: 1e-3 })]);
    this.clipNorm = o.clipNorm === undefined ? null : checkPositive(o.clipNorm, 'options.clipNorm');
    this.o = o as TrainerOptions<B>;
  }

  /** One optimizer step on a batch; returns its loss (read back from the device). */
  trainStep(batch: B): number {
    return readLoss(this.run(batch).loss);
  }

  /**
   * trainStep, timing its phases: `mark(phase)` is called as each one ends — 'forward',
   * 'loss', 'backward' (clipping included), 'optimizer <Name>' per optimizer, 'sync' (the loss
   * read back) — so the caller can take the time between calls.
   */
  trainStepProfiled(batch: B, mark: (phase: string) => void): number {
    const value = readLoss(this.run(batch, mark).loss);
    mark('sync');
    return value;
  }

  /** One step: its loss, still on the device (detached; the caller disposes it), and the batch's rows. */
  private run(batch: B, mark?: (phase: string) => void): { loss: Tensor; rows: number } {
    this.model.train();
    for (const m of this.o.alsoEval ?? []) m.train();
    return tidy(() => {
      const { outputs, labels, mask, weight } = this.o.forward(batch);
      mark?.('forward');
      const loss = multiTaskLoss(outputs, labels, { kinds: this.kinds.map((k) => LOSS_OF[k]), weights: this.o.taskWeights, mask: lossMask(outputs, mask ?? null, weight ?? null) });
      mark?.('loss');
      this.optimizer.zeroGrad();
      loss.backward();
      this.o.afterBackward?.();
      if (this.clipNorm !== null) clipGradNorm(this.model.parameters().filter((p) => p.grad), this.clipNorm);
      mark?.('backward');
      if (mark) {
        for (const o of this.optimizer.optimizers) {
          o.step();
          mark(`optimizer ${o.constructor.name}`);
        }
      } else {
        this.optimizer.step();
      }
      this.step += 1;
      return { loss: keep(loss.detach()), rows: outputs.shape[0] };
    });
  }

  /** Trains for some epochs; evaluates after each when eval data is given. */
  async fit(train: DataSource<B>, options: FitOptions<B> = {}): Promise<FitResult> {
    const o = checkOptions(options, 'options');
    const epochs = checkInt(o.epochs ?? 1, 'options.epochs', 1);
    const lossEvery = checkInt(o.lossEvery ?? 16, 'options.lossEvery', 1);
    if (o.earlyStopping && !o.eval) throw invalid('eval data (early stopping watches it)', 'options.eval', o.eval);
    const stop = o.earlyStopping ? checkOptions(o.earlyStopping, 'options.earlyStopping') : null;
    const patience = stop ? checkInt(stop.patience ?? 2, 'options.earlyStopping.patience', 1) : 0;
    const metric = stop ? checkOneOf(stop.metric ?? 'auc', 'options.earlyStopping.metric', ['auc', 'gauc', 'logloss', 'mse'] as const) : 'auc';
    if (o.seed !== undefined) manualSeed(checkInt(o.seed, 'options.seed', 0));
    const progress = new Progress(this.o.progress);
    const history: EpochRecord[] = [];
    let best = NaN;
    let bestEpoch = 0;
    let since = 0;
    for (let epoch = 1; epoch <= epochs; ++epoch) {
      progress.begin(`epoch ${epoch}/${epochs}`);
      let samples = 0;
      const window = new LossWindow();
      try {
        const it = batchesOf(train)[Symbol.asyncIterator]();
        let next = await it.next();
        while (!next.done) {
          const { loss: stepLoss, rows } = this.run(next.value);
          window.add(stepLoss);
          samples += rows;
          next = await it.next();
          // The loss comes back every lossEvery steps and on the epoch's last step.
          const steps = window.steps;
          const loss = steps === lossEvery || next.done || o.signal?.aborted ? window.read() : undefined;
          progress.update(rows, loss, steps);
          await o.onStep?.(this.step, loss);
          // An abort comes from a macrotask (a worker's stop message, Ctrl-C), and batches from
          // memory (an epoch cache, an array) never wait on I/O: give the event loop a turn.
          if (o.signal) await new Promise<void>((resolve) => setImmediate(resolve));
          if (o.signal?.aborted) {
            await it.return?.(undefined);
            progress.end();
            return { history, bestEpoch, stoppedEarly: false, interrupted: true, steps: this.step };
          }
        }
      } finally {
        window.dispose();
      }
      const loss = progress.meanLoss();
      const samplesPerSecond = progress.end();
      const record: EpochRecord = { epoch, loss, samples, samplesPerSecond };
      if (o.eval) {
        record.metrics = await this.evaluate(o.eval);
        progress.line(`  eval ${summary(record.metrics)}`);
      }
      history.push(record);
      await o.onEpoch?.(record);
      if (stop && record.metrics) {
        const value = watched(record.metrics, metric, stop.task);
        const lowerIsBetter = metric === 'logloss' || metric === 'mse';
        const delta = stop.minDelta ?? 0;
        if (Number.isNaN(best) || (lowerIsBetter ? value < best - delta : value > best + delta)) {
          best = value;
          bestEpoch = epoch;
          since = 0;
        } else if (++since >= patience) {
          return { history, bestEpoch, stoppedEarly: true, interrupted: false, steps: this.step };
        }
      } else bestEpoch = epoch;
    }
    return { history, bestEpoch, stoppedEarly: false, interrupted: false, steps: this.step };
  }

  /** Scores the data in eval mode (no graph, no table inserts) and computes exact metrics. */
  async evaluate(data: DataSource<B>): Promise<TaskMetric[]> {
    const outputs: number[] = [];
    const labels: number[] = [];
    const mask: number[] = [];
    const domains: number[] = [];
    const users: (number | string | bigint)[] = [];
    const weights: number[] = [];
    let hasDomains = false;
    let hasUsers = false;
    let hasWeights = false;
    for await (const batch of batchesOf(data)) {
      const info = this.o.batchInfo?.(batch) ?? {};
      noGrad(() =>
        tidy(() => {
          const r = this.forwardEval(batch);
          pushAll(outputs, r.outputs.toArraySync() as Float32Array);
          pushAll(labels, r.labels.toArraySync() as Float32Array);
          if (r.mask) pushAll(mask, r.mask.toArraySync() as Float32Array);
          else for (let i = 0; i < r.outputs.size; ++i) mask.push(1);
          const rows = r.outputs.shape[0];
          if (r.weight) (hasWeights = true), pushAll(weights, r.weight.toArraySync() as Float32Array);
          else for (let i = 0; i < rows; ++i) weights.push(1);
        }),
      );
      if (info.domains) (hasDomains = true), pushAll(domains, info.domains);
      if (info.users) (hasUsers = true), pushAll(users, info.users);
    }
    let rows: EvalRows = { outputs, labels, mask, weights: hasWeights ? weights : null, domains: hasDomains ? domains : null, users: hasUsers ? users : null };
    if (this.o.gatherEval) rows = await this.o.gatherEval(rows);
    return taskMetrics({
      outputs: rows.outputs,
      labels: rows.labels,
      mask: rows.mask,
      tasks: this.tasks,
      kinds: this.kinds,
      domains: rows.domains && this.o.domainNames ? { ids: rows.domains, names: this.o.domainNames } : null,
      users: rows.users,
      weights: rows.weights,
    });
  }

  /** The model's outputs for a batch in eval mode, (B, T) on the host, row-major. */
  predict(batch: B): Float32Array {
    return noGrad(() => tidy(() => this.forwardEval(batch).outputs.toArraySync() as Float32Array));
  }

  private forwardEval(batch: B): StepOutput {
    return inEvalMode([this.model, ...(this.o.alsoEval ?? [])], () => this.o.forward(batch));
  }
}

/** A step's loss read back from the device (one sync), then freed. */
function readLoss(loss: Tensor): number {
  try {
    return loss.item();
  } finally {
    loss.dispose();
  }
}

/** Step losses summed on the device until one read brings their mean to the host. */
class LossWindow {
  private sum: Tensor | null = null;
  /** Steps added since the last read. */
  steps = 0;

  add(loss: Tensor): void {
    if (this.sum === null) this.sum = loss;
    else {
      addInPlace(this.sum, loss);
      loss.dispose();
    }
    this.steps += 1;
  }

  /** The mean of the losses added since the last read (one device sync). */
  read(): number {
    const value = this.sum === null ? NaN : this.sum.item() / this.steps;
    this.dispose();
    return value;
  }

  dispose(): void {
    this.sum?.dispose();
    this.sum = null;
    this.steps = 0;
  }
}

/** The loss's mask: the label mask times the sample weights (B, 1), or either alone. */
function lossMask(outputs: Tensor, mask: Tensor | null, weight: Tensor | null): Tensor | null {
  if (weight === null) return mask;
  checkTensor(weight, 'forward(batch).weight', 'float32');
  const B = outputs.shape[0];
  if (weight.ndim !== 1 || weight.shape[0] !== B) throw new ShapeError(`Expected shape [${B}] for forward(batch).weight but received [${weight.shape}]`);
  const w = weight.reshape(B, 1);
  return noGrad(() => (mask ? mul(mask, w) : mul(ones(outputs.shape, { device: outputs.device }), w)));
}

/** "income auc 0.9401 logloss 0.1520 · …" over the 'all' rows. */
function summary(metrics: TaskMetric[]): string {
  return metrics
    .filter((m) => m.domain === 'all')
    .map((m) => [m.task, ...(['auc', 'gauc', 'logloss', 'mse'] as const).filter((k) => m[k] !== undefined).map((k) => `${k} ${(m[k] as number).toFixed(4)}`)].join(' '))
    .join(' · ');
}

function pushAll<T>(target: T[], values: ArrayLike<T>): void {
  for (let i = 0; i < values.length; ++i) target.push(values[i]);
}

/** The watched value: a task's metric on all rows, or the mean over the tasks that have it. */
function watched(metrics: TaskMetric[], metric: 'auc' | 'gauc' | 'logloss' | 'mse', task?: string): number {
  const rows = metrics.filter((m) => m.domain === 'all' && (task === undefined || m.task === task) && m[metric] !== undefined);
  if (rows.length === 0) throw invalid(`a task with the metric '${metric}'`, 'options.earlyStopping', task ?? metric);
  return rows.reduce((s, m) => s + (m[metric] as number), 0) / rows.length;
}
