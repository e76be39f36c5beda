/**
 * `serve()` over HTTP on a small MMoE: POST /predict scores one object or an array as the
 * job's predictor does, on the main thread and in worker threads; a malformed request is a
 * 400 naming the object and the field, checked before it joins a batch (no batch fails, the
 * good requests beside it are scored); limits (body bytes, objects, queue) and the per-request
 * timeout answer 413 / 503; a model that cannot score answers 500 after a bounded retry;
 * health, readiness, 404 and 405; /metrics is valid Prometheus text
 * whose counts match what was sent; the command line's flags are named in its errors.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../lib';
import { main } from '../lib/cli/main';
import { jobPredictor, JobPredictor } from '../lib/serve/job-predictor';
import type { Prediction } from '../lib/serve/predictor';
import { serve, Server } from '../lib/serve/http/server';
import { loadTrainConfig } from '../lib/train/config';
import { clickRequests, parsePrometheus, removeServeJob, request, sampleValue, ServeJob, trainServeJob } from './serve-fixture';

let job: ServeJob;
let local: JobPredictor;
const servers: Server[] = [];
const quiet = { log: () => {}, updates: null };

beforeAll(async () => {
  job = await trainServeJob('gw-serve-http-');
  local = jobPredictor(loadTrainConfig(job.configFile), job.checkpointA);
}, 60_000);

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await local?.dispose();
  removeServeJob(job);
});

async function start(options: Partial<Parameters<typeof serve>[0]> = {}): Promise<Server> {
  const s = await serve({ config: job.configFile, checkpoint: job.checkpointA, port: 0, ...quiet, ...options });
  servers.push(s);
  return s;
}

const closeTo = (got: Prediction, want: Prediction) => {
  expect(Object.keys(got)).toEqual(['click', 'dwell']);
  for (const k of ['click', 'dwell']) expect(Math.abs(got[k] - want[k])).toBeLessThan(1e-6);
};

describe('gatewise serve: POST /predict', () => {
  it.each([0, 1])('scores one object and an array as the job predictor does (workers %i)', async (workers) => {
    const s = await start({ workers, maxDelayMs: 2 });
    const probe = clickRequests(40, 5);
    const want = local.predictor.predict(probe);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const replies = await Promise.all(probe.map((p) => request(`${s.url}/predict`, { body: JSON.stringify(p), agent })));
    replies.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-model-step']).toBe(String(job.stepA));
      closeTo(JSON.parse(r.text), want[i]);
    });
    const many = await request(`${s.url}/predict`, { body: JSON.stringify(probe.slice(0, 7)), agent });
    expect(many.status).toBe(200);
    const scores = JSON.parse(many.text) as Prediction[];
    expect(scores).toHaveLength(7);
    scores.forEach((p, i) => closeTo(p, want[i]));
    agent.destroy();
  }, 30_000);

  it('answers a malformed request 400 naming the field before it joins a batch; the good ones beside it are scored', async () => {
    const s = await start({ workers: 0, maxDelayMs: 5 });
    const probe = clickRequests(60, 6);
    const want = local.predictor.predict(probe);
    const bad = (i: number) => (i % 5 === 4 ? { ...probe[i], price: 'cheap' } : i % 5 === 2 ? { ...probe[i], scene: ['feed'] } : null);
    const replies = await Promise.all(probe.map((p, i) => request(`${s.url}/predict`, { body: JSON.stringify(bad(i) ?? p) })));
    replies.forEach((r, i) => {
      if (i % 5 === 4) expect(r).toMatchObject({ status: 400, text: JSON.stringify({ error: "body, field 'price': expected a number but found 'cheap'" }) });
      else if (i % 5 === 2) expect(r).toMatchObject({ status: 400, text: JSON.stringify({ error: `body, field 'scene': expected a domain value but found ["feed"]` }) });
      else {
        expect(r.status).toBe(200);
        closeTo(JSON.parse(r.text), want[i]);
      }
    });
    // An array is all or nothing: the bad object is named by its position.
    const arr = await request(`${s.url}/predict`, { body: JSON.stringify([probe[0], { ...probe[1], user: undefined }]) });
    expect(arr).toMatchObject({ status: 400, text: JSON.stringify({ error: "body[1], field 'user': missing value (the field has no default)" }) });
    expect(await request(`${s.url}/predict`, { body: '{"user": 1,' })).toMatchObject({ status: 400 });
    expect(JSON.parse((await request(`${s.url}/predict`, { body: '{"user": 1,' })).text).error).toMatch(/^invalid JSON: /);
    expect(await request(`${s.url}/predict`, { body: '[]' })).toMatchObject({ status: 400, text: JSON.stringify({ error: 'expected an object or a non-empty array of objects but found an empty array' }) });
    expect(await request(`${s.url}/predict`, { body: '42' })).toMatchObject({ status: 400, text: JSON.stringify({ error: 'Expected a plain object for body but received 42 of type number' }) });
    const { samples } = parsePrometheus((await request(`${s.url}/metrics`)).text);
    expect(sampleValue(samples, 'gatewise_batch_failures_total')).toBe(0); // no batch ever failed
    expect(sampleValue(samples, 'gatewise_http_requests_total', { route: '/predict', status: '400' })).toBe(24 + 5);
    expect(sampleValue(samples, 'gatewise_http_requests_total', { route: '/predict', status: '200' })).toBe(36);
  }, 30_000);

  it('limits: body bytes and objects (413), queued rows (503), the per-request timeout (503); the server serves on', async () => {
    const s = await start({ workers: 0, maxBodyBytes: 2000, maxRows: 5, maxQueue: 6, maxDelayMs: 100 });
    const [p] = clickRequests(1, 7);
    const big = await request(`${s.url}/predict`, { body: JSON.stringify({ ...p, pad: 'x'.repeat(3000) }) });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.text).error).toMatch(/the limit is 2000/);
    expect(await request(`${s.url}/predict`, { body: JSON.stringify(Array(6).fill(p)) })).toMatchObject({ status: 413, text: JSON.stringify({ error: 'the body holds 6 objects; the limit is 5' }) });
    // Chunked, with no length up front: cut off once past the limit.
    const chunked = await new Promise<{ status: number; text: string; connection?: string }>((resolve, reject) => {
      const req = http.request(`${s.url}/predict`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text, connection: res.headers.connection }));
      });
      req.on('error', reject);
      for (let i = 0; i < 6; ++i) req.write('x'.repeat(500));
      req.end();
    });
    expect(chunked).toEqual({ status: 413, text: JSON.stringify({ error: 'the body is over the limit of 2000 bytes' }), connection: 'close' });
    // Five rows wait 100 ms for a batch; two more would pass the queue's 6.
    const first = request(`${s.url}/predict`, { body: JSON.stringify(Array(5).fill(p)) });
    await new Promise((r) => setTimeout(r, 20));
    const over = await request(`${s.url}/predict`, { body: JSON.stringify([p, p]) });
    expect(over.status).toBe(503);
    expect(over.headers['retry-after']).toBe('1');
    expect(JSON.parse(over.text).error).toBe('overloaded: 5 rows are waiting (the limit is 6)');
    expect((await first).status).toBe(200);

    const slow = await start({ workers: 0, maxDelayMs: 300, timeoutMs: 30 });
    const late = await request(`${slow.url}/predict`, { body: JSON.stringify(p) });
    expect(late).toMatchObject({ status: 503, text: JSON.stringify({ error: 'timed out: no answer within 30 ms' }) });
    expect((await request(`${s.url}/predict`, { body: JSON.stringify(p) })).status).toBe(200);
  }, 30_000);

  it('with workers, the kernels run on one thread each while serving; the thread count is put back on close', async () => {
    const before = backend().numThreads;
    const s = await start({ workers: 1 });
    expect(backend().numThreads).toBe(1);
    await s.close();
    expect(backend().numThreads).toBe(before);
    const own = await start({ workers: 0 });
    expect(backend().numThreads).toBe(before); // workers 0: left as it is
    await own.close();
  });

  it('health, readiness, 404 and 405', async () => {
    const s = await start({ workers: 0 });
    expect(await request(`${s.url}/healthz`)).toMatchObject({ status: 200, text: '{"status":"ok"}' });
    expect(await request(`${s.url}/readyz`)).toMatchObject({ status: 200, text: JSON.stringify({ status: 'ready', step: job.stepA }) });
    expect((await request(`${s.url}/nope`)).status).toBe(404);
    expect(await request(`${s.url}/predict`)).toMatchObject({ status: 405, text: JSON.stringify({ error: '/predict takes POST, not GET' }) });
    expect((await request(`${s.url}/metrics`, { body: '{}' })).status).toBe(405);
  });
});

describe('gatewise serve: a model that cannot score', () => {
  it('answers 500 for a failed batch after a bounded retry (in halves, not one run per request), logs once, serves on', async () => {
    // Quantile buckets on the price, and no checkpoint to bring their boundaries: every batch fails.
    const config = JSON.parse(fs.readFileSync(job.configFile, 'utf8'));
    config.schema.fields.find((f: { name: string }) => f.name === 'price').bucketize = { quantiles: 8 };
    const file = path.join(job.dir, 'unfitted.json');
    fs.writeFileSync(file, JSON.stringify(config));
    const logs: string[] = [];
    const s = await start({ config: file, checkpoint: null, workers: 0, maxBatch: 64, maxDelayMs: 500, log: (l) => logs.push(l) });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const replies = await Promise.all(clickRequests(64, 11).map((p) => request(`${s.url}/predict`, { body: JSON.stringify(p), agent })));
    agent.destroy();
    for (const r of replies) {
      expect(r.status).toBe(500);
      expect(JSON.parse(r.text).error).toMatch(/the quantile boundaries of 'price' are not fitted/);
    }
    const { samples } = parsePrometheus((await request(`${s.url}/metrics`)).text);
    expect(sampleValue(samples, 'gatewise_batch_rows_count')).toBe(1 + 24); // one batch of 64, then the budget of 4·log₂ 64 re-runs
    expect(sampleValue(samples, 'gatewise_batch_failures_total')).toBe(25);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^gatewise serve: answered 500: FormatError: schema\.fields\[4\]\.bucketize: the quantile boundaries of 'price' are not fitted/);
    expect((await request(`${s.url}/healthz`)).status).toBe(200);
  }, 30_000);
});

describe('gatewise serve: GET /metrics', () => {
  it('is valid Prometheus text: request counts by status, the latency histogram, batch rows, the model step and update age', async () => {
    const s = await start({ workers: 1, maxDelayMs: 2 });
    const probe = clickRequests(30, 8);
    await Promise.all(probe.map((p, i) => request(`${s.url}/predict`, { body: JSON.stringify(i % 10 === 0 ? { ...p, price: 'x' } : p) })));
    await request(`${s.url}/nope`);
    const r = await request(`${s.url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(r.text);
    expect(types).toMatchObject({
      gatewise_http_requests_total: 'counter',
      gatewise_predict_duration_seconds: 'histogram',
      gatewise_batch_rows: 'histogram',
      gatewise_model_step: 'gauge',
      gatewise_model_update_age_seconds: 'gauge',
      gatewise_updates_total: 'counter',
    });
    expect(sampleValue(samples, 'gatewise_http_requests_total', { route: '/predict', status: '200' })).toBe(27);
    expect(sampleValue(samples, 'gatewise_http_requests_total', { route: '/predict', status: '400' })).toBe(3);
    expect(sampleValue(samples, 'gatewise_http_requests_total', { route: 'other', status: '404' })).toBe(1);
    // The histograms: buckets cumulative, +Inf equal to the count.
    for (const name of ['gatewise_predict_duration_seconds', 'gatewise_batch_rows']) {
      const buckets = samples.filter((x) => x.name === `${name}_bucket`);
      expect(buckets.length).toBeGreaterThan(5);
      const le = (i: number) => (buckets[i].labels.le === '+Inf' ? Infinity : Number(buckets[i].labels.le));
      for (let i = 1; i < buckets.length; ++i) {
        expect(le(i)).toBeGreaterThan(le(i - 1));
        expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
      }
      expect(buckets.at(-1)!.labels.le).toBe('+Inf');
      expect(buckets.at(-1)!.value).toBe(sampleValue(samples, `${name}_count`));
    }
    expect(sampleValue(samples, 'gatewise_predict_duration_seconds_count')).toBe(30);
    expect(sampleValue(samples, 'gatewise_batch_rows_sum')).toBe(27); // only the checked requests reach a batch
    expect(sampleValue(samples, 'gatewise_batch_rows_count')).toBeLessThan(27);
    expect(sampleValue(samples, 'gatewise_model_step')).toBe(job.stepA);
    expect(sampleValue(samples, 'gatewise_model_update_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(sampleValue(samples, 'gatewise_model_update_age_seconds')).toBeLessThan(60);
  }, 30_000);
});

describe('gatewise serve: the command line', () => {
  it('names the flag of a bad value', async () => {
    const run = (args: string[]) => main(['serve', '--config', job.configFile, ...args], () => {});
    await expect(run(['--port', 'abc'])).rejects.toThrow("Expected an integer from 0 to 65535 for --port but received 'abc' of type string");
    await expect(run(['--max-batch', '0'])).rejects.toThrow('Expected an integer from 1 to 65536 for --max-batch but received 0 of type number');
    await expect(run(['--fresh', '--checkpoint', job.checkpointA])).rejects.toThrow('for --checkpoint');
    await expect(main(['serve'], () => {})).rejects.toThrow('Expected a config file (--config <file>) for --config');
  });
});
