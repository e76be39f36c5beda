/**
 * The rendezvous store: a small key-value store over TCP (node:net), hosted by rank 0 at
 * MASTER_ADDR:MASTER_PORT as torchrun's TCPStore is, that every rank connects to. Gloo's
 * rendezvous publishes each rank's addresses through it (native/distributed/js_store.h), and
 * the process group uses it to agree on things outside the collectives (which rank failed).
 *
 * The protocol is one JSON object per line: a request `{ id, op, key | keys, value, delta,
 * timeoutMs }` (values base64) and its reply `{ id, ok, value | n | found | ranks, error }`. Ops: set,
 * get (waits for the key), wait (for every key), check (which keys are set), add (an atomic counter), hello (names the
 * connection's rank), bye (a clean goodbye), departed (the ranks whose connection closed
 * without bye: their process exited).
 */
import * as net from 'node:net';
import { DistributedError } from '../errors';
import { checkInt, checkOptions, invalid } from '../validate';

/** What the process group and the rendezvous need from a store. */
export interface Store {
  /** Sets the key's value (replacing any), waking the ranks waiting for it. */
  set(key: string, value: Uint8Array): Promise<void>;
  /** The key's value, waiting up to timeoutMs for it to be set. */
  get(key: string, timeoutMs?: number): Promise<Uint8Array>;
  /** Waits until every key is set. */
  wait(keys: string[], timeoutMs?: number): Promise<void>;
  /** Adds delta to an integer counter (missing: 0) and returns the new value. */
  add(key: string, delta: number): Promise<number>;
  /** Which of the keys are set (no waiting). */
  check(keys: string[]): Promise<boolean[]>;
  /** Ranks whose connection to the store closed without a goodbye (their process exited). */
  departed(): Promise<number[]>;
  /** Says goodbye and closes the connection. */
  close(): Promise<void>;
}

interface Request {
  id: number;
  op: 'set' | 'get' | 'wait' | 'check' | 'add' | 'hello' | 'bye' | 'departed';
  key?: string;
  keys?: string[];
  value?: string;
  delta?: number;
  rank?: number;
  timeoutMs?: number;
}

interface Reply {
  id: number;
  ok: boolean;
  value?: string;
  n?: number;
  ranks?: number[];
  found?: boolean[];
  error?: string;
}

/** Splits a socket's bytes into lines and hands each parsed object to `onMessage`. */
function lines(socket: net.Socket, onMessage: (m: unknown) => void): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.length === 0) continue;
      let m: unknown;
      try {
        m = JSON.parse(line);
      } catch {
        socket.destroy();
        return;
      }
      onMessage(m);
    }
  });
}

/** The store's server: rank 0 runs it in its own process. */
export class TcpStoreServer {
  private readonly values = new Map<string, Buffer>();
  private waiters: { keys: string[]; done: () => void }[] = [];
  private readonly departedRanks = new Set<number>();
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server) {}

  /** Listens on host:port (port 0: any free port; see `port`). */
  static listen(port: number, host = '0.0.0.0'): Promise<TcpStoreServer> {
    checkInt(port, 'port', 0, 65535);
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      const store = new TcpStoreServer(server);
      server.on('connection', (s) => store.serve(s));
      server.once('error', (e) => reject(new DistributedError(`the rendezvous store could not listen on ${host}:${port}: ${e.message}`)));
      server.listen(port, host, () => resolve(store));
    });
  }

  /** The port it listens on. */
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Closes every connection and stops listening. */
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let rank: number | null = null;
    let clean = false;
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (rank !== null && !clean) this.departedRanks.add(rank);
    });
    const reply = (r: Reply) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(r)}\n`);
    };
    lines(socket, (m) => {
      const req = m as Request;
      const id = req.id;
      switch (req.op) {
        case 'hello':
          rank = typeof req.rank === 'number' ? req.rank : null;
          return reply({ id, ok: true });
        case 'bye':
          clean = true;
          return reply({ id, ok: true });
        case 'set':
          this.values.set(String(req.key), Buffer.from(req.value ?? '', 'base64'));
          this.wake();
          return reply({ id, ok: true });
        case 'add': {
          const key = String(req.key);
          const n = Number(this.values.get(key)?.toString() ?? '0') + Number(req.delta ?? 0);
          this.values.set(key, Buffer.from(String(n)));
          this.wake();
          return reply({ id, ok: true, n });
        }
        case 'check':
          return reply({ id, ok: true, found: (req.keys ?? []).map((k) => this.values.has(String(k))) });
        case 'departed':
          return reply({ id, ok: true, ranks: [...this.departedRanks].sort((a, b) => a - b) });
        case 'get':
        case 'wait': {
          const keys = req.op === 'get' ? [String(req.key)] : (req.keys ?? []).map(String);
          const answer = () => reply(req.op === 'get' ? { id, ok: true, value: this.values.get(keys[0])!.toString('base64') } : { id, ok: true });
          if (keys.every((k) => this.values.has(k))) return answer();
          const timer = setTimeout(() => {
            this.waiters = this.waiters.filter((w) => w !== waiter);
            reply({ id, ok: false, error: `timed out after ${req.timeoutMs} ms waiting for ${keys.filter((k) => !this.values.has(k)).join(', ')}` });
          }, req.timeoutMs ?? 300000);
          const waiter = {
            keys,
            done: () => {
              clearTimeout(timer);
              answer();
            },
          };
          this.waiters.push(waiter);
          return;
        }
        default:
          return reply({ id, ok: false, error: `unknown op ${JSON.stringify(req.op)}` });
      }
    });
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => w.keys.every((k) => this.values.has(k)));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.done();
  }
}

/** Options of {@link TcpStore}. */
export interface TcpStoreOptions {
  /** The host of the store server. */
  host: string;
  /** The store server's port. */
  port: number;
  /** This connection's rank (the store reports it as departed if the connection drops). */
  rank?: number;
  /** How long to keep trying to connect, and the default wait of get / wait (ms, default 300000). */
  timeoutMs?: number;
}

/** A connection to a {@link TcpStoreServer}. */
export class TcpStore implements Store {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private closedReason: string | null = null;

  private constructor(
    private readonly socket: net.Socket,
    where: string,
    private readonly timeoutMs: number,
  ) {
    socket.setNoDelay(true);
    lines(socket, (m) => {
      const r = m as Reply;
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      p.resolve(r);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closedReason ??= `the connection to the rendezvous store at ${where} closed (rank 0, which hosts it, exited or closed it)`;
      for (const p of this.pending.values()) p.reject(new DistributedError(this.closedReason, 0));
      this.pending.clear();
    });
  }

  /** Connects, retrying until timeoutMs while the server is not up yet (rank 0 may start last). */
  static async connect(options: TcpStoreOptions): Promise<TcpStore> {
    const o = checkOptions(options, 'options');
    if (typeof o.host !== 'string' || o.host.length === 0) throw invalid('a host name or address', 'options.host', o.host);
    const port = checkInt(o.port, 'options.port', 1, 65535);
    const timeoutMs = checkInt(o.timeoutMs ?? 300000, 'options.timeoutMs', 1);
    const where = `${o.host}:${port}`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect({ host: o.host!, port });
          s.once('connect', () => {
            s.removeListener('error', reject);
            resolve(s);
          });
          s.once('error', reject);
        });
        const store = new TcpStore(socket, where, timeoutMs);
        if (o.rank !== undefined) await store.request({ op: 'hello', rank: checkInt(o.rank, 'options.rank', 0) });
        return store;
      } catch (e) {
        if (Date.now() >= deadline) throw new DistributedError(`could not reach the rendezvous store at ${where} within ${timeoutMs} ms: ${(e as Error).message}`, 0);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Sets the key's value (replacing any), waking the ranks waiting for it. */
  async set(key: string, value: Uint8Array): Promise<void> {
    await this.request({ op: 'set', key, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') });
  }

  async get(key: string, timeoutMs = this.timeoutMs): Promise<Uint8Array> {
    const r = await this.request({ op: 'get', key, timeoutMs });
    return new Uint8Array(Buffer.from(r.value ?? '', 'base64'));
  }

  async wait(keys: string[], timeoutMs = this.timeoutMs): Promise<void> {
    await this.request({ op: 'wait', keys, timeoutMs });
  }

  async add(key: string, delta: number): Promise<number> {
    return (await this.request({ op: 'add', key, delta })).n ?? 0;
  }

  async check(keys: string[]): Promise<boolean[]> {
    return (await this.request({ op: 'check', keys })).found ?? [];
  }

  async departed(): Promise<number[]> {
    return (await this.request({ op: 'departed' })).ranks ?? [];
  }

  async close(): Promise<void> {
    if (this.closedReason !== null) return;
    try {
      await this.request({ op: 'bye' });
    } catch {
      /* already gone */
    }
    this.closedReason = 'this store connection was closed';
    this.socket.end();
    this.socket.destroy();
  }

  private request(req: Omit<Request, 'id'>): Promise<Reply> {
    if (this.closedReason !== null) return Promise.reject(new DistributedError(this.closedReason, 0));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(`${JSON.stringify({ ...req, id })}\n`);
    }).then((r) => {
      if (!r.ok) throw new DistributedError(`rendezvous store ${req.op}: ${r.error}`);
      return r;
    });
  }
}
