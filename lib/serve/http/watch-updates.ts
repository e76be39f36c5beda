/**
 * Watches a job's updates folder (`update-<step>.gwup`, written atomically by the training
 * job) and hands each new update to `apply`, one at a time, in step order. Updates at or
 * before the served model's step — when watching starts, then the last one applied — are
 * taken as already in it. A corrupt
 * update is refused by `apply` (its error logged, never retried) and the next one is still
 * applied. The folder is rescanned on change events and every `intervalMs` (it may not exist
 * yet, and events are not reliable on every file system).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const UPDATE_FILE = /^update-(\d+)\.gwup$/;

export interface UpdateWatcherOptions {
  /** Applies one update file; throws to refuse it. */
  apply: (file: string, step: number) => Promise<void>;
  /** Files with a step at or below this one are skipped. */
  afterStep: number;
  intervalMs: number;
  log: (line: string) => void;
}

export class UpdateWatcher {
  private readonly seen = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private watcher: fs.FSWatcher | null = null;
  private scanning: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private last: number;

  constructor(
    readonly dir: string,
    private readonly o: UpdateWatcherOptions,
  ) {
    this.last = o.afterStep;
    this.timer = setInterval(() => this.poke(), o.intervalMs);
    this.timer.unref();
    this.poke();
  }

  /** Resolves when the folder has been scanned and what was new applied (or refused). */
  async settled(): Promise<void> {
    while (this.scanning) await this.scanning;
  }

  /** Stops watching; an update being applied finishes first. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.watcher?.close();
    await this.settled();
  }

  /** Scans now, or once more after the scan in progress. */
  private poke(): void {
    if (this.closed) return;
    if (this.scanning) {
      this.again = true;
      return;
    }
    this.scanning = this.scan().finally(() => {
      this.scanning = null;
      if (this.again) {
        this.again = false;
        this.poke();
      }
    });
  }

  private async scan(): Promise<void> {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return; // not there yet
    }
    this.listen();
    const fresh = names
      .map((name) => ({ name, m: UPDATE_FILE.exec(name) }))
      .filter((f): f is { name: string; m: RegExpExecArray } => f.m !== null && !this.seen.has(f.name))
      .map((f) => ({ name: f.name, step: Number(f.m[1]) }))
      .sort((a, b) => a.step - b.step);
    for (const { name, step } of fresh) {
      if (this.closed) return;
      this.seen.add(name);
      if (step <= this.last) continue;
      const file = path.join(this.dir, name);
      try {
        await this.o.apply(file, step);
        this.last = step;
      } catch (e) {
        this.o.log(`gatewise serve: refused update ${file}: ${(e as Error).message}; the previous model keeps serving`);
      }
    }
  }

  /** Change events from the folder, once it exists. */
  private listen(): void {
    if (this.watcher || this.closed) return;
    try {
      this.watcher = fs.watch(this.dir, { persistent: false }, () => this.poke());
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      // Polling alone then.
    }
  }
}
