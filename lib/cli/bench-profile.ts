/**
 * `gatewise bench --profile`: where a config's training step goes. Each step runs through
 * Trainer.trainStepProfiled, the device synchronized at each phase's end, and the phases'
 * mean milliseconds are reported with their share of the step: the forward pass (split into
 * the embedding-table lookups and the dense layers, the lookups timed alone on the same
 * batches after the steps), the loss, the backward pass (the tables' gradient reduction included), each
 * optimizer (the tables' fused sparse update is `SparseOptimizer`), reading the loss back, and
 * the host's remainder (freeing the step's tensors, mode switches).
 */
import { synchronize } from '../backend';
import { tidy } from '../scope';
import { Batch } from '../data/batches';
import { JobParts } from '../train/job';

export interface PhaseFigure {
  phase: string;
  /** Mean milliseconds per step. */
  ms: number;
  /** Share of the whole step. */
  share: number;
}

/** Profiles `steps` training steps over `batches` (after `warmup` steps). */
export function profileSteps(parts: JobParts, batches: Batch[], steps: number, warmup = 3): PhaseFigure[] {
  const { trainer, model } = parts;
  const sums = new Map<string, number>();
  let total = 0;
  let lookups = 0;
  for (let i = 0; i < warmup + steps; ++i) {
    const batch = batches[i % batches.length];
    const counted = i >= warmup;
    synchronize();
    const t0 = process.hrtime.bigint();
    let last = t0;
    trainer.trainStepProfiled(batch, (phase) => {
      synchronize();
      const now = process.hrtime.bigint();
      if (counted) sums.set(phase, (sums.get(phase) ?? 0) + Number(now - last) / 1e6);
      last = now;
    });
    const end = process.hrtime.bigint();
    if (counted) total += Number(end - t0) / 1e6;
  }
  if (model.kind !== 'pepnet') {
    // The same batches' table lookups alone (training mode, as in the forward pass), after the
    // steps so as not to disturb them.
    model.train();
    for (let i = warmup; i < warmup + steps; ++i) {
      const l0 = process.hrtime.bigint();
      tidy(() => void model.embed(batches[i % batches.length]));
      synchronize();
      lookups += Number(process.hrtime.bigint() - l0) / 1e6;
    }
  }
  const mean = (x: number) => x / steps;
  const out: PhaseFigure[] = [];
  const add = (phase: string, ms: number) => out.push({ phase, ms: mean(ms), share: ms / total });
  const forward = sums.get('forward') ?? 0;
  if (model.kind !== 'pepnet') {
    add('forward: table lookups', Math.min(lookups, forward));
    add('forward: dense layers', Math.max(0, forward - lookups));
  } else {
    add('forward (lookups inside PEPNet)', forward);
  }
  let phases = forward;
  for (const [phase, ms] of sums) {
    if (phase === 'forward') continue;
    add(phase, ms);
    phases += ms;
  }
  add('host remainder', Math.max(0, total - phases));
  out.push({ phase: 'step', ms: mean(total), share: 1 });
  return out;
}

export function formatProfile(figures: PhaseFigure[]): string {
  const head = `${'phase'.padEnd(32)} ${'ms/step'.padStart(9)} ${'share'.padStart(7)}`;
  return [head, ...figures.map((f) => `${f.phase.padEnd(32)} ${f.ms.toFixed(3).padStart(9)} ${`${(100 * f.share).toFixed(1)}%`.padStart(7)}`)].join('\n');
}
