/**
 * A config's training job on one rank of a process group: the job of lib/train/job.ts with
 * the table sharded across the ranks (ShardedEmbeddingTable), the dense weights data-parallel
 * (DistributedDataParallel), each rank training on its share of the rows (data.ts) in
 * lockstep, metrics over every rank's predictions (gather.ts), and the loss read back as the
 * mean over the ranks.
 *
 * Checkpoints hold every shard (the table's export joins them) and are written by rank 0;
 * their metadata records the epochs done and the world size. `resume` loads one — written by
 * any world size, one process included — and trains the epochs left (an interrupted epoch
 * starts over, from the checkpoint's weights). A rank that fails names the rank at fault
 * (ProcessGroup.explain) in its error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Batch, batches, collate } from '../data/batches';
import { Row } from '../data/readers';
import { shuffle } from '../data/shuffle';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint';
import { exportSafetensors } from '../checkpoint/safetensors';
import { DistributedError } from '../errors';
import { ResolvedConfig } from '../train/config';
import { buildJob, checkpointConfig, JobOptions, JobParts, JobResult, Part, restoreJobDataState } from '../train/job';
import { writeTrainingReport } from '../train/report';
import { FitResult } from '../train/trainer';
import { lockstepEval, lockstepTrain, Padding, rankRows } from './data';
import { DistributedDataParallel } from './ddp';
import { gatherEvalRows } from './gather';
import { ProcessGroup } from './process-group';
import { ShardedEmbeddingTable } from './sharded-table';

export interface DistributedJobOptions extends JobOptions {
  /** A checkpoint to continue from. */
  resume?: string;
}

export interface DistributedJobResult extends JobResult {
  /** This process's rank. */
  rank: number;
  /** Ranks in the group. */
  worldSize: number;
  /** This rank's training samples per second, and every rank's (rank order). */
  samplesPerSecond: number;
  /** Every rank's training samples per second, in rank order. */
  samplesPerSecondByRank: number[];
  /** The epochs done before this run (resume). */
  resumedEpochs: number;
}

/** What a distributed checkpoint's metadata holds. */
interface RunMetadata {
  epochsDone?: number;
  worldSize?: number;
}

/**
 * Runs a config's training job on this rank of `group` (every rank calls it with the same config):
 * the table sharded across the ranks, the dense weights data-parallel, the metrics computed over
 * every rank's rows, the checkpoint written by rank 0. A failed collective is explained: the error
 * names the rank at fault.
 */
export async function runDistributedTrainJob(config: ResolvedConfig, group: ProcessGroup, options: DistributedJobOptions = {}): Promise<DistributedJobResult> {
  try {
    return await run(config, group, options);
  } catch (e) {
    // A collective failed (or a peer did): find which rank is at fault.
    if (group.failed || e instanceof DistributedError) throw await group.explain(e);
    throw e;
  }
}

/** A job's parts on one rank: its table sharded, its dense weights data-parallel, its metrics gathered (rows less `padding`). */
export interface DistributedParts {
  /** The job's parts on this rank (its table sharded). */
  parts: JobParts;
  /** The data-parallel wrapper of the dense weights. */
  ddp: DistributedDataParallel;
  /** The padding rows this rank's lockstep evaluation added. */
  padding: Padding;
}

/** Builds a job's parts for one rank of `group` (the parameters are broadcast from rank 0: a collective). */
export function buildDistributedJob(config: ResolvedConfig, group: ProcessGroup, options: Pick<JobOptions, 'progress'> = {}): DistributedParts {
  const padding: Padding = { rows: 0 };
  const tasks = config.schema.tasks.length;
  let ddp: DistributedDataParallel | null = null;
  const parts = buildJob(config, {
    progress: group.rank === 0 ? options.progress : { mode: 'none' },
    makeTable: (o) => new ShardedEmbeddingTable(group, o),
    trainerHooks: { afterBackward: () => ddp!.synchronize(), gatherEval: (rows) => gatherEvalRows(group, rows, padding, tasks) },
  });
  ddp = new DistributedDataParallel(group, parts.model, { tables: [parts.model.table as ShardedEmbeddingTable] });
  return { parts, ddp, padding };
}

async function run(config: ResolvedConfig, group: ProcessGroup, options: DistributedJobOptions): Promise<DistributedJobResult> {
  const { rank, worldSize } = group;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const t0 = Date.now();
  const { parts, ddp, padding } = buildDistributedJob(config, group, options);
  const { model, trainer } = parts;
  const schema = config.schema;
  const out = config.output.dir;
  if (rank === 0) fs.mkdirSync(out, { recursive: true });
  const checkpointFile = path.join(out, 'checkpoint.gwck');
  let epochsDone = 0;
  let numeric = config.schema.numericState;
  if (options.resume) {
    const info = loadCheckpoint(options.resume, { model, tables: { table: model.table }, optimizers: { all: trainer.optimizer } });
    restoreJobDataState(config, info.config as Parameters<typeof restoreJobDataState>[1], `checkpoint ${options.resume}`);
    trainer.step = info.step;
    const meta = info.metadata as RunMetadata;
    epochsDone = meta.epochsDone ?? 0;
    numeric = config.schema.numericState;
    log(`rank ${rank}: resumed from ${options.resume} (step ${info.step}, ${epochsDone} epochs done, written by ${meta.worldSize ?? 1} rank(s))`);
  } else {
    // Every rank reads all training rows once, in file order: the numeric statistics and the
    // domain vocabulary come out the same everywhere (and the epoch cache is recorded).
    numeric = await parts.fitNumeric();
    if (!schema.needsNumericFit) for await (const row of parts.rows('train')) void row;
    for (const note of rank === 0 ? (numeric?.notes ?? []) : []) log(`note: ${note}`);
  }
  let pass = 0;
  const data = (part: Part) => () => {
    const train = part === 'train';
    const B = train ? config.train.batchSize : config.train.evalBatchSize;
    let first: Row | null = null;
    const mine = rankRows(parts.rows(part), group, B, (r) => (first ??= r));
    const shuffled = train && config.train.shuffleBuffer > 0 ? shuffle(mine, { bufferSize: config.train.shuffleBuffer, seed: config.seed * 7919 + pass++ + 104729 * rank }) : mine;
    const local = batches(shuffled, schema, { batchSize: B, groupField: config.data.userField });
    return train ? lockstepTrain(local, group) : lockstepEval(local, group, () => collate([first!], schema, { groupField: config.data.userField }), padding);
  };
  const save = (): string => {
    const metadata: RunMetadata = { epochsDone, worldSize };
    // Every rank takes part in the table's export; rank 0 writes.
    if (rank !== 0) {
      model.table.export();
      return checkpointFile;
    }
    return saveCheckpoint(checkpointFile, { model, tables: { table: model.table }, optimizers: { all: trainer.optimizer }, step: trainer.step, config: checkpointConfig(config), metadata: { ...metadata }, keepPrevious: true });
  };
  const meanOverRanks = (x: number) => {
    const a = new Float64Array([x]);
    group.allReduce(a).wait();
    return a[0] / worldSize;
  };
  const losses: [number, number][] = [];
  const epochs = Math.max(0, config.train.epochs - epochsDone);
  const done: FitResult = { history: [], bestEpoch: 0, stoppedEarly: false, interrupted: false, steps: trainer.step };
  const fit = epochs === 0 ? done : await trainer.fit(data('train') as () => AsyncIterable<Batch>, {
    epochs,
    eval: data('valid'),
    earlyStopping: config.train.earlyStopping,
    seed: config.seed,
    signal: options.signal,
    lossEvery: config.train.lossEvery,
    onEpoch: async (record) => {
      epochsDone += 1;
      await options.onEpoch?.(record);
    },
    onStep: async (step, loss) => {
      const global = loss === undefined ? undefined : meanOverRanks(loss);
      if (global !== undefined) losses.push([step, global]);
      if (config.train.checkpointEvery > 0 && step % config.train.checkpointEvery === 0) save();
      await options.onStep?.(step, global);
    },
  });
  const hasTest = config.data.test !== undefined || config.data.split.test > 0;
  const test = hasTest ? await trainer.evaluate(data('test')) : [];
  const checkpoint = save();
  // Throughput: this rank's samples over its training time, and every rank's.
  const samples = fit.history.reduce((s, h) => s + h.samples, 0);
  const seconds = fit.history.reduce((s, h) => s + (h.samplesPerSecond > 0 ? h.samples / h.samplesPerSecond : 0), 0);
  const samplesPerSecond = seconds > 0 ? samples / seconds : 0;
  const byRank = Array.from(group.allGather(new Float64Array([samplesPerSecond])).wait(), (a) => a[0]);
  const result: DistributedJobResult = {
    name: config.name,
    fit,
    test,
    losses,
    checkpoint,
    updates: [],
    metrics: path.join(out, 'metrics.json'),
    stats: parts.stats,
    numeric,
    seconds: (Date.now() - t0) / 1000,
    rank,
    worldSize,
    samplesPerSecond,
    samplesPerSecondByRank: byRank,
    resumedEpochs: options.resume ? config.train.epochs - epochs : 0,
  };
  if (rank === 0) {
    fs.writeFileSync(result.metrics, JSON.stringify({ name: config.name, worldSize, steps: fit.steps, bestEpoch: fit.bestEpoch, stoppedEarly: fit.stoppedEarly, history: fit.history, test, samplesPerSecondByRank: byRank, stats: parts.stats, numeric }, null, 2));
    if (config.output.report) {
      result.report = writeTrainingReport(path.join(out, 'report.html'), { title: `gatewise — ${config.name}`, subtitle: `${config.model.kind}, ${fit.steps} steps on ${worldSize} ranks`, losses, history: fit.history, notes: [] });
    }
    if (config.output.safetensors) {
      result.safetensors = path.join(out, 'model.safetensors');
      exportSafetensors(model, result.safetensors);
    }
  }
  ddp.dispose();
  parts.dispose();
  model.table.dispose();
  return result;
}
