/**
 * `serve()`: a config job's model behind an HTTP server (node:http), as `gatewise serve` runs it.
 *
 *   POST /predict   one object → one `{ task: score }`; an array → an array of them. Each object
 *                   is checked on arrival (a malformed one: 400 naming it and the field), then
 *                   micro-batched with others on the least-loaded model copy. The answer's
 *                   `x-model-step` header is the training step of the weights that scored it.
 *   GET /healthz    200 while the process runs; GET /readyz 200 while it takes requests (503
 *                   once shutting down, or with no model copy left).
 *   GET /metrics    Prometheus text (metrics.ts).
 *   admin port:     POST /admin/update with an update's bytes: applied between batches, in order.
 *
 * Limits: body bytes and objects per request (413), rows queued (503), a per-request timeout
 * (503). Updates from the job's updates folder are applied as they appear (watch-updates.ts);
 * a corrupt one is refused with a log line and the model keeps serving. `close()` shuts down
 * gracefully: it stops accepting connections, answers every request already received (keep-
 * alive connections are told to close), then stops the model copies.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { backend, setNumThreads } from '../../backend';
import { readCheckpointInfo } from '../../checkpoint/checkpoint';
import { JobDataState, restoreJobDataState } from '../../train/job';
import { AppliedUpdate } from '../update';
import { Lane, LaneSpec, LocalLane, WorkerLane } from './lanes';
import { ServeMetrics } from './metrics';
import { resolveServeOptions, ResolvedServeOptions, ServeOptions } from './options';
import { ScoringPool } from './pool';
import { HttpError, parseRequest, readBody } from './requests';
import { UpdateWatcher } from './watch-updates';

/** A running server, from {@link serve}. */
export interface Server {
  /** The prediction API's base URL, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** The port the prediction API listens on. */
  readonly port: number;
  /** The admin API's base URL, or null without an admin port. */
  readonly adminUrl: string | null;
  /** The training step of the weights served. */
  readonly step: number;
  /** The server's Prometheus metrics (served at GET /metrics). */
  readonly metrics: ServeMetrics;
  /** Applies an update (a file written by the job, or its bytes) to every model copy, between batches, after those before it. */
  update(update: string | Uint8Array): Promise<AppliedUpdate>;
  /** Shuts down gracefully (see the file comment); resolves once everything has stopped. */
  close(): Promise<void>;
  /** Resolves once the server has shut down (by close(), however called). */
  readonly closed: Promise<void>;
}

const JSON_TYPE = { 'content-type': 'application/json' };

let threadHolders = 0;
let threadsBefore = 0;

/** Sets the kernels' threads (the process's pool) while serving; the returned function lets go, the last server to close puts back what was there before the first. */
function holdThreads(n: number): () => void {
  if (threadHolders++ === 0) threadsBefore = backend().numThreads;
  setNumThreads(n);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--threadHolders === 0) setNumThreads(threadsBefore);
  };
}

/** The checkpoint's data state (domain vocabulary, numeric treatment) in the schema requests are checked with, as in the model copies'. */
function restoreDataState(o: ResolvedServeOptions): void {
  if (o.checkpoint === null) return;
  restoreJobDataState(o.resolved, readCheckpointInfo(o.checkpoint).config as Partial<JobDataState> | null, `checkpoint ${o.checkpoint}`);
}

async function startLanes(o: ResolvedServeOptions): Promise<Lane[]> {
  const spec: LaneSpec = { config: o.config, checkpoint: o.checkpoint, maxBatch: o.maxBatch };
  if (o.workers === 0) return [new LocalLane(o.resolved, spec)];
  const started = await Promise.allSettled(Array.from({ length: o.workers }, (_, i) => WorkerLane.start(`worker ${i}`, spec)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<WorkerLane>).value);
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Starts serving (see the file comment); resolves once the model copies are loaded and the ports listen. */
export async function serve(options: ServeOptions, nameOf?: Parameters<typeof resolveServeOptions>[1]): Promise<Server> {
  const o = resolveServeOptions(options, nameOf);
  restoreDataState(o);
  const restoreThreads = o.threads === null ? () => {} : holdThreads(o.threads);
  let lanes: Lane[];
  try {
    lanes = await startLanes(o);
  } catch (e) {
    restoreThreads();
    throw e;
  }
  const metrics = new ServeMetrics({ step: () => pool.step, queued: () => pool.pending });
  const pool = new ScoringPool(lanes, { maxBatch: o.maxBatch, maxDelayMs: o.maxDelayMs, maxQueue: o.maxQueue, onRun: (rows, failed) => metrics.forwardCall(rows, failed) });
  const schema = o.resolved.schema;
  let draining = false;

  const reply = (res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = JSON_TYPE) => {
    if (res.headersSent || res.destroyed) return;
    if (draining) headers = { ...headers, connection: 'close' };
    res.writeHead(status, headers);
    res.end(body);
  };
  // Server errors are logged at most once a second (a failing model fails every batch).
  let loggedAt = -Infinity;
  let unlogged = 0;
  const error = (res: http.ServerResponse, e: unknown) => {
    const status = e instanceof HttpError ? e.status : 500;
    if (status >= 500 && !(e instanceof HttpError)) {
      if (performance.now() - loggedAt < 1000) unlogged += 1;
      else {
        o.log(`gatewise serve: answered 500${unlogged ? ` (and ${unlogged} more since the last line)` : ''}: ${(e as Error).stack ?? e}`);
        loggedAt = performance.now();
        unlogged = 0;
      }
    }
    // Past a 413's limit the body is dropped unread: the connection is closed after the answer.
    const headers = status === 503 ? { ...JSON_TYPE, 'retry-after': '1' } : status === 413 ? { ...JSON_TYPE, connection: 'close' } : JSON_TYPE;
    reply(res, status, JSON.stringify({ error: (e as Error).message }), headers);
  };

  const applyUpdate = async (bytes: Uint8Array, source: string): Promise<AppliedUpdate> => {
    try {
      const applied = await pool.update(bytes);
      metrics.update(true);
      const rows = Object.values(applied.rows).reduce((a, b) => a + b, 0);
      o.log(`gatewise serve: applied update ${source}: step ${applied.step}${applied.sinceStep === null ? ' (full)' : ` (since step ${applied.sinceStep})`}, ${rows} table rows`);
      return applied;
    } catch (e) {
      metrics.update(false);
      throw e;
    }
  };

  async function predict(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const timer = setTimeout(() => error(res, new HttpError(503, `timed out: no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
    try {
      const request = parseRequest((await readBody(req, o.maxBodyBytes)).toString('utf8'), schema, o.maxRows);
      const { predictions, step } = await pool.score(request);
      reply(res, 200, JSON.stringify(request.single ? predictions[0] : predictions), { ...JSON_TYPE, 'x-model-step': String(step) });
    } catch (e) {
      error(res, e);
    } finally {
      clearTimeout(timer);
    }
  }

  const routes: Record<string, { method: string; run: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void> }> = {
    '/predict': { method: 'POST', run: predict },
    '/healthz': { method: 'GET', run: (_q, res) => reply(res, 200, JSON.stringify({ status: 'ok' })) },
    '/readyz': {
      method: 'GET',
      run: (_q, res) => {
        const ready = !draining && pool.live > 0;
        reply(res, ready ? 200 : 503, JSON.stringify({ status: ready ? 'ready' : draining ? 'shutting down' : 'no model copy running', step: pool.step }));
      },
    },
    '/metrics': { method: 'GET', run: async (_q, res) => reply(res, 200, await metrics.text(), { 'content-type': metrics.contentType }) },
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const route = routes[path];
    const done = metrics.started(route ? path : 'other');
    res.once('close', () => done(res.writableFinished ? res.statusCode : 499)); // 499: the client left first
    if (!route) return error(res, new HttpError(404, `no route ${path}; the routes are POST /predict, GET /healthz, /readyz, /metrics`));
    if (req.method !== route.method) return error(res, new HttpError(405, `${path} takes ${route.method}, not ${req.method}`));
    Promise.resolve(route.run(req, res)).catch((e) => error(res, e));
  });
  const admin = o.adminPort === null
    ? null
    : http.createServer((req, res) => {
        const path = (req.url ?? '/').split('?', 1)[0];
        if (path !== '/admin/update') return error(res, new HttpError(404, `no route ${path}; the admin route is POST /admin/update`));
        if (req.method !== 'POST') return error(res, new HttpError(405, `/admin/update takes POST, not ${req.method}`));
        readBody(req, o.maxUpdateBytes)
          .then((bytes) => applyUpdate(bytes, 'from POST /admin/update'))
          .then(
            ({ step, sinceStep, rows }) => reply(res, 200, JSON.stringify({ step, sinceStep, rows })),
            (e) => error(res, e instanceof HttpError ? e : new HttpError(400, (e as Error).message)),
          );
      });

  // Updates already in the folder are applied before the first request is taken.
  const watcher = o.updates === null
    ? null
    : new UpdateWatcher(o.updates, {
        apply: async (file) => void (await applyUpdate(fs.readFileSync(file), file)),
        afterStep: pool.step,
        intervalMs: o.watchIntervalMs,
        log: o.log,
      });
  let port: number;
  let adminPort: number | null = null;
  try {
    await watcher?.settled();
    port = await listen(server, o.port, o.host);
    if (admin) adminPort = await listen(admin, o.adminPort!, o.adminHost);
  } catch (e) {
    server.close();
    await watcher?.close();
    await pool.close();
    restoreThreads();
    throw e;
  }

  let resolveClosed: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let closing: Promise<void> | null = null;

  /** Stops accepting, lets keep-alive clients send a last request, waits for every answer, cuts what is left at the deadline. */
  async function drain(s: http.Server): Promise<void> {
    // net.Server's close stops accepting without http.Server's immediate cut of idle keep-alive connections.
    const gone = new Promise<void>((resolve) => net.Server.prototype.close.call(s, () => resolve()));
    const t0 = Date.now();
    const sweep = setInterval(() => {
      const waited = Date.now() - t0;
      if (waited >= o.shutdownTimeoutMs) s.closeAllConnections();
      else if (waited >= o.drainIdleMs) s.closeIdleConnections();
    }, Math.max(10, Math.min(50, o.drainIdleMs)));
    await gone;
    clearInterval(sweep);
  }

  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      o.log(`gatewise serve: shutting down; answering ${pool.pending} queued rows first`);
      await watcher?.close();
      await Promise.all([drain(server), admin ? drain(admin) : undefined]);
      await pool.close();
      restoreThreads();
      o.log('gatewise serve: stopped');
      resolveClosed();
    })();
    return closing;
  };

  return {
    url: urlOf(o.host, port),
    port,
    adminUrl: adminPort === null ? null : urlOf(o.adminHost, adminPort),
    get step() {
      return pool.step;
    },
    metrics,
    update: (u) => applyUpdate(typeof u === 'string' ? fs.readFileSync(u) : u, typeof u === 'string' ? u : 'from update()'),
    close,
    closed,
  };
}
