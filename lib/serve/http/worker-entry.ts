/** The worker side of a WorkerLane: builds its model copy, then answers runs and updates in order. */
import { parentPort, workerData } from 'node:worker_threads';
import { FromWorker, LaneSpec, toWire, ToWorker } from './lanes';
import { ModelCopy } from './model-copy';
import { resolveServeConfig } from './options';

const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const spec = workerData as LaneSpec;

let copy: ModelCopy;
try {
  copy = new ModelCopy(resolveServeConfig(spec.config), spec.checkpoint, spec.maxBatch);
  post({ type: 'ready', step: copy.step });
} catch (e) {
  post({ type: 'failed', error: toWire(e) });
  port.close();
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'run':
      try {
        // Bodies the main thread has parsed and checked: one object or an array of them each.
        const rows = m.bodies.flatMap((b): Record<string, unknown>[] => {
          const body = JSON.parse(b);
          return Array.isArray(body) ? body : [body];
        });
        post({ type: 'ran', id: m.id, predictions: copy.run(rows), step: copy.step });
      } catch (e) {
        post({ type: 'ran', id: m.id, step: copy.step, error: toWire(e) });
      }
      break;
    case 'update':
      try {
        post({ type: 'updated', id: m.id, applied: copy.update(m.bytes) });
      } catch (e) {
        post({ type: 'updated', id: m.id, error: toWire(e) });
      }
      break;
    case 'close':
      void copy.dispose().finally(() => port.close());
      break;
  }
});
