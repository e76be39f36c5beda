/**
 * The distributed side of `gatewise train`: `--nproc N` launches N ranks here (with --nnodes,
 * --node-rank, --master-addr, --master-port across machines) as lib/distributed/launcher.ts
 * does; a process started with RANK and WORLD_SIZE set (by the launcher or torchrun) is a rank
 * and runs its share of the job (lib/distributed/job.ts). Rank 0 prints the summary, with
 * every rank's throughput and the total.
 */
import { formatTaskMetrics } from '../metrics/task-metrics';
import { runDistributedTrainJob, DistributedJobResult } from '../distributed/job';
import { launchRanks } from '../distributed/launcher';
import { initProcessGroup } from '../distributed/process-group';
import { ResolvedConfig } from '../train/config';
import { ProgressMode } from '../train/progress';
import { checkInt } from '../validate';
import type { Out } from './train';

/** The train command's distributed options (parseArgs form). */
export const DISTRIBUTED_OPTIONS = {
  nproc: { type: 'string' },
  nnodes: { type: 'string' },
  'node-rank': { type: 'string' },
  'master-addr': { type: 'string' },
  'master-port': { type: 'string' },
  resume: { type: 'string' },
} as const;

const LAUNCHER_FLAGS = ['--nproc', '--nnodes', '--node-rank', '--master-addr', '--master-port'];

/** The command line without the launcher's own flags: what each rank runs. */
function rankArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; ++i) {
    const flag = args[i].split('=')[0];
    if (!LAUNCHER_FLAGS.includes(flag)) out.push(args[i]);
    else if (!args[i].includes('=')) i += 1;
  }
  return out;
}

const intFlag = (v: string | undefined, name: string, def: number, min: number) => (v === undefined ? def : checkInt(Number(v), name, min));

export async function launchFromCommand(args: string[], values: { nproc?: string; nnodes?: string; 'node-rank'?: string; 'master-addr'?: string; 'master-port'?: string }): Promise<number> {
  return launchRanks({
    nproc: intFlag(values.nproc, '--nproc', 1, 1),
    nnodes: intFlag(values.nnodes, '--nnodes', 1, 1),
    nodeRank: intFlag(values['node-rank'], '--node-rank', 0, 0),
    masterAddr: values['master-addr'],
    masterPort: intFlag(values['master-port'], '--master-port', 29500, 1),
    args: ['train', ...rankArgs(args)],
  });
}

function summary(r: DistributedJobResult): string {
  const lines = [`\n${r.name}: ${r.fit.steps} steps on ${r.worldSize} ranks, ${r.fit.history.length} epochs${r.resumedEpochs ? ` after ${r.resumedEpochs} resumed` : ''}${r.fit.stoppedEarly ? ' (stopped early)' : ''}, best epoch ${r.fit.bestEpoch}, ${r.seconds.toFixed(1)} s`];
  const perRank = r.samplesPerSecondByRank.map((s, i) => `rank ${i} ${s.toFixed(0)}`).join(', ');
  lines.push(`throughput: ${perRank} samples/s; total ${r.samplesPerSecondByRank.reduce((a, b) => a + b, 0).toFixed(0)} samples/s`);
  if (r.test.length) lines.push('test rows (all ranks):', formatTaskMetrics(r.test));
  lines.push(`checkpoint ${r.checkpoint}`, `metrics    ${r.metrics}`);
  if (r.report) lines.push(`report     ${r.report}`);
  if (r.safetensors) lines.push(`weights    ${r.safetensors}`);
  return `${lines.join('\n')}\n`;
}

/** This process is one rank: join the group, run the job, print (rank 0) the summary. */
export async function distributedTrain(config: ResolvedConfig, o: { mode: ProgressMode; resume?: string; json?: boolean }, out: Out): Promise<number> {
  const group = await initProcessGroup();
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  const result = await runDistributedTrainJob(config, group, { progress: { mode: o.mode }, signal: stop.signal, resume: o.resume });
  out(`rank ${group.rank}: ${result.samplesPerSecond.toFixed(0)} samples/s\n`);
  if (group.rank === 0) out(o.json ? `${JSON.stringify({ ...result }, null, 2)}\n` : summary(result));
  await group.destroy();
  return 0;
}
