/**
 * Serving over HTTP: a node:http handler parses a JSON body (one object, or { rows: [...] })
 * and awaits `predictor.score` per row. Concurrent requests over keep-alive connections get
 * the scores predict() gives and share forward passes; a bad field is a 400 naming it, and
 * the server goes on serving.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Adam, bceWithLogits, concat, defineSchema, EmbeddingTable, GatewiseError, MLP, OptimizerSet, Rng, SparseOptimizer, tidy } from '../lib';
import type { Batch } from '../lib/data/batches';
import { objectCollate, Prediction, Predictor } from '../lib/serve/predictor';

type Req = Record<string, unknown>;

const schema = defineSchema({
  fields: [
    { name: 'user', kind: 'sparse', hash: false },
    { name: 'item', kind: 'sparse' }, // hashed: item ids may be strings
    { name: 'age', kind: 'dense' },
    { name: 'click', kind: 'label' },
    { name: 'buy', kind: 'label' },
  ],
});

const users = new EmbeddingTable({ dim: 4, capacity: 256, seed: 1 });
const items = new EmbeddingTable({ dim: 4, capacity: 256, seed: 2 });
const model = new MLP(9, { hidden: [16], outFeatures: 2, dropout: 0.1, rng: new Rng(1) });
const collate = objectCollate(schema);
const forward = (b: Batch) => model.forward(concat([users.lookup(b.ids.user), items.lookup(b.ids.item), b.dense], 1));
const predictor = new Predictor<Req, Batch>({ model, alsoEval: [users, items], collate, forward, release: (b) => b.dispose(), tasks: ['click', 'buy'], maxBatch: 64, maxDelayMs: 5 });

function rows(seed: number, n: number): Req[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({ user: rng.int(30), item: `sku-${rng.int(50)}`, age: rng.uniform() * 2 - 1, click: rng.int(2), buy: rng.int(2) }));
}

/** The handler a service would write: parse, score each row, answer; errors are 400 (the request's fault) or 500. */
async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    let text = '';
    for await (const chunk of req) text += chunk;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      return reply(400, { error: `invalid JSON: ${(e as Error).message}` });
    }
    const batch = body !== null && typeof body === 'object' && Array.isArray((body as { rows?: unknown }).rows);
    const list = batch ? (body as { rows: Req[] }).rows : [body as Req];
    const scores = await Promise.all(list.map((r) => predictor.score(r)));
    reply(200, batch ? { scores } : scores[0]);
  } catch (e) {
    const code = e instanceof GatewiseError ? e.code : '';
    reply(code === 'ERR_GATEWISE_FORMAT' || code === 'ERR_GATEWISE_ARGUMENT' ? 400 : 500, { error: (e as Error).message });
  }
}

let server: http.Server;
let base = '';
const agents = Array.from({ length: 4 }, () => new http.Agent({ keepAlive: true, maxSockets: 16 }));

beforeAll(async () => {
  // A few training steps, so the scores are not those of the initial weights.
  const opt = new OptimizerSet([new SparseOptimizer([users, items]), new Adam(model.parameters(), { lr: 0.02 })]);
  for (let s = 0; s < 4; ++s) {
    tidy(() => {
      const b = collate(rows(s, 32));
      opt.zeroGrad();
      bceWithLogits(forward(b), b.labels).backward();
      opt.step();
    });
  }
  server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const a of agents) a.destroy();
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  await predictor.close();
  users.dispose();
  items.dispose();
});

function post(body: string, agent: http.Agent): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/score`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const close = (got: Prediction, want: Prediction) => {
  expect(Object.keys(got)).toEqual(['click', 'buy']);
  for (const k of ['click', 'buy']) expect(got[k]).toBeCloseTo(want[k], 6);
};

describe('Predictor behind node:http', () => {
  it('scores 64 concurrent keep-alive requests correctly in fewer batches than requests', async () => {
    const probe = rows(100, 64);
    const want = predictor.predict(probe);
    const sizes = [users.size, items.size];
    const before = predictor.stats;
    const replies = await Promise.all(probe.map((r, i) => post(JSON.stringify(r), agents[i % agents.length])));
    const after = predictor.stats;
    replies.forEach((r, i) => {
      expect(r.status).toBe(200);
      close(r.json as Prediction, want[i]);
    });
    expect(after.requests - before.requests).toBe(64);
    expect(after.batches - before.batches).toBeLessThan(32); // typically 3–5 with 64 connections and maxDelayMs 5
    expect(after.largestBatch).toBeGreaterThan(1);
    expect([users.size, items.size]).toEqual(sizes); // serving inserted nothing
    expect(model.training).toBe(true);
  });

  it('scores a { rows } body in one reply', async () => {
    const probe = rows(200, 5);
    const r = await post(JSON.stringify({ rows: probe }), agents[0]);
    expect(r.status).toBe(200);
    const { scores } = r.json as { scores: Prediction[] };
    expect(scores).toHaveLength(5);
    predictor.predict(probe).forEach((want, i) => close(scores[i], want));
  });

  it('answers a bad field with a 400 naming it, and keeps serving', async () => {
    const [good] = rows(300, 1);
    const bad = await post(JSON.stringify({ ...good, age: 'old' }), agents[1]);
    expect(bad).toEqual({ status: 400, json: { error: "request 0, field 'age': expected a number but found 'old'" } });
    const missing = await post(JSON.stringify({ rows: [good, { item: 'sku-1', age: 0 }] }), agents[1]);
    expect(missing).toEqual({ status: 400, json: { error: "request 0, field 'user': missing value (the field has no default)" } });
    expect((await post('{"user": 1,', agents[1])).status).toBe(400);
    expect(await post('[1, 2]', agents[1])).toEqual({ status: 400, json: { error: 'Expected a plain object for request 0 but received [1, 2] of type array' } });

    // Good requests sent together with bad ones are still scored, then the server serves on.
    const mixed = await Promise.all([post(JSON.stringify(good), agents[2]), post(JSON.stringify({ ...good, user: 'x' }), agents[3]), post(JSON.stringify(good), agents[2])]);
    expect(mixed.map((r) => r.status)).toEqual([200, 400, 200]);
    expect((mixed[1].json as { error: string }).error).toBe("request 0, field 'user': expected an int64 id but found 'x'");
    const after = await post(JSON.stringify(good), agents[0]);
    expect(after.status).toBe(200);
    close(after.json as Prediction, predictor.predict([good])[0]);
  });
});
