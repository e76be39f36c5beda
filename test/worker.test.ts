import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

// Training off the main thread: the addon is context-aware, so each worker_thread loads
// its own instance. This worker runs CPU kernels while the main event loop keeps ticking.
describe('worker_threads', () => {
  it('loads the addon in a worker and runs kernels there while the main loop stays free', async () => {
    const root = path.resolve(__dirname, '..');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const g = require(require.resolve('node-gyp-build', { paths: [workerData.root] }))(workerData.root);
      const n = 1 << 20;
      const a = g.fromTypedArray(new Float32Array(n).fill(1.5), [n], 'cpu');
      const out = g.empty([n], 'float32', 'cpu');
      for (let i = 0; i < 200; ++i) g.binary('add', a, out, out);
      parentPort.postMessage(g.toTypedArray(out)[n - 1]);
    `;
    let ticks = 0;
    const timer = setInterval(() => ++ticks, 1);
    const worker = new Worker(code, { eval: true, workerData: { root } });
    const result = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    clearInterval(timer);
    await worker.terminate();
    expect(Number.isFinite(result)).toBe(true);
    expect(ticks).toBeGreaterThan(0);
  });
});
