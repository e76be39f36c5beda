/**
 * For the `gatewise serve` tests: a small click-log job (the MMoE of fixtures/tabular-data)
 * trained twice in a temp dir — model A (a checkpoint) and model B (another seed, more steps,
 * whose one full serving update moves a server from A to B) — sample requests, an HTTP client,
 * and a strict parser of the Prometheus text format.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../lib';
import { parseTrainConfig, TrainConfig } from '../lib/train/config';
import { runTrainJob } from '../lib/train/job';
import { clickConfig, writeClickLog } from './fixtures/tabular-data';

export interface ServeJob {
  dir: string;
  /** The config file (model A's: its output dir is out-a). */
  configFile: string;
  config: TrainConfig;
  checkpointA: string;
  stepA: number;
  /** Model B's one full update (its step is past A's). */
  updateB: string;
  stepB: number;
}

const quiet = { progress: { mode: 'none' as const }, log: () => {} };

/** Writes the click log and config, trains A and B (a few seconds). */
export async function trainServeJob(prefix: string): Promise<ServeJob> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  writeClickLog(dir, 2000);
  const config = clickConfig('mmoe', { train: { epochs: 1, batchSize: 128, shuffleBuffer: 0 }, output: { dir: 'out-a', report: false } });
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const a = await runTrainJob(parseTrainConfig(config, dir, 'clicks'), quiet);
  const b = await runTrainJob(parseTrainConfig({ ...config, seed: 11, train: { ...config.train, epochs: 3, updateEvery: 1_000_000 }, output: { dir: 'out-b', report: false } }, dir, 'clicks'), quiet);
  if (b.updates.length !== 1 || b.fit.steps <= a.fit.steps) throw new Error(`expected one update past step ${a.fit.steps}, got ${b.updates.length} at ${b.fit.steps}`);
  return { dir, configFile, config, checkpointA: a.checkpoint, stepA: a.fit.steps, updateB: b.updates[0], stepB: b.fit.steps };
}

/** Removes the job's temp dir. */
export function removeServeJob(job: ServeJob | undefined): void {
  if (job) fs.rmSync(job.dir, { recursive: true, force: true });
}

/** Requests as a client sends them (the labels left out). */
export function clickRequests(n: number, seed = 1): Record<string, unknown>[] {
  const rng = new Rng(seed);
  const scenes = ['feed', 'search', 'detail'];
  return Array.from({ length: n }, () => ({
    user: `u${rng.int(200)}`,
    item: `i${rng.int(100)}`,
    tags: `t${rng.int(20)}|t${rng.int(20)}`,
    hist: `i${rng.int(100)}|i${rng.int(100)}`,
    price: rng.int(1000),
    scene: scenes[rng.int(3)],
  }));
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request; rejects with the socket's error (ECONNREFUSED, ECONNRESET, …) if there is no answer. */
export function request(url: string, options: { method?: string; body?: string | Uint8Array; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = options.body;
    const headers = body === undefined ? {} : { 'content-type': typeof body === 'string' ? 'application/json' : 'application/octet-stream', 'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.length) };
    const req = http.request(url, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), agent: options.agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A sample: the metric's name, its labels, its value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text exposition format (version 0.0.4) strictly: every line is a
 * `# HELP name text`, a `# TYPE name counter|gauge|histogram|summary|untyped`, or a sample
 * `name{label="value",…} number` of a family declared by a TYPE line before it (histograms:
 * name_bucket with an `le` label, name_sum, name_count). Throws naming the line otherwise.
 */
export function parsePrometheus(text: string): { types: Record<string, string>; samples: Sample[] } {
  const types: Record<string, string> = {};
  const samples: Sample[] = [];
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sample = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`);
  const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/;
  const family = (name: string) => {
    if (types[name]) return name;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : null;
      if (base && (types[base] === 'histogram' || types[base] === 'summary')) return base;
    }
    return null;
  };
  text.split('\n').forEach((line, i) => {
    const where = `line ${i + 1} '${line}'`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`).exec(line);
      if (!m) throw new Error(`${where}: not a HELP or TYPE comment`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3])) throw new Error(`${where}: unknown type`);
        if (types[m[2]]) throw new Error(`${where}: a second TYPE for ${m[2]}`);
        types[m[2]] = m[3];
      }
      return;
    }
    const m = sample.exec(line);
    if (!m) throw new Error(`${where}: not a sample`);
    if (!family(m[1])) throw new Error(`${where}: no TYPE line before it`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest.length) {
      const l = label.exec(rest);
      if (!l) throw new Error(`${where}: bad labels`);
      labels[l[1]] = l[2];
      rest = rest.slice(l[0].length);
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : m[3] === 'NaN' ? NaN : Number(m[3]);
    if (m[3] !== 'NaN' && Number.isNaN(value)) throw new Error(`${where}: bad value`);
    samples.push({ name: m[1], labels, value });
  });
  return { types, samples };
}

/** The value of the one sample with this name and these labels (throws if there is not exactly one). */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`expected one sample ${name}${JSON.stringify(labels)} but found ${found.length}`);
  return found[0].value;
}
