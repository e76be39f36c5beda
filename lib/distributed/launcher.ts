/**
 * `gatewise train --nproc N`: starts N ranks on this machine as child processes, as torchrun
 * does, each with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT
 * set (`--nnodes`, `--node-rank`, `--master-addr`, `--master-port` span machines: run the same
 * command on each, node 0's address as the master). Each rank's output lines are prefixed
 * with `[rank r]`. Each rank gets ⌊cores / N⌋ CPU threads unless GATEWISE_NUM_THREADS says.
 *
 * When a rank fails, the others fail too within the process group's timeout, naming it; the
 * launcher waits `graceMs` for them to say so, then kills the ranks still running and exits
 * with the first failure's code. SIGINT and SIGTERM are passed on to the ranks.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../native';
import { checkInt, checkOptions, invalid } from '../validate';

/** Options of {@link launchRanks}. */
export interface LaunchOptions {
  /** Ranks on this machine. */
  nproc: number;
  /** Machines (default 1). */
  nnodes?: number;
  /** This machine's index (default 0). */
  nodeRank?: number;
  /** Node 0's address (default 127.0.0.1). */
  masterAddr?: string;
  /** Where node 0's rank 0 hosts the rendezvous store (default 29500). */
  masterPort?: number;
  /** The arguments of each rank's `gatewise` command (e.g. ['train', '--config', file]). */
  args: string[];
  /** How long the other ranks get to report a failure before they are killed (ms, default: the process group's timeout + 10 s). */
  graceMs?: number;
  /** Where the ranks' prefixed lines go (default: this process's stdout / stderr). */
  out?: (line: string) => void;
  /** Where the ranks' prefixed stderr lines go (default: this process's stderr). */
  err?: (line: string) => void;
  /**
   * The ranks' environment, before RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT are
   * set (default: process.env).
   */
  env?: NodeJS.ProcessEnv;
}

function prefixLines(stream: NodeJS.ReadableStream, prefix: string, write: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split(/\r?\n|\r/);
    buffered = lines.pop()!;
    for (const l of lines) write(`${prefix}${l}\n`);
  });
  stream.on('end', () => {
    if (buffered) write(`${prefix}${buffered}\n`);
  });
}

/** Runs the ranks of this node; resolves with the exit code (0 when every rank succeeded). */
export async function launchRanks(options: LaunchOptions): Promise<number> {
  const o = checkOptions(options, 'options');
  const nproc = checkInt(o.nproc, '--nproc', 1);
  const nnodes = checkInt(o.nnodes ?? 1, '--nnodes', 1);
  const nodeRank = checkInt(o.nodeRank ?? 0, '--node-rank', 0, nnodes - 1);
  const masterAddr = o.masterAddr ?? '127.0.0.1';
  if (typeof masterAddr !== 'string' || masterAddr === '') throw invalid('a host name or address', '--master-addr', masterAddr);
  const masterPort = checkInt(o.masterPort ?? 29500, '--master-port', 1, 65535);
  if (!Array.isArray(o.args)) throw invalid('an array of arguments', 'options.args', o.args);
  const env = o.env ?? process.env;
  const timeoutMs = Number(env.GATEWISE_DIST_TIMEOUT_MS || 300000);
  const graceMs = checkInt(o.graceMs ?? timeoutMs + 10000, 'options.graceMs', 0);
  const out = o.out ?? ((l: string) => process.stdout.write(l));
  const err = o.err ?? ((l: string) => process.stderr.write(l));
  const bin = path.join(packageRoot(), 'bin', 'gatewise.js');
  // As torchrun sets OMP_NUM_THREADS: the ranks share this machine's cores, unless told otherwise.
  const threads = env.GATEWISE_NUM_THREADS ?? String(Math.max(1, Math.floor(os.availableParallelism() / nproc)));
  const world = nnodes * nproc;
  const children: ChildProcess[] = [];
  const exits = Array.from({ length: nproc }, (_, local) => {
    const rank = nodeRank * nproc + local;
    const child = spawn(process.execPath, [...process.execArgv, bin, ...o.args!], {
      env: { ...env, GATEWISE_NUM_THREADS: threads, RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(local), LOCAL_WORLD_SIZE: String(nproc), MASTER_ADDR: masterAddr, MASTER_PORT: String(masterPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    prefixLines(child.stdout!, `[rank ${rank}] `, out);
    prefixLines(child.stderr!, `[rank ${rank}] `, err);
    return new Promise<{ rank: number; code: number }>((resolve) => {
      child.on('close', (code, signal) => resolve({ rank, code: code ?? (signal ? 128 + 9 : 1) }));
    });
  });
  const forward = (signal: NodeJS.Signals) => () => children.forEach((c) => c.kill(signal));
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  let first: { rank: number; code: number } | null = null;
  let killer: NodeJS.Timeout | null = null;
  try {
    await Promise.all(
      exits.map((p) =>
        p.then((e) => {
          if (e.code === 0 || first) return;
          first = e;
          err(`gatewise: rank ${e.rank} exited with code ${e.code}; the other ranks get ${graceMs} ms to stop\n`);
          killer = setTimeout(() => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')), graceMs);
        }),
      ),
    );
  } finally {
    if (killer) clearTimeout(killer);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  return first ? (first as { code: number }).code || 1 : 0;
}
