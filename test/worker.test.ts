import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

// Training off the main thread: the addon is context-aware, so each worker_thread loads
// its own instance; the main event loop keeps ticking while the worker trains.
describe('worker_threads', () => {
  it('trains a model in a worker while the main event loop stays free', async () => {
    const file = path.resolve(__dirname, 'fixtures/train-worker.ts');
    let ticks = 0;
    const timer = setInterval(() => ++ticks, 1);
    // The worker compiles the TypeScript sources on the fly (users run their compiled code).
    const boot = `require('tsx/cjs/api').register(); require(${JSON.stringify(file)});`;
    const worker = new Worker(boot, { eval: true });
    const losses = await new Promise<number[]>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    clearInterval(timer);
    await worker.terminate();
    expect(losses.length).toBe(150);
    expect(losses[149]).toBeLessThan(losses[0] / 5);
    expect(ticks).toBeGreaterThan(5);
  }, 60_000);
});
