/**
 * The settings of `serve()` (and `gatewise serve`): what is served, where, how requests are
 * batched and bounded, and where updates come from — checked, with defaults filled in.
 */
import * as path from 'node:path';
import { loadTrainConfig, parseTrainConfig, ResolvedConfig } from '../../train/config';
import type { WorkerConfig } from '../../train/worker';
import { checkInt, checkKnownKeys, checkOptions, checkRange, invalid } from '../../validate';

/** A config file, or a config object with the folder its paths are relative to (as `trainInWorker` takes). */
export type ServeConfig = WorkerConfig;

/** Options of {@link serve}. */
export interface ServeOptions {
  /** The job's config: a file, or `{ config, baseDir?, name? }`. */
  config: ServeConfig;
  /** The checkpoint to serve, or null: the freshly built model, fed only by updates. */
  checkpoint: string | null;
  /** The port of the prediction API (default 8080; 0: any free port). */
  port?: number;
  /** The address it listens on (default '127.0.0.1'). */
  host?: string;
  /** The most requests in one forward pass (default 64). */
  maxBatch?: number;
  /**
   * How long the first waiting request waits for others, in ms (default 0: until the event
   * loop has read what else arrived meanwhile; while a model copy is busy its next batch
   * gathers anyway, so the batch size follows the load).
   */
  maxDelayMs?: number;
  /** Worker threads, each with its own copy of the model (default 1; 0: the model runs on the main thread). */
  workers?: number;
  /**
   * The native kernels' threads, set for the whole process while serving (default: 1 with
   * workers — each worker scores its batches on one core, in parallel with the others and the
   * main thread's HTTP work, instead of every batch spreading over cores the HTTP work needs —
   * and the backend's setting as it is with workers 0).
   */
  threads?: number;
  /** The largest request body, in bytes (default 1 MiB): larger ones get a 413. */
  maxBodyBytes?: number;
  /** The most objects in one request's array (default 1024): more get a 413. */
  maxRows?: number;
  /** The most rows waiting to be scored, all workers together (default 8192): past it, requests get a 503. */
  maxQueue?: number;
  /** How long a request may wait for its scores, in ms (default 10000): then it gets a 503. */
  timeoutMs?: number;
  /** The folder of serving updates to watch (default `<output.dir>/updates`; null: none). */
  updates?: string | null;
  /** How often the updates folder is scanned besides its change events, in ms (default 1000). */
  watchIntervalMs?: number;
  /** The admin port (`POST /admin/update`), or null for none (default null; 0: any free port). */
  adminPort?: number | null;
  /** The admin address (default '127.0.0.1'). */
  adminHost?: string;
  /** The largest update accepted by `POST /admin/update`, in bytes (default 1 GiB). */
  maxUpdateBytes?: number;
  /** On shutdown, how long a keep-alive connection may stay idle before it is closed, in ms (default 250). */
  drainIdleMs?: number;
  /** On shutdown, how long in-flight requests get before connections are cut, in ms (default 30000). */
  shutdownTimeoutMs?: number;
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
}

export interface ResolvedServeOptions extends Required<Omit<ServeOptions, 'config' | 'checkpoint' | 'updates' | 'adminPort' | 'threads'>> {
  config: ServeConfig;
  /** The config, resolved on this thread (its schema checks requests). */
  resolved: ResolvedConfig;
  checkpoint: string | null;
  updates: string | null;
  adminPort: number | null;
  /** null: leave the backend's thread count as it is. */
  threads: number | null;
}

const KEYS = ['config', 'checkpoint', 'port', 'host', 'maxBatch', 'maxDelayMs', 'workers', 'threads', 'maxBodyBytes', 'maxRows', 'maxQueue', 'timeoutMs', 'updates', 'watchIntervalMs', 'adminPort', 'adminHost', 'maxUpdateBytes', 'drainIdleMs', 'shutdownTimeoutMs', 'log'];

/** A config file or object resolved (the same on every thread). */
export function resolveServeConfig(config: ServeConfig): ResolvedConfig {
  if (typeof config === 'string') return loadTrainConfig(config);
  if (config === null || typeof config !== 'object' || config.config === null || typeof config.config !== 'object') throw invalid('a config file path or { config, baseDir?, name? }', 'options.config', config);
  return parseTrainConfig(config.config, config.baseDir, config.name);
}

function checkHost(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid('a host name or address', name, value);
  return value;
}

function checkPath(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid('a path', name, value);
  return path.resolve(value);
}

/**
 * Checks serve()'s options and fills in the defaults. Each error names the option as
 * `nameOf(key)` says (default `options.<key>`; the command line names its flags).
 */
export function resolveServeOptions(options: ServeOptions, nameOf: (key: keyof ServeOptions) => string = (key) => `options.${key}`): ResolvedServeOptions {
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', KEYS);
  const n = nameOf;
  if (o.config === undefined) throw invalid('a config file path or { config, baseDir?, name? }', n('config'), o.config);
  const resolved = resolveServeConfig(o.config);
  if (o.checkpoint === undefined) throw invalid('a checkpoint file, or null for the freshly built model', n('checkpoint'), o.checkpoint);
  const ms = (key: keyof ServeOptions, dflt: number, min = 0) => checkRange(o[key] ?? dflt, n(key), min, 2 ** 31 - 1, `a number of milliseconds from ${min} to 2^31 - 1`);
  const int = (key: keyof ServeOptions, dflt: number, min: number, max = Infinity) => checkInt(o[key] ?? dflt, n(key), min, max);
  if (o.log !== undefined && typeof o.log !== 'function') throw invalid('a function', n('log'), o.log);
  return {
    config: o.config,
    resolved,
    checkpoint: o.checkpoint === null ? null : checkPath(o.checkpoint, n('checkpoint')),
    port: int('port', 8080, 0, 65535),
    host: checkHost(o.host ?? '127.0.0.1', n('host')),
    maxBatch: int('maxBatch', 64, 1, 1 << 16),
    maxDelayMs: ms('maxDelayMs', 0),
    workers: int('workers', 1, 0, 256),
    threads: o.threads === undefined ? ((o.workers ?? 1) > 0 ? 1 : null) : int('threads', 1, 1, 256),
    maxBodyBytes: int('maxBodyBytes', 1 << 20, 1),
    maxRows: int('maxRows', 1024, 1),
    maxQueue: int('maxQueue', 8192, 1),
    timeoutMs: ms('timeoutMs', 10_000, 1),
    updates: o.updates === null ? null : o.updates === undefined ? path.join(resolved.output.dir, 'updates') : checkPath(o.updates, n('updates')),
    watchIntervalMs: ms('watchIntervalMs', 1000, 1),
    adminPort: o.adminPort === undefined || o.adminPort === null ? null : int('adminPort', 0, 0, 65535),
    adminHost: checkHost(o.adminHost ?? '127.0.0.1', n('adminHost')),
    maxUpdateBytes: int('maxUpdateBytes', 2 ** 30, 1),
    drainIdleMs: ms('drainIdleMs', 250),
    shutdownTimeoutMs: ms('shutdownTimeoutMs', 30_000),
    log: (o.log as (line: string) => void) ?? ((line: string) => process.stderr.write(`${line}\n`)),
  };
}
