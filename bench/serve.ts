/**
 * The serving bench (`npm run bench -- serve`): `gatewise serve` on the bundled census MMoE
 * config's checkpoint (runs/census-mmoe when it was trained with the config as it is now, else
 * one epoch trained into runs/serve-bench the first time: the cost of serving is the same) in
 * a child process, loaded by autocannon from this process at 1, 16 and 64
 * keep-alive connections, first with every request valid, then with 1 in 20 malformed (a bad
 * number, a missing field, a list for an id, …, in turn). Each response is checked: a valid
 * request must get a 200, a malformed one a 400 whose error names the field. Prints req/s and
 * the latency's p50 / p99 / max per run, what was answered, and the 64-connection comparison
 * the serving issue sets (malformed within 15% of all-valid req/s, p99 within 1.5×).
 *
 *   GATEWISE_BENCH_SERVE_SECONDS   seconds per run (default 8)
 *   GATEWISE_BENCH_SERVE_ARGS      more `gatewise serve` flags, e.g. "--workers 0 --max-batch 32"
 *   GATEWISE_BENCH_SERVE_URL       load a server already running there instead (any server
 *                                  scoring census rows at POST /predict, e.g. a hand-written one)
 *   npm run bench -- serve c64     only the runs at 64 connections (c1, c16, c64)
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

const ROOT = path.resolve(__dirname, '..');
const CONFIG = path.join(ROOT, 'configs', 'census-mmoe.json');
const CHECKPOINTS = [path.join(ROOT, 'runs', 'census-mmoe', 'checkpoint.gwck'), path.join(ROOT, 'runs', 'serve-bench', 'checkpoint.gwck')];
const BIN = path.join(ROOT, 'bin', 'gatewise.js');

/** The parts of autocannon's API used here (it ships no types). */
interface Histogram {
  average: number;
  p50: number;
  p99: number;
  max: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}
interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  onResponse: (status: number, body: string) => void;
}
type Autocannon = (options: { url: string; connections: number; duration: number; requests: AutocannonRequest[] }) => Promise<AutocannonResult>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as Autocannon;

export interface ServeFigure {
  connections: number;
  malformed: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Valid requests answered 200; malformed ones answered 400 naming the field. */
  ok: number;
  rejected: number;
  /** Answers that were not those (a valid request not 200, a malformed one not a 400 naming its field). */
  wrong: number;
  fiveHundreds: number;
  /** Connection errors and timeouts: requests sent and never answered. */
  lost: number;
}

/** Census rows as request objects (the CSV's columns by name; the labels left in, as a client might). */
function censusRequests(n: number): Record<string, string>[] {
  const columns = (JSON.parse(fs.readFileSync(CONFIG, 'utf8')).data.columns as string[]) ?? [];
  const lines = zlib.gunzipSync(fs.readFileSync(path.join(ROOT, 'data', 'census-income', 'census-income.test.gz'))).toString('utf8').split('\n', n + 1);
  return lines.filter((l) => l.trim() !== '').slice(0, n).map((l) => Object.fromEntries(l.split(',').map((v, i) => [columns[i], v.trim()])));
}

/** Ways to break a request, each with the field its 400 must name. */
const BREAKS: [string, (r: Record<string, unknown>) => Record<string, unknown>][] = [
  ['age', (r) => ({ ...r, age: 'forty' })],
  ['class_worker', ({ class_worker: _, ...r }) => r],
  ['education', (r) => ({ ...r, education: ['a', 'b'] })],
  ['weeks_worked', (r) => ({ ...r, weeks_worked: { n: 3 } })],
  ['sex', (r) => ({ ...r, sex: null })],
];

/** 100 requests for autocannon to cycle through: every 20th malformed when `malformed`. */
function requestSet(rows: Record<string, string>[], malformed: boolean, tally: { ok: number; rejected: number; wrong: number; fiveHundreds: number }): AutocannonRequest[] {
  return rows.slice(0, 100).map((row, i) => {
    const broken = malformed && i % 20 === 19 ? BREAKS[((i / 20) | 0) % BREAKS.length] : null;
    const body = JSON.stringify(broken ? broken[1](row) : row);
    return {
      method: 'POST',
      path: '/predict',
      headers: { 'content-type': 'application/json' },
      body,
      onResponse: (status: number, text: string) => {
        if (status >= 500) tally.fiveHundreds += 1;
        if (broken ? status === 400 && text.includes(`field '${broken[0]}'`) : status === 200) {
          if (broken) tally.rejected += 1;
          else tally.ok += 1;
        } else tally.wrong += 1;
      },
    };
  });
}

/** Starts `gatewise serve` on a free port with a checkpoint; resolves with its URL once it listens, or with what it printed if it exits first. */
function startServer(checkpoint: string, extra: string[]): Promise<{ url: string; child: ChildProcess } | { error: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', CONFIG, '--checkpoint', checkpoint, '--port', '0', '--updates', 'none', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  let listening = false;
  child.stderr!.on('data', (d: Buffer) => (listening ? process.stderr.write(d) : (errors += d)));
  return new Promise((resolve) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /on (http:\/\/[\d.]+:\d+)/.exec(text);
      if (m && !listening) {
        listening = true;
        process.stderr.write(errors);
        resolve({ url: m[1], child });
      }
    });
    child.once('exit', () => resolve({ error: errors.trim() }));
  });
}

/** The server on the first checkpoint that loads, training one epoch into runs/serve-bench if none does. */
async function serveCensus(extra: string[]): Promise<{ url: string; child: ChildProcess; checkpoint: string }> {
  for (const checkpoint of CHECKPOINTS.filter((c) => fs.existsSync(c))) {
    const started = await startServer(checkpoint, extra);
    if ('url' in started) return { ...started, checkpoint };
    console.log(`${path.relative(ROOT, checkpoint)} does not load: ${started.error}`);
  }
  console.log('training the census MMoE for one epoch into runs/serve-bench');
  const trained = spawnSync(process.execPath, [BIN, 'train', '--config', CONFIG, '--epochs', '1', '--out', path.dirname(CHECKPOINTS[1]), '--progress', 'none'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const started = trained.status === 0 ? await startServer(CHECKPOINTS[1], extra) : { error: 'training failed' };
  if ('error' in started) throw new Error(`gatewise serve did not start on the census MMoE checkpoint: ${started.error}`);
  return { ...started, checkpoint: CHECKPOINTS[1] };
}

async function once(url: string, connections: number, seconds: number, rows: Record<string, string>[], malformed: boolean): Promise<ServeFigure> {
  const tally = { ok: 0, rejected: 0, wrong: 0, fiveHundreds: 0 };
  const r = await autocannon({ url, connections, duration: seconds, requests: requestSet(rows, malformed, tally) });
  return {
    connections,
    malformed: malformed ? 0.05 : 0,
    reqPerSec: r.requests.total / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    ...tally,
    lost: r.errors + r.timeouts,
  };
}

export function formatServe(figures: ServeFigure[]): string {
  const head = `${'conns'.padStart(5)} ${'malformed'.padStart(9)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'max ms'.padStart(7)} ${'200'.padStart(7)} ${'400+field'.padStart(9)} ${'wrong'.padStart(5)} ${'5xx'.padStart(4)} ${'lost'.padStart(4)}`;
  const rows = figures.map((f) =>
    [
      String(f.connections).padStart(5),
      `${(f.malformed * 100).toFixed(0)}%`.padStart(9),
      Math.round(f.reqPerSec).toLocaleString('en-US').padStart(8),
      f.p50Ms.toFixed(1).padStart(7),
      f.p99Ms.toFixed(1).padStart(7),
      f.maxMs.toFixed(1).padStart(7),
      String(f.ok).padStart(7),
      String(f.rejected).padStart(9),
      String(f.wrong).padStart(5),
      String(f.fiveHundreds).padStart(4),
      String(f.lost).padStart(4),
    ].join(' '),
  );
  return [head, ...rows].join('\n');
}

/** The bar at 64 connections: malformed req/s within 15% of all-valid, p99 within 1.5×, nothing wrong, no 5xx, nothing lost. */
export function verdict(figures: ServeFigure[]): string {
  const valid = figures.find((f) => f.connections === 64 && f.malformed === 0);
  const bad = figures.find((f) => f.connections === 64 && f.malformed > 0);
  if (!valid || !bad) return '';
  const rate = bad.reqPerSec / valid.reqPerSec;
  const p99 = bad.p99Ms / valid.p99Ms;
  const clean = figures.every((f) => f.wrong === 0 && f.fiveHundreds === 0 && f.lost === 0);
  const pass = rate >= 0.85 && p99 <= 1.5 && clean;
  return `64 connections, 5% malformed vs all valid: req/s ×${rate.toFixed(2)} (bar ≥ 0.85), p99 ×${p99.toFixed(2)} (bar ≤ 1.5); every answer right, no 5xx, none lost: ${clean ? 'yes' : 'NO'} — ${pass ? 'PASS' : 'FAIL'}`;
}

/** Runs the bench; `words` may pick connection counts (c1, c16, c64). */
export async function run(words: string[] = []): Promise<ServeFigure[]> {
  const seconds = Number(process.env.GATEWISE_BENCH_SERVE_SECONDS) || 8;
  const extra = (process.env.GATEWISE_BENCH_SERVE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const picked = [1, 16, 64].filter((c) => !words.some((w) => /^c\d+$/.test(w)) || words.includes(`c${c}`));
  const rows = censusRequests(100);
  const given = process.env.GATEWISE_BENCH_SERVE_URL;
  const { url, child, checkpoint } = given ? { url: given, child: null, checkpoint: null } : await serveCensus(extra);
  const figures: ServeFigure[] = [];
  try {
    const what = checkpoint ? `census MMoE, ${path.relative(ROOT, checkpoint)}; gatewise serve ${extra.join(' ') || '(default flags)'}` : `the server at ${url}`;
    console.log(`serve bench — ${what}; ${seconds} s per run, autocannon in this process`);
    await once(url, 64, Math.min(2, seconds), rows, false); // warm-up
    for (const connections of picked) {
      for (const malformed of [false, true]) figures.push(await once(url, connections, seconds, rows, malformed));
    }
  } finally {
    child?.kill('SIGTERM');
    if (child) await new Promise((resolve) => child.once('exit', resolve));
  }
  console.log(formatServe(figures));
  const line = verdict(figures);
  if (line) console.log(line);
  return figures;
}
