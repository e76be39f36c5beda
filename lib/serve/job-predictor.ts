/**
 * A serving copy of a config job's model: the TabularModel rebuilt from the config, loaded
 * from a checkpoint, behind a Predictor that takes JSON objects (the schema's field names)
 * and returns each task's probability (binary) or value (regression). Serving updates the
 * job writes (train.updateEvery) are applied in order with `applyUpdate`.
 */
import { Batch } from '../data/batches';
import { buildJob, JobDataState, JobParts, loadJobCheckpoint, restoreJobDataState } from '../train/job';
import { ResolvedConfig } from '../train/config';
import { checkOptions, checkKnownKeys } from '../validate';
import { objectCollate, Predictor } from './predictor';
import { AppliedUpdate, applyUpdate, loadUpdate } from './update';

/** Options of {@link jobPredictor}. */
export interface JobPredictorOptions {
  /** The most requests per forward pass (default 256). */
  maxBatch?: number;
  /** How long score() lets a request wait for others, in ms (default 1). */
  maxDelayMs?: number;
}

/** What {@link jobPredictor} returns: a Predictor over a config job's model, and the way to update it. */
export interface JobPredictor {
  /** Scores JSON-like request objects (read with the job's schema). */
  predictor: Predictor<Record<string, unknown>, Batch>;
  /** The model and table behind it. */
  parts: JobParts;
  /** Applies a serving update (bytes, or a file written by the job), with the domain vocabulary and numeric treatment it carries; apply them in the order they were written. */
  update(update: Uint8Array | string): AppliedUpdate;
  /** Frees the table. */
  dispose(): Promise<void>;
}

/** A Predictor over a job's checkpoint, or (checkpoint null) over the freshly built model, for a copy fed only by updates. */
export function jobPredictor(config: ResolvedConfig, checkpoint: string | null, options: JobPredictorOptions = {}): JobPredictor {
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['maxBatch', 'maxDelayMs']);
  const parts = buildJob(config, { progress: { mode: 'none' }, cache: false });
  const { model } = parts;
  if (checkpoint !== null) loadJobCheckpoint(parts, checkpoint);
  model.eval();
  const predictor = new Predictor<Record<string, unknown>, Batch>({
    model,
    collate: objectCollate(config.schema),
    forward: (b) => model.forward(b),
    release: (b) => b.dispose(),
    tasks: [...config.schema.tasks],
    kinds: [...config.schema.objectives],
    maxBatch: o.maxBatch,
    maxDelayMs: o.maxDelayMs,
  });
  const tables = { table: model.table };
  const update = (u: Uint8Array | string): AppliedUpdate => {
    const where = typeof u === 'string' ? `serving update ${u}` : 'serving update';
    // The update's numeric state is checked with everything else, before anything changes.
    const checkMetadata = (m: Record<string, unknown>) => restoreJobDataState(config, m as Partial<JobDataState>, where, true);
    const applied = typeof u === 'string' ? loadUpdate(u, { model, tables, checkMetadata }) : applyUpdate(u, { model, tables, checkMetadata });
    restoreJobDataState(config, applied.metadata as Partial<JobDataState>, where);
    return applied;
  };
  return {
    predictor,
    parts,
    update,
    dispose: async () => {
      await predictor.close();
      model.table.dispose();
    },
  };
}
