/**
 * A config-described training job end to end: stream the rows (split into train / valid /
 * test by a hash of the line when no separate files are given), shuffle, batch, train the
 * TabularModel with the Trainer (sparse optimizer on the table, a dense one on the rest),
 * evaluate every epoch with early stopping, score the test rows, then write the checkpoint
 * (schema, config and domain vocabulary inside), the metrics as JSON, the training-curve
 * report and optionally safetensors. `gatewise train --config` and `trainInWorker` run this.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Batch, batches, batchesSync } from '../data/batches';
import { readCsv, readJsonl, ReaderStats, Row, RowReader } from '../data/readers';
import { CacheBudget, RowCache } from '../data/row-cache';
import { NumericState, NumericStatsBuilder } from '../data/numeric-stats';
import { checkNumericState } from '../data/numeric-transform';
import { shuffle, shuffleSync } from '../data/shuffle';
import { SparseOptimizer } from '../embedding/sparse-optimizer';
import { TaskMetric } from '../metrics/task-metrics';
import { Adagrad } from '../optim/adagrad';
import { Adam, AdamW } from '../optim/adam';
import { Steppable } from '../optim/optimizer';
import { SGD } from '../optim/sgd';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint';
import { exportSafetensors } from '../checkpoint/safetensors';
import { saveUpdate } from '../serve/update';
import { manualSeed } from '../random';
import { ResolvedConfig } from './config';
import { EpochRecord, FitResult, Trainer, TrainerOptions } from './trainer';
import { ProgressOptions } from './progress';
import { writeTrainingReport } from './report';
import { TabularModel, TabularModelOptions } from './tabular-model';

/**
 * A part of a job's data: the training rows, the validation rows (after every epoch) or the test
 * rows (scored once at the end).
 */
export type Part = 'train' | 'valid' | 'test';

/** What a job built: the model, its trainer and its data. */
export interface JobParts {
  /** The config the job was built from. */
  config: ResolvedConfig;
  /** The model the config describes. */
  model: TabularModel;
  /** The trainer over the model and its optimizers. */
  trainer: Trainer<Batch>;
  /** The rows of a part in file order (a file's rows instead, when given). */
  rows(part: Part, file?: string): AsyncIterable<Row>;
  /** Batches of a part, a fresh pass per call (train: shuffled, each pass anew). */
  data(part: Part, file?: string): () => AsyncIterable<Batch>;
  /** The readers' counts of the last pass over each part. */
  stats: Partial<Record<Part, ReaderStats>>;
  /** The epoch caches (config.data.cache), by part and file. */
  caches: Map<string, RowCache>;
  /**
   * Fits the schema's numeric treatment on the training rows in one pass (which records the
   * training part's epoch cache, so the first epoch reads the cache) and puts it in use; null
   * (nothing fitted, the fields used as declared) when no dense field needs statistics.
   */
  fitNumeric(): Promise<NumericState | null>;
  /** Frees the epoch caches and their spill files. */
  dispose(): void;
}

/**
 * Options of {@link runTrainJob}: where progress and log lines go, per-epoch and per-step hooks,
 * and a stop signal.
 */
export interface JobOptions {
  /** Progress output (default: a bar on a terminal, lines otherwise, on stderr). */
  progress?: ProgressOptions;
  /** Where the job's own lines go (default: stderr). */
  log?: (line: string) => void;
  /** After each epoch. */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /** After each step, with the mean loss since the previous read on the steps that read it back (config.train.lossEvery), else undefined. */
  onStep?: (step: number, loss: number | undefined) => void | Promise<void>;
  /** Stops training after the current step; the job still scores the test rows and writes its checkpoint. */
  signal?: AbortSignal;
}

/** What {@link runTrainJob} returns: the training history, the test metrics and the files written. */
export interface JobResult {
  /** The job's name. */
  name: string;
  /**
   * The training history: each epoch's loss and validation metrics, the best epoch, whether it
   * stopped early.
   */
  fit: FitResult;
  /** Metrics of the test rows, per task and per domain. */
  test: TaskMetric[];
  /** The training loss as it was read back: [step, mean loss of the steps since the previous read], every config.train.lossEvery steps and at each epoch's end. */
  losses: [number, number][];
  /** The checkpoint file written at the end. */
  checkpoint: string;
  /** The serving updates written (train.updateEvery), oldest first: apply them in order. */
  updates: string[];
  /** metrics.json: history and test metrics. */
  metrics: string;
  /** The HTML training report (when output.report is on). */
  report?: string;
  /** The dense weights as safetensors (when output.safetensors is on). */
  safetensors?: string;
  /** The readers' counts of the last pass over each part (rows read, skipped). */
  stats: Partial<Record<Part, ReaderStats>>;
  /** The numeric treatment fitted on the training rows (null: none needed); its `notes` were logged. */
  numeric: NumericState | null;
  /** Wall-clock seconds the job took. */
  seconds: number;
}

/** Which part a row of the single train file belongs to: a hash of (seed, line) against the split shares. */
function partOf(line: number, split: ResolvedConfig['data']['split']): Part {
  // murmur3's finalizer over (line, seed): uniform in [0, 1) even for consecutive lines.
  let h = (line ^ Math.imul(split.seed + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  const u = ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
  return u < split.valid ? 'valid' : u < split.valid + split.test ? 'test' : 'train';
}

function reader(config: ResolvedConfig, file: string): RowReader {
  const d = config.data;
  if (d.format === 'jsonl') return readJsonl(file, config.schema, { onError: d.onError });
  return readCsv(file, config.schema, { columns: d.columns, header: d.header, delimiter: d.delimiter ?? (d.format === 'tsv' ? '\t' : ','), onError: d.onError });
}

async function* only(rows: AsyncIterable<Row>, part: Part, split: ResolvedConfig['data']['split']): AsyncGenerator<Row> {
  for await (const r of rows) if (partOf(r.line, split) === part) yield r;
}

/** Yields each batch and frees its tensors once the consumer asks for the next. */
async function* owned(source: AsyncIterable<Batch> | Iterable<Batch>): AsyncGenerator<Batch> {
  for await (const b of source) {
    try {
      yield b;
    } finally {
      b.dispose();
    }
  }
}

function denseOptimizer(config: ResolvedConfig, model: TabularModel): Steppable {
  const { kind, lr, weightDecay } = config.optimizer.dense;
  const params = model.parameters();
  switch (kind) {
    case 'adam':
      return new Adam(params, { lr, weightDecay });
    case 'adamw':
      return new AdamW(params, { lr, weightDecay });
    case 'adagrad':
      return new Adagrad(params, { lr, weightDecay });
    case 'sgd':
      return new SGD(params, { lr, weightDecay });
  }
}

/** Options of {@link buildJob}. */
export interface BuildJobOptions extends Pick<JobOptions, 'progress'> {
  /** false: every pass reads the files (one-pass uses). */
  cache?: boolean;
  /** Makes the model's table (distributed jobs: a sharded one). */
  makeTable?: TabularModelOptions['makeTable'];
  /** Trainer hooks (distributed jobs: gradient averaging, gathered evaluation). */
  trainerHooks?: Pick<TrainerOptions<Batch>, 'afterBackward' | 'gatherEval'>;
}

/** Builds the model, trainer and data of a job (seeded: the same config builds the same model). `cache: false` reads every pass from the files (one-pass uses). */
export function buildJob(config: ResolvedConfig, options: BuildJobOptions = {}): JobParts {
  manualSeed(config.seed);
  const model = new TabularModel({ schema: config.schema, model: config.model, sparseOptimizer: config.optimizer.sparse, seed: config.seed, makeTable: options.makeTable });
  const schema = config.schema;
  const trainer = new Trainer<Batch>({
    model,
    forward: (b) => ({ outputs: model.forward(b), labels: b.labels, mask: b.labelMask, weight: b.weight }),
    tasks: [...schema.tasks],
    kinds: [...schema.objectives],
    optimizers: [new SparseOptimizer(model.table), denseOptimizer(config, model)],
    clipNorm: config.train.clipNorm,
    batchInfo: (b) => ({ domains: b.raw.domain, users: b.raw.group }),
    // A live view: the vocabulary may be learned while reading.
    get domainNames() {
      return schema.domain ? [...schema.domainNames] : undefined;
    },
    progress: options.progress,
    ...options.trainerHooks,
  });
  const stats: JobParts['stats'] = {};
  let pass = 0;
  const caching = options.cache !== false && config.data.cache !== null;
  const budget: CacheBudget = { bytes: (config.data.cache?.memoryMB ?? 0) * 2 ** 20 };
  const caches = new Map<string, RowCache>();
  const rowsOf = (part: Part, file?: string): AsyncIterable<Row> => {
    const key = `${part}\0${file ?? ''}`;
    const cached = caches.get(key);
    if (cached?.complete) {
      stats[part] = cached.stats;
      return cached;
    }
    const d = config.data;
    const own = file ?? (part === 'train' ? d.train : d[part]);
    const r = reader(config, own ?? d.train);
    stats[part] = r.stats;
    const rows = own !== undefined && (part !== 'train' || (d.split.valid === 0 && d.split.test === 0)) ? r : only(r, part, d.split);
    if (!caching) return rows;
    const cache = cached ?? new RowCache(schema, { budget, spillFile: path.join(config.output.dir, 'cache', `${part}-${caches.size}.rows`) });
    caches.set(key, cache);
    return cache.record(rows, () => r.stats);
  };
  const data = (part: Part, file?: string) => () => {
    const d = config.data;
    const rows = rowsOf(part, file);
    const shuffled = part === 'train' && config.train.shuffleBuffer > 0 ? { bufferSize: config.train.shuffleBuffer, seed: config.seed * 7919 + pass++ } : null;
    const options = { batchSize: part === 'train' ? config.train.batchSize : config.train.evalBatchSize, groupField: d.userField };
    if (rows instanceof RowCache) {
      // From the epoch cache: the same batches, built from its columns while they are all in
      // memory, else from its rows without an await per row.
      if (rows.inMemory) return owned(rows.batches(options, shuffled));
      const cached = rows.rowsSync();
      return owned(batchesSync(shuffled ? shuffleSync(cached, shuffled) : cached, schema, options));
    }
    return owned(batches(shuffled ? shuffle(rows, shuffled) : rows, schema, options));
  };
  const dispose = () => {
    for (const c of caches.values()) c.dispose();
    caches.clear();
  };
  const fitNumeric = async (): Promise<NumericState | null> => {
    if (!schema.needsNumericFit) {
      schema.setNumericState(null);
      return null;
    }
    const builder = new NumericStatsBuilder(schema);
    for await (const row of rowsOf('train')) builder.add(row);
    const state = builder.finish();
    schema.setNumericState(state);
    return state;
  };
  return { config, model, trainer, rows: rowsOf, data, stats, caches, dispose, fitNumeric };
}

/** What a job learned from its data besides the weights: the domain vocabulary and the fitted numeric treatment (checkpoints and serving updates carry it). */
export interface JobDataState {
  domainNames: string[];
  numeric: NumericState | null;
}

/** The job's data state now. */
export function jobDataState(config: ResolvedConfig): JobDataState {
  return { domainNames: [...config.schema.domainNames], numeric: config.schema.numericState };
}

/**
 * Puts a saved data state in use: the domain vocabulary (learned in its order, so ids line up)
 * and the numeric state (none saved, as in checkpoints from before numeric fitting: the fields
 * as declared). `where` names its source in errors; `check` only checks.
 *
 * @throws FormatError when the numeric state does not fit the schema.
 */
export function restoreJobDataState(config: ResolvedConfig, saved: Partial<JobDataState> | null | undefined, where: string, check = false): void {
  const numeric = saved?.numeric ?? null;
  const schema = config.schema;
  if (check) {
    if (numeric !== null) checkNumericState(numeric, schema.ofKind('dense'), where);
    return;
  }
  if (Array.isArray(saved?.domainNames)) for (const name of saved.domainNames) schema.domainId(String(name));
  schema.setNumericState(numeric, where);
}

/** The checkpoint's record of a job: what rebuilds its model. */
export function checkpointConfig(config: ResolvedConfig): unknown {
  return { gatewise: 'train-config', config: config.source, ...jobDataState(config) };
}

/** Restores a job's checkpoint into freshly built parts (the domain vocabulary first, so ids line up; then the numeric treatment it trained with). */
export function loadJobCheckpoint(
  parts: JobParts,
  file: string,
): {
  /** The training step the checkpoint was written at (now the trainer's step). */
  step: number;
} {
  const info = loadCheckpoint(file, { model: parts.model, tables: { table: parts.model.table } });
  restoreJobDataState(parts.config, info.config as Partial<JobDataState> | null, `checkpoint ${file}`);
  parts.trainer.step = info.step;
  return { step: info.step };
}

/** Runs a job (see the file comment) and writes its outputs under config.output.dir. */
export async function runTrainJob(config: ResolvedConfig, options: JobOptions = {}): Promise<JobResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const t0 = Date.now();
  const parts = buildJob(config, { progress: options.progress });
  const { model, trainer } = parts;
  const out = config.output.dir;
  fs.mkdirSync(out, { recursive: true });
  const numeric = await parts.fitNumeric();
  for (const note of numeric?.notes ?? []) log(`note: ${note}`);
  const checkpointFile = path.join(out, 'checkpoint.gwck');
  const save = () =>
    saveCheckpoint(checkpointFile, { model, tables: { table: model.table }, optimizers: { all: trainer.optimizer }, step: trainer.step, config: checkpointConfig(config), keepPrevious: true });
  // Serving updates: the first carries every row, each later one the rows changed since the one before.
  const updates: string[] = [];
  let lastSync: number | undefined;
  const pushUpdate = () => {
    const file = path.join(out, 'updates', `update-${String(trainer.step).padStart(9, '0')}.gwup`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const since = lastSync;
    lastSync = model.table.step;
    updates.push(saveUpdate(file, { model, tables: { table: model.table }, step: trainer.step, sinceStep: since, metadata: { ...jobDataState(config) } }));
  };
  const losses: [number, number][] = [];
  const fit = await trainer.fit(parts.data('train'), {
    epochs: config.train.epochs,
    eval: parts.data('valid'),
    earlyStopping: config.train.earlyStopping,
    seed: config.seed,
    onEpoch: options.onEpoch,
    signal: options.signal,
    lossEvery: config.train.lossEvery,
    onStep: async (step, loss) => {
      if (loss !== undefined) losses.push([step, loss]);
      if (config.train.checkpointEvery > 0 && step % config.train.checkpointEvery === 0) save();
      if (config.train.updateEvery > 0 && step % config.train.updateEvery === 0) pushUpdate();
      await options.onStep?.(step, loss);
    },
  });
  if (config.train.updateEvery > 0 && trainer.step % config.train.updateEvery !== 0) pushUpdate();
  const hasTest = config.data.test !== undefined || config.data.split.test > 0;
  const test = hasTest ? await trainer.evaluate(parts.data('test')) : [];
  const checkpoint = save();
  const result: JobResult = { name: config.name, fit, test, losses, checkpoint, updates, metrics: path.join(out, 'metrics.json'), stats: parts.stats, numeric, seconds: (Date.now() - t0) / 1000 };
  fs.writeFileSync(result.metrics, JSON.stringify({ name: config.name, steps: fit.steps, bestEpoch: fit.bestEpoch, stoppedEarly: fit.stoppedEarly, history: fit.history, test, stats: parts.stats, numeric }, null, 2));
  if (config.output.report) {
    result.report = writeTrainingReport(path.join(out, 'report.html'), { title: `gatewise — ${config.name}`, subtitle: `${config.model.kind}, ${fit.steps} steps`, losses, history: fit.history, notes: test.length ? [`test rows: ${test.filter((m) => m.domain === 'all').map((m) => `${m.task} auc ${m.auc?.toFixed(4)}`).join(', ')}`] : [] });
  }
  if (config.output.safetensors) {
    result.safetensors = path.join(out, 'model.safetensors');
    exportSafetensors(model, result.safetensors);
  }
  for (const [part, s] of Object.entries(parts.stats)) if (s && s.skipped > 0) log(`${part}: skipped ${s.skipped} malformed rows, e.g. ${s.errors[0]}`);
  parts.dispose();
  model.table.dispose();
  return result;
}

/** Evaluates a job's checkpoint on a part (or a file read with the job's schema). */
export async function evaluateJobCheckpoint(config: ResolvedConfig, checkpoint: string, options: { part?: Part; file?: string } = {}): Promise<TaskMetric[]> {
  const parts = buildJob(config, { progress: { mode: 'none' }, cache: false });
  try {
    loadJobCheckpoint(parts, checkpoint);
    return await parts.trainer.evaluate(parts.data(options.part ?? 'test', options.file));
  } finally {
    parts.model.table.dispose();
  }
}
