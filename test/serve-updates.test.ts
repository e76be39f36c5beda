/**
 * Hot updates under load: a server on model A (two worker threads) takes model B's update from
 * its watched updates folder while clients keep posting. Nothing fails and nothing is lost;
 * every answer is model A's or model B's score for that request — bit for bit where batches
 * are of one request (the same forward pass as a lone predict()), to float32 rounding in
 * batches of several — as its `x-model-step` header says; after the update is applied every
 * answer is B's. A corrupt update (in the folder, or posted to the admin port) is refused
 * with a log line and B keeps serving; a good one posted to the admin port is applied.
 * Answers given before the update file appeared are A's; requests sent after it was applied
 * get B's (a request waiting in a batch queue meanwhile may get either).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobPredictor } from '../lib/serve/job-predictor';
import type { Prediction } from '../lib/serve/predictor';
import { serve, Server } from '../lib/serve/http/server';
import { loadTrainConfig } from '../lib/train/config';
import { clickRequests, parsePrometheus, removeServeJob, request, sampleValue, ServeJob, trainServeJob } from './serve-fixture';

let job: ServeJob;
const probe = clickRequests(24, 9);
/** Scores of the probe by models A and B, each request alone and all in one batch. */
let want: Record<'A' | 'B', { alone: Prediction[]; batch: Prediction[] }>;
const servers: Server[] = [];

beforeAll(async () => {
  job = await trainServeJob('gw-serve-upd-');
  const copy = jobPredictor(loadTrainConfig(job.configFile), job.checkpointA);
  const scores = () => ({ alone: probe.map((p) => copy.predictor.predict([p])[0]), batch: copy.predictor.predict(probe) });
  const a = scores();
  copy.update(job.updateB);
  want = { A: a, B: scores() };
  await copy.dispose();
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  removeServeJob(job);
});

interface Answer {
  probe: number;
  sentAt: number;
  answeredAt: number;
  step: number;
  prediction: Prediction;
}

/** `clients` keep-alive clients posting the probe requests in turn until `stop` is set; every reply must be a 200. */
function load(url: string, clients: number, stop: { now: boolean }): Promise<Answer[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const answers: Answer[] = [];
  const client = async (c: number) => {
    for (let k = c; !stop.now; k += clients) {
      const i = k % probe.length;
      const sentAt = performance.now();
      const r = await request(`${url}/predict`, { body: JSON.stringify(probe[i]), agent });
      if (r.status !== 200) throw new Error(`status ${r.status}: ${r.text}`);
      answers.push({ probe: i, sentAt, answeredAt: performance.now(), step: Number(r.headers['x-model-step']), prediction: JSON.parse(r.text) });
    }
  };
  return Promise.all(Array.from({ length: clients }, (_, c) => client(c))).then(() => {
    agent.destroy();
    return answers;
  });
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('gatewise serve: hot updates', () => {
  it.each([
    { maxBatch: 1, exact: true },
    { maxBatch: 16, exact: false },
  ])('apply between batches under load, nothing lost, every answer the old or the new model (max batch $maxBatch)', async ({ maxBatch, exact }) => {
    const updates = fs.mkdtempSync(path.join(job.dir, 'updates-'));
    const logs: string[] = [];
    const s = await serve({ config: job.configFile, checkpoint: job.checkpointA, port: 0, workers: 2, maxBatch, maxDelayMs: 1, updates, watchIntervalMs: 20, log: (l) => logs.push(l) });
    servers.push(s);
    const stop = { now: false };
    const running = load(s.url, 12, stop);
    await wait(300);
    // As the job writes it: a temporary name, then a rename.
    const target = path.join(updates, path.basename(job.updateB));
    fs.copyFileSync(job.updateB, `${target}.tmp-copy`);
    const copiedAt = performance.now();
    fs.renameSync(`${target}.tmp-copy`, target);
    while (s.step !== job.stepB) await wait(5);
    const appliedAt = performance.now();
    await wait(300);
    stop.now = true;
    const answers = await running;

    const steps = new Set(answers.map((a) => a.step));
    expect([...steps].sort((x, y) => x - y)).toEqual([job.stepA, job.stepB]);
    for (const a of answers) {
      const model = a.step === job.stepA ? want.A : want.B;
      const other = a.step === job.stepA ? want.B : want.A;
      for (const task of ['click', 'dwell']) {
        if (exact) expect(a.prediction[task]).toBe(model.alone[a.probe][task]);
        else expect(Math.abs(a.prediction[task] - model.batch[a.probe][task])).toBeLessThan(1e-5);
        expect(Math.abs(a.prediction[task] - other.batch[a.probe][task])).toBeGreaterThan(1e-4); // and not the other model's
      }
      // Answered before the update existed: A. Sent after it was applied: B. (A request queued meanwhile gets either.)
      if (a.answeredAt < copiedAt) expect(a.step).toBe(job.stepA);
      if (a.sentAt > appliedAt) expect(a.step).toBe(job.stepB);
    }
    expect(answers.filter((a) => a.answeredAt < copiedAt).length).toBeGreaterThan(50);
    expect(answers.filter((a) => a.sentAt > appliedAt).length).toBeGreaterThan(50);
    const applied = logs.filter((l) => l.includes('applied update'));
    expect(applied).toHaveLength(1);
    expect(applied[0]).toMatch(new RegExp(`^gatewise serve: applied update ${target}: step ${job.stepB} \\(full\\), \\d+ table rows$`));

    // A corrupt update: refused, logged, B keeps serving.
    const bytes = fs.readFileSync(job.updateB);
    bytes[bytes.length - 10] ^= 0xff;
    const corrupt = path.join(updates, `update-${String(job.stepB + 100).padStart(9, '0')}.gwup`);
    fs.writeFileSync(corrupt, bytes);
    while (!logs.some((l) => l.includes('refused'))) await wait(5);
    expect(logs.find((l) => l.includes('refused'))).toMatch(new RegExp(`^gatewise serve: refused update ${corrupt}: .*; the previous model keeps serving$`));
    expect(s.step).toBe(job.stepB);
    const after = await request(`${s.url}/predict`, { body: JSON.stringify(probe[0]) });
    expect(after.status).toBe(200);
    expect(Math.abs(JSON.parse(after.text).click - want.B.alone[0].click)).toBeLessThan(1e-6);
    const { samples } = parsePrometheus((await request(`${s.url}/metrics`)).text);
    expect(sampleValue(samples, 'gatewise_updates_total', { result: 'applied' })).toBe(1);
    expect(sampleValue(samples, 'gatewise_updates_total', { result: 'refused' })).toBe(1);
    expect(sampleValue(samples, 'gatewise_model_step')).toBe(job.stepB);
    expect(sampleValue(samples, 'gatewise_http_requests_total', { route: '/predict', status: '200' })).toBe(answers.length + 1);
  }, 60_000);

  it('POST /admin/update on the admin port: a corrupt update is a 400 and changes nothing; a good one is applied', async () => {
    const logs: string[] = [];
    const s = await serve({ config: job.configFile, checkpoint: job.checkpointA, port: 0, adminPort: 0, workers: 1, updates: null, log: (l) => logs.push(l) });
    servers.push(s);
    expect(s.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const bytes = fs.readFileSync(job.updateB);
    const bad = Uint8Array.from(bytes.subarray(0, bytes.length - 100));
    const refused = await request(`${s.adminUrl}/admin/update`, { body: bad });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.text).error).toMatch(/serving update/);
    expect(s.step).toBe(job.stepA);
    const ok = await request(`${s.adminUrl}/admin/update`, { body: Uint8Array.from(bytes) });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toMatchObject({ step: job.stepB, sinceStep: null });
    const r = await request(`${s.url}/predict`, { body: JSON.stringify(probe[3]) });
    expect(r.headers['x-model-step']).toBe(String(job.stepB));
    expect(JSON.parse(r.text).click).toBe(want.B.alone[3].click);
    expect((await request(`${s.url}/admin/update`, { body: Uint8Array.from(bytes) })).status).toBe(404); // not on the public port
    expect(logs).toEqual([expect.stringMatching(/^gatewise serve: applied update from POST \/admin\/update: step \d+ \(full\)/)]);
  }, 30_000);
});
