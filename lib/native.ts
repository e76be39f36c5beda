/**
 * Loads the native addon: the prebuilt binary for this platform first
 * (prebuilds/<platform>-<arch>/), then a local build (build/Release/). Every native
 * function is wrapped once so that its errors arrive as typed {@link GatewiseError}s.
 *
 * GATEWISE_ADDON=<file.node> loads that build instead. It exists for the test suites that
 * run on the emulated CUDA device or under sanitizers (`npm run test:emu`,
 * `npm run test:sanitize`); those builds are never shipped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LoadError, fromNativeError } from './errors';

/** The JS handle of a native tensor (owned by {@link Tensor}). */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: string;
  readonly device: string;
  readonly disposed: boolean;
  readonly storageId: number;
  dispose(): void;
}

// The binding's functions are validated by the TypeScript layer before they are called;
// their signatures are documented beside each op in lib/ops/.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeFn = (...args: any[]) => any;
export type NativeApi = Record<string, NativeFn> & { NativeTensor: new () => NativeTensor };

/** The folder holding gatewise's package.json, from wherever this file was compiled to. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'gatewise') return dir;
      } catch {
        /* not ours: keep walking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new LoadError(`cannot find gatewise's package.json above ${__dirname}`);
    dir = up;
  }
}

function load(): NativeApi {
  const root = packageRoot();
  let raw: Record<string, unknown>;
  try {
    const override = process.env.GATEWISE_ADDON;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    raw = override ? require(path.resolve(override)) : require('node-gyp-build')(root);
  } catch (e) {
    throw new LoadError(
      [
        `gatewise could not load its native addon for ${process.platform}-${process.arch} (node ${process.version}): ${(e as Error).message}`,
        'Possible solutions:',
        '- reinstall so that the prebuilt binary is unpacked: `npm install gatewise`;',
        '- build from source (needs a C++17 compiler and cmake; nvcc for CUDA): `npm rebuild gatewise`;',
        '- on another platform than linux-x64, install build tools first, then `npm rebuild gatewise`.',
      ].join('\n'),
    );
  }
  const api: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'function' || name === 'NativeTensor') {
      api[name] = value;
      continue;
    }
    const fn = value as NativeFn;
    api[name] = function wrapped(...args: unknown[]) {
      try {
        return fn(...args);
      } catch (e) {
        throw fromNativeError(e);
      }
    };
  }
  return api as NativeApi;
}

/** The loaded addon. */
export const native: NativeApi = load();
