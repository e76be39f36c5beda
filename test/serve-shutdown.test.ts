/**
 * `gatewise serve` in a child process, shut down by SIGTERM under load: keep-alive clients post
 * back to back; after the signal every request the server had received is answered (200, told
 * `connection: close`), new connections are refused, no request fails any other way (no reset,
 * no hang-up), and the process exits 0 once the last answer is out.
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickRequests, removeServeJob, request, ServeJob, trainServeJob } from './serve-fixture';

let job: ServeJob;

beforeAll(async () => {
  job = await trainServeJob('gw-serve-term-');
}, 60_000);

afterAll(() => removeServeJob(job));

describe('gatewise serve: SIGTERM', () => {
  it('answers every request it accepted, refuses new connections, exits 0', async () => {
    const bin = path.resolve(__dirname, '../bin/gatewise.js');
    // A long batch delay keeps requests waiting inside the server when the signal comes.
    const child = spawn(process.execPath, [bin, 'serve', '--config', job.configFile, '--port', '0', '--workers', '1', '--max-delay-ms', '40', '--updates', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d;
        const m = /on (http:\/\/[\d.]+:\d+)/.exec(stdout);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    expect(stdout).toMatch(new RegExp(`out-a/checkpoint\\.gwck \\(step ${job.stepA}\\) on http://127\\.0\\.0\\.1:\\d+, 1 worker thread`));

    const probe = clickRequests(16, 10);
    let signalledAt = Infinity;
    const outcomes = { before: 0, after: 0, closeHeader: 0, refused: 0, other: [] as string[] };
    const client = async (c: number) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let k = 0; ; ++k) {
        const sentAt = performance.now();
        try {
          const r = await request(`${url}/predict`, { body: JSON.stringify(probe[(c + k) % probe.length]), agent });
          if (r.status !== 200) outcomes.other.push(`status ${r.status}: ${r.text}`);
          else if (sentAt < signalledAt) outcomes.before += 1;
          else outcomes.after += 1;
          if (r.headers.connection === 'close') outcomes.closeHeader += 1;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ECONNREFUSED' && sentAt > signalledAt) outcomes.refused += 1;
          else outcomes.other.push(`${code}: ${(e as Error).message}`);
          break;
        }
      }
      agent.destroy();
    };
    const clients = Array.from({ length: 16 }, (_, c) => client(c));
    while (outcomes.before < 300) await new Promise((r) => setTimeout(r, 20));
    signalledAt = performance.now();
    const answeredAtSignal = outcomes.before;
    child.kill('SIGTERM');
    await Promise.all(clients);
    expect(await exited).toBe(0);

    expect(outcomes.other).toEqual([]);
    expect(outcomes.refused).toBe(16); // each client ends on a refused new connection…
    expect(outcomes.closeHeader).toBe(16); // …after its last answer told it to close
    // The requests in flight when the signal came were answered, after it.
    expect(outcomes.before - answeredAtSignal).toBeGreaterThan(0);
    expect(stderr).toMatch(/gatewise serve: shutting down; answering \d+ queued rows first\ngatewise serve: stopped\n$/);
    await expect(request(`${url}/healthz`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  }, 60_000);
});
