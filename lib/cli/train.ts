/**
 * `gatewise train --config <file>`: runs a config's job (lib/train/job.ts) — on the main
 * thread, or with --worker in a worker thread as a service would — and prints progress,
 * the test rows' metrics per task and domain, and where the outputs went.
 * With --nproc N (and --nnodes, --node-rank, --master-addr, --master-port) it launches the
 * ranks of a distributed job instead (train-distributed.ts); --resume <checkpoint> continues one.
 * `gatewise eval --config <file>`: scores a job's checkpoint on its test rows or a file.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { formatTaskMetrics } from '../metrics/task-metrics';
import { loadTrainConfig, parseTrainConfig, ResolvedConfig, TrainConfig } from '../train/config';
import { evaluateJobCheckpoint, JobResult, runTrainJob } from '../train/job';
import { ProgressMode } from '../train/progress';
import { trainInWorker } from '../train/worker';
import { DISTRIBUTED_OPTIONS, distributedTrain, launchFromCommand } from './train-distributed';
import { envRendezvous } from '../distributed/process-group';
import { invalid } from '../validate';

export type Out = (s: string) => void;

/** The config file with the command line's overrides (--epochs, --out) applied. */
function configWith(file: string, overrides: { epochs?: string; out?: string }): ResolvedConfig {
  const base = loadTrainConfig(file);
  if (overrides.epochs === undefined && overrides.out === undefined) return base;
  const source: TrainConfig = JSON.parse(JSON.stringify(base.source));
  if (overrides.epochs !== undefined) {
    const n = Number(overrides.epochs);
    if (!Number.isInteger(n) || n < 1) throw invalid('a positive integer', '--epochs', overrides.epochs);
    source.train = { ...source.train, epochs: n };
  }
  if (overrides.out !== undefined) source.output = { ...source.output, dir: path.resolve(overrides.out) };
  return parseTrainConfig(source, path.dirname(path.resolve(file)), base.name);
}

function summary(r: JobResult): string {
  const lines = [`\n${r.name}: ${r.fit.steps} steps, ${r.fit.history.length} epochs${r.fit.stoppedEarly ? ' (stopped early)' : ''}${r.fit.interrupted ? ' (stopped)' : ''}, best epoch ${r.fit.bestEpoch}, ${r.seconds.toFixed(1)} s`];
  if (r.test.length) lines.push('test rows:', formatTaskMetrics(r.test));
  lines.push(`checkpoint ${r.checkpoint}`, `metrics    ${r.metrics}`);
  if (r.report) lines.push(`report     ${r.report}`);
  if (r.safetensors) lines.push(`weights    ${r.safetensors}`);
  return `${lines.join('\n')}\n`;
}

export async function trainCommand(args: string[], out: Out): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      epochs: { type: 'string' },
      out: { type: 'string' },
      worker: { type: 'boolean' },
      progress: { type: 'string' },
      json: { type: 'boolean' },
      ...DISTRIBUTED_OPTIONS,
    },
  });
  if (!values.config) throw invalid('a config file (--config <file>)', '--config', values.config);
  const config = configWith(values.config, values);
  const mode = (values.progress ?? 'auto') as ProgressMode;
  // --nproc: this process launches the ranks; each rank (RANK and WORLD_SIZE set) runs its share.
  if (values.nproc !== undefined) return launchFromCommand(args, values);
  if (envRendezvous()) return distributedTrain(config, { mode, resume: values.resume, json: values.json }, out);
  if (values.resume !== undefined) throw invalid('--nproc (resuming runs the distributed job: --nproc 1 for one process)', '--resume', values.resume);
  let result: JobResult;
  if (values.worker) {
    const file = values.config;
    // The worker reads the same file; overrides travel as a config object.
    const job = trainInWorker(values.epochs || values.out ? { config: config.source, baseDir: path.dirname(path.resolve(file)), name: config.name } : file, { progress: { mode } });
    process.once('SIGINT', () => job.stop());
    result = await job.done;
  } else {
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    result = await runTrainJob(config, { progress: { mode }, signal: stop.signal });
  }
  out(values.json ? `${JSON.stringify({ ...result, losses: undefined }, null, 2)}\n` : summary(result));
  return 0;
}

export async function evalCommand(args: string[], out: Out): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, checkpoint: { type: 'string' }, data: { type: 'string' }, part: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (!values.config) throw invalid('a config file (--config <file>)', '--config', values.config);
  const config = loadTrainConfig(values.config);
  const part = values.part ?? 'test';
  if (part !== 'test' && part !== 'valid' && part !== 'train') throw invalid("'test', 'valid' or 'train'", '--part', part);
  const checkpoint = values.checkpoint ?? path.join(config.output.dir, 'checkpoint.gwck');
  const metrics = await evaluateJobCheckpoint(config, checkpoint, { part, file: values.data && path.resolve(values.data) });
  out(values.json ? `${JSON.stringify(metrics, null, 2)}\n` : `${config.name}: ${checkpoint} on ${values.data ?? `the ${part} rows`}\n${formatTaskMetrics(metrics)}\n`);
  return 0;
}
