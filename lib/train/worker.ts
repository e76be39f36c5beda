/**
 * Training off the main thread: `trainInWorker` runs a config's job (see job.ts) in a
 * worker_thread with its own instance of the addon, so the service's event loop keeps
 * answering requests while the model trains. Progress text, per-step losses and epoch
 * records come back as messages; `stop()` asks the job to finish after the current step
 * (it still writes its checkpoint); `terminate()` kills it at once.
 */
import { workerScript } from '../worker-script';
import { Worker } from 'node:worker_threads';
import { TrainConfig } from './config';
import { JobResult } from './job';
import { EpochRecord } from './trainer';
import { ProgressMode } from './progress';
import { checkInt, checkOptions, invalid } from '../validate';
import * as errors from '../errors';

/** Options of {@link trainInWorker}. */
export interface TrainInWorkerOptions {
  /** Where the worker's progress text goes (default process.stderr). */
  progress?: {
    /** The progress mode (default 'auto': a bar on a TTY stream, lines otherwise). */
    mode?: ProgressMode;
    /** The stream written to (default process.stderr). */
    stream?: NodeJS.WritableStream & {
      /** Whether the stream is a terminal. */
      isTTY?: boolean;
    };
  };
  /** After each epoch, on the main thread. */
  onEpoch?: (record: EpochRecord) => void;
  /** Every `stepEvery` steps, on the main thread. */
  onStep?: (step: number, loss: number | undefined) => void;
  /** Steps between onStep messages (default 10). */
  stepEvery?: number;
}

/** What the worker is sent: a config file, or a config object with the folder its paths are relative to. */
export type WorkerConfig =
  | string
  | {
      /** The config object. */
      config: TrainConfig;
      /** The folder the config's relative paths are relative to (default: the working directory). */
      baseDir?: string;
      /** The job's name (default: the config's name). */
      name?: string;
    };

/** Messages from worker-entry. */
export type WorkerMessage =
  | { type: 'out'; text: string }
  | { type: 'step'; step: number; loss: number | undefined }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'done'; result: JobResult }
  | { type: 'error'; name: string; message: string };

/** A job running in a worker thread, from {@link trainInWorker}. */
export interface TrainingWorker {
  /** The job's result once it finishes; rejects with the job's error (its message intact). */
  readonly done: Promise<JobResult>;
  /** Finish after the current step (the job then scores the test rows and writes its checkpoint). */
  stop(): void;
  /** Kill the worker now (nothing more is written). */
  terminate(): Promise<void>;
  /** The worker thread's id. */
  readonly threadId: number;
}

function entry(): { file: string; eval: boolean } {
  return workerScript(__dirname, 'worker-entry');
}

/** Runs a training job in a worker thread (see the file comment). */
export function trainInWorker(config: WorkerConfig, options: TrainInWorkerOptions = {}): TrainingWorker {
  if (typeof config !== 'string' && (config === null || typeof config !== 'object' || typeof config.config !== 'object')) {
    throw invalid('a config file path or { config, baseDir? }', 'config', config);
  }
  const o = checkOptions(options, 'options');
  const stepEvery = checkInt(o.stepEvery ?? 10, 'options.stepEvery', 1);
  const stream = o.progress?.stream ?? process.stderr;
  const { file, eval: isEval } = entry();
  const worker = new Worker(file, {
    eval: isEval,
    workerData: { config, stepEvery, progress: { mode: o.progress?.mode ?? 'auto', isTTY: Boolean((stream as { isTTY?: boolean }).isTTY) } },
  });
  const done = new Promise<JobResult>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'out') stream.write(m.text);
      else if (m.type === 'step') o.onStep?.(m.step, m.loss);
      else if (m.type === 'epoch') o.onEpoch?.(m.record);
      else if (m.type === 'done') (settled = true), resolve(m.result);
      else if (m.type === 'error') {
        settled = true;
        // The library's own error classes cross the thread boundary as themselves.
        const Class = (errors as Record<string, unknown>)[m.name];
        reject(typeof Class === 'function' && Class.prototype instanceof errors.GatewiseError && Class !== errors.GatewiseError ? new (Class as new (msg: string) => Error)(m.message) : Object.assign(new Error(m.message), { name: m.name }));
      }
    });
    worker.on('error', (e) => ((settled = true), reject(e)));
    worker.on('exit', (code) => {
      if (!settled) reject(new errors.InternalError(`the training worker exited (code ${code}) before finishing`));
    });
  });
  return {
    done,
    stop: () => worker.postMessage({ type: 'stop' }),
    terminate: async () => {
      await worker.terminate();
    },
    threadId: worker.threadId,
  };
}
