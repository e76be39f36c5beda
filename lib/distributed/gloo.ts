/**
 * The Gloo binding: the second addon, gatewise_gloo.node (native/distributed/), loaded on first
 * use only. The main addon never needs it: it is built beside the main one only where libgloo
 * is found (`apt-get install libgloo-dev`, then `npm rebuild gatewise`), and
 * GATEWISE_GLOO_ADDON=<file.node> loads another build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LoadError } from '../errors';
import { packageRoot } from '../native';

/** A queued native operation (see native/distributed/addon.cpp). */
export interface NativeWork {
  /** Blocks until done; throws the operation's error. */
  wait(): void;
  /** Resolves when done; rejects with the operation's error. */
  promise(): Promise<void>;
  /** Whether the operation has finished. */
  readonly done: boolean;
  /** Seconds the operation ran on the communication thread. */
  readonly seconds: number;
}

/** A host typed array a collective moves. */
export type HostArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface NativeGroup {
  connect(store: (op: string, keys: string[], value: Buffer | null, timeoutMs: number) => Promise<Buffer | null>): NativeWork;
  /** Combines every rank's `array` element-wise in place (sum, max or min). */
  allReduce(array: HostArray, op: 'sum' | 'max' | 'min'): NativeWork;
  /** Overwrites `array` on every rank with rank `root`'s. */
  broadcast(array: HostArray, root: number): NativeWork;
  /** Writes every rank's input, `counts[r]` elements from rank r, into `output` in rank order. */
  allGather(input: HostArray, output: HostArray, counts: number[]): NativeWork;
  /**
   * Sends `sendCounts[r]` consecutive elements of `input` to rank r and receives `recvCounts[r]`
   * from rank r into `output`, in rank order.
   */
  allToAll(input: HostArray, sendCounts: number[], output: HostArray, recvCounts: number[]): NativeWork;
  /** Completes once every rank has reached it. */
  barrier(): NativeWork;
  /** Closes the group's connections. */
  close(): void;
}

export interface GlooAddon {
  ProcessGroup: new (options: { rank: number; size: number; timeoutMs: number; hostname?: string; iface?: string }) => NativeGroup;
  glooVersion: number;
}

let loaded: GlooAddon | null = null;
let failure: string | null = null;

function candidates(): string[] {
  const override = process.env.GATEWISE_GLOO_ADDON;
  if (override) return [path.resolve(override)];
  const root = packageRoot();
  return [path.join(root, 'build', 'Release', 'gatewise_gloo.node'), path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'gatewise_gloo.node')];
}

function tryLoad(): GlooAddon | null {
  if (loaded || failure) return loaded;
  const tried: string[] = [];
  for (const file of candidates()) {
    if (!fs.existsSync(file)) {
      tried.push(`${file}: not built`);
      continue;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require(file) as GlooAddon;
      return loaded;
    } catch (e) {
      tried.push(`${file}: ${(e as Error).message}`);
    }
  }
  failure = [
    'gatewise\'s distributed training needs Gloo, and its addon (gatewise_gloo.node) is not available:',
    ...tried.map((t) => `- ${t}`),
    'To get it: install Gloo (Debian/Ubuntu: `sudo apt-get install libgloo-dev`), then rebuild from source:',
    '`npm rebuild gatewise` (or `GATEWISE_BUILD_FROM_SOURCE=1 npm install gatewise`); the build makes gatewise_gloo.node wherever it finds libgloo.',
  ].join('\n');
  return null;
}

/** The Gloo addon; throws a LoadError saying how to get it when it is missing. */
export function glooAddon(): GlooAddon {
  const addon = tryLoad();
  if (!addon) throw new LoadError(failure!);
  return addon;
}

/** Whether the Gloo addon loads, and why not (for tests and `gatewise info`). */
export function glooStatus(): {
  /** Whether gatewise_gloo.node loads. */
  available: boolean;
  /** Why it does not, when it does not. */
  reason?: string;
} {
  return tryLoad() ? { available: true } : { available: false, reason: failure! };
}
