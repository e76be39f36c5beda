/**
 * Atomic file replacement: the bytes go to a temporary file in the target's directory, which is
 * fsynced and then renamed over the target (a rename within one file system is atomic), and the
 * directory is fsynced (best effort). A crash at any point leaves either the old file or the new
 * one at the target, never a mix; at worst a stray `<target>.tmp-*` file remains.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Keep the file being replaced as `<target>.prev` (default false). */
  keepPrevious?: boolean;
}

/** The temporary name for a write of `target` (its directory, its name, this process, a random tag). */
export function tempPathFor(target: string): string {
  return `${target}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms and file systems cannot fsync a directory: the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes `chunks` (in order) to `target` atomically. */
export function writeFileAtomic(target: string, chunks: readonly Uint8Array[], options: AtomicWriteOptions = {}): void {
  const tmp = tempPathFor(target);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  let renamed = false;
  try {
    try {
      for (const chunk of chunks) {
        let off = 0;
        while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (options.keepPrevious && fs.existsSync(target)) keepPrevious(target);
    fs.renameSync(tmp, target);
    renamed = true;
    fsyncDir(path.dirname(path.resolve(target)));
  } finally {
    if (!renamed) fs.rmSync(tmp, { force: true });
  }
}

/** Puts a copy of `target` at `<target>.prev` (itself replaced atomically), leaving `target` in place. */
function keepPrevious(target: string): void {
  const prev = `${target}.prev`;
  const tmp = tempPathFor(prev);
  try {
    try {
      fs.linkSync(target, tmp);
    } catch {
      fs.copyFileSync(target, tmp);
    }
    fs.renameSync(tmp, prev);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
