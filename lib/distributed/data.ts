/**
 * Each rank's share of a job's data, and steps in lockstep.
 *
 * Rows are dealt in blocks of one per-rank batch: block k of a part's row stream goes to rank
 * k mod worldSize. Without shuffling, rank r's k-th batch is then the r-th slice of the batch k
 * one process with worldSize× the batch size would take, so the two train alike. (With
 * shuffling, each rank shuffles its own rows.)
 *
 * Every rank must take the same number of steps (each step is a collective). Training stops
 * the epoch when any rank runs out (the others' last rows, fewer than worldSize batches, wait
 * for the next epoch's order); evaluation goes on while any rank has rows, a rank that ran out
 * repeating a padding batch whose rows are left out of the metrics.
 */
import { Batch } from '../data/batches';
import { ProcessGroup } from './process-group';

/** The rows this rank takes (see the file comment); `first` receives the stream's first row, whoever takes it. */
export async function* rankRows<T>(rows: AsyncIterable<T>, group: ProcessGroup, block: number, first?: (row: T) => void): AsyncGenerator<T> {
  let i = 0;
  for await (const row of rows) {
    if (i === 0) first?.(row);
    if (Math.floor(i / block) % group.worldSize === group.rank) yield row;
    i += 1;
  }
}

/** Whether every rank (`all`) or any rank has a batch now: one small all-reduce. */
async function agree(group: ProcessGroup, have: boolean, all: boolean): Promise<boolean> {
  const flag = new Int32Array([have ? 1 : 0]);
  await group.allReduce(flag, all ? 'min' : 'max').promise();
  return flag[0] === 1;
}

/** Training batches while every rank has one; each batch is disposed when the next is asked for. */
export async function* lockstepTrain(local: AsyncIterable<Batch>, group: ProcessGroup): AsyncGenerator<Batch> {
  const it = local[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await it.next();
      if (!(await agree(group, !next.done, true))) {
        next.value?.dispose();
        return;
      }
      try {
        yield next.value;
      } finally {
        next.value.dispose();
      }
    }
  } finally {
    await it.return?.(undefined);
  }
}

/** Counts the padding rows a lockstepEval pass added (they come after all of its real rows). */
export interface Padding {
  /** Padding rows added by this rank. */
  rows: number;
}

/** Evaluation batches while any rank has one; a rank that ran out yields `pad()` and counts its rows in `padding`. */
export async function* lockstepEval(local: AsyncIterable<Batch>, group: ProcessGroup, pad: () => Batch, padding: Padding): AsyncGenerator<Batch> {
  padding.rows = 0;
  const it = local[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const next: IteratorResult<Batch> = done ? { done: true, value: undefined } : await it.next();
      done = !!next.done;
      if (!(await agree(group, !done, false))) return;
      const batch = done ? pad() : next.value!;
      if (done) padding.rows += batch.size;
      try {
        yield batch;
      } finally {
        batch.dispose();
      }
    }
  } finally {
    await it.return?.(undefined);
  }
}
