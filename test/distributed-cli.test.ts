/**
 * `gatewise train --nproc`: the census MMoE job on 2 ranks reaches one process's test AUC
 * (within 0.002) and prints per-rank and total samples/s; killing a rank mid-epoch makes the
 * other fail within the timeout naming it, the launcher exit non-zero with the last checkpoint
 * intact, and `--nproc 1 --resume` from it finish the job. Skips, saying why, without Gloo.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../lib/checkpoint/checkpoint';
import { parseTrainConfig } from '../lib/train/config';
import { buildJob } from '../lib/train/job';
import { freePort, skipReason } from './fixtures/distributed-launch';
import { clickConfig, writeClickLog } from './fixtures/tabular-data';

if (skipReason) console.log(skipReason);

const BIN = path.resolve(__dirname, '../bin/gatewise.js');
const CENSUS = path.resolve(__dirname, '../configs/census-mmoe.json');

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-dist-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function gatewise(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 600000 });
}

/** The 'all' rows' AUC of a task in a printed metrics table. */
function auc(stdout: string, task: string): number {
  const line = stdout.split('\n').find((l) => l.includes(`| ${task} | all |`));
  if (!line) throw new Error(`no ${task} row in:\n${stdout}`);
  return Number(line.split('|')[4]);
}

/** The pid of the `gatewise` rank with RANK=rank among the launcher's children. */
function rankPid(launcher: number, rank: number): number | null {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== launcher) continue;
      if (fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`RANK=${rank}`)) return Number(pid);
    } catch {
      /* gone */
    }
  }
  return null;
}

describe.skipIf(skipReason !== '')('gatewise train --nproc', () => {
  it('census MMoE on 2 ranks: the test AUC of one process, per-rank and total samples/s', async () => {
    const port = String(await freePort());
    const one = gatewise(['train', '--config', CENSUS, '--epochs', '2', '--out', path.join(dir, 'census-1'), '--progress', 'none']);
    expect(one.status, one.stderr).toBe(0);
    const two = gatewise(['train', '--config', CENSUS, '--epochs', '2', '--out', path.join(dir, 'census-2'), '--progress', 'none', '--nproc', '2', '--master-port', port]);
    expect(two.status, two.stderr).toBe(0);
    for (const task of ['income', 'neverMarried']) expect(Math.abs(auc(two.stdout, task) - auc(one.stdout, task)), task).toBeLessThan(0.002);
    expect(two.stdout).toMatch(/\[rank 0\] rank 0: \d+ samples\/s/);
    expect(two.stdout).toMatch(/\[rank 1\] rank 1: \d+ samples\/s/);
    expect(two.stdout).toMatch(/throughput: rank 0 \d+, rank 1 \d+ samples\/s; total \d+ samples\/s/);
  }, 300000);

  it('a rank killed mid-epoch: the other names it within the timeout, the checkpoint is intact, --nproc 1 --resume finishes', async () => {
    writeClickLog(dir, 2048, 1, 'clicks.csv');
    const base = clickConfig('mmoe');
    const cfg = { ...base, data: { ...base.data, train: path.join(dir, 'clicks.csv') }, train: { ...base.train, epochs: 30, batchSize: 32, checkpointEvery: 10 }, output: { dir: path.join(dir, 'fault'), report: false } };
    const file = path.join(dir, 'fault.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    const checkpoint = path.join(dir, 'fault', 'checkpoint.gwck');
    const port = String(await freePort());
    const timeoutMs = 8000;
    const launcher = spawn(process.execPath, [BIN, 'train', '--config', file, '--progress', 'none', '--nproc', '2', '--master-port', port], {
      env: { ...process.env, GATEWISE_DIST_TIMEOUT_MS: String(timeoutMs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    launcher.stderr.on('data', (d) => (stderr += d));
    launcher.stdout.resume();
    const exited = new Promise<number | null>((resolve) => launcher.on('close', (code) => resolve(code)));
    // Once the first checkpoint is written, kill rank 1 mid-epoch.
    const deadline = Date.now() + 120000;
    while (!fs.existsSync(checkpoint) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(fs.existsSync(checkpoint)).toBe(true);
    const victim = rankPid(launcher.pid!, 1);
    expect(victim).not.toBeNull();
    const killedAt = Date.now();
    process.kill(victim!, 'SIGKILL');
    const code = await exited;
    const seconds = (Date.now() - killedAt) / 1000;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/\[rank 0\] gatewise: rank 1 exited/);
    expect(seconds).toBeLessThan(timeoutMs / 1000);
    // The last checkpoint loads, with every shard's rows.
    const info = loadCheckpoint(checkpoint, { model: buildJob(parseTrainConfig(cfg, dir), { progress: { mode: 'none' }, cache: false }).model });
    expect(info.step).toBeGreaterThan(0);
    expect(info.step % 10).toBe(0);
    const resumed = gatewise(['train', '--config', file, '--progress', 'none', '--nproc', '1', '--master-port', String(await freePort()), '--resume', checkpoint]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resumed from .* \(step \d+, \d+ epochs done, written by 2 rank\(s\)\)/);
    // Killed in the first epoch: the resumed run trains all 30 epochs on from the checkpoint's step.
    expect(resumed.stdout).toMatch(/clicks-mmoe: \d+ steps on 1 ranks, 30 epochs/);
    expect(resumed.stdout).toMatch(/\| click \| all \| \d+ \| 0\.\d+/);
  }, 300000);
});
