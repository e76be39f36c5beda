/** The worker side of trainInWorker: runs the job and reports to the parent thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadTrainConfig, parseTrainConfig } from './config';
import { runTrainJob } from './job';
import { WorkerConfig, WorkerMessage } from './worker';

const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);
const { config, stepEvery, progress } = workerData as { config: WorkerConfig; stepEvery: number; progress: { mode: 'auto' | 'bar' | 'lines' | 'none'; isTTY: boolean } };
const stop = new AbortController();
port.on('message', (m: { type?: string }) => {
  if (m?.type === 'stop') stop.abort();
});
// Progress text goes to the parent, which writes it to its own stream.
const stream = Object.assign(Object.create(null), { isTTY: progress.isTTY, write: (text: string) => (post({ type: 'out', text }), true) });

async function main(): Promise<void> {
  const resolved = typeof config === 'string' ? loadTrainConfig(config) : parseTrainConfig(config.config, config.baseDir, config.name);
  const result = await runTrainJob(resolved, {
    progress: { mode: progress.mode, stream },
    log: (line) => post({ type: 'out', text: `${line}\n` }),
    signal: stop.signal,
    onStep: (step, loss) => {
      if (step % stepEvery === 0) post({ type: 'step', step, loss });
    },
    onEpoch: (record) => post({ type: 'epoch', record }),
  });
  post({ type: 'done', result });
}

main().then(
  () => port.close(),
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ type: 'error', name: err.name, message: err.message });
    port.close();
  },
);
