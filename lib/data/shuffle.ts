/** A seeded shuffle buffer over a stream of rows (or anything): bounded memory, reproducible order. */
import { Rng } from '../random';
import { checkInt, checkKnownKeys, checkOptions, invalid } from '../validate';

/** Options of {@link shuffle} and {@link shuffleSync}. */
export interface ShuffleOptions {
  /** Items held at once; each output is drawn uniformly from them (required; larger mixes better). */
  bufferSize: number;
  /** Seed (required): the same seed gives the same order; each pass over the result draws on, so epochs differ. */
  seed: number;
}

/**
 * The buffer itself: `push` an item and maybe get one out (once the buffer is full, a uniformly
 * drawn held item leaves and the new one takes its place); `drain` gives the rest in a shuffled
 * order. shuffle() and shuffleSync() are this over an async or a sync source, so both give the
 * same order for the same items and seed.
 */
class ShuffleBuffer<T> {
  private readonly buf: T[] = [];
  constructor(
    private readonly size: number,
    private readonly rng: Rng,
  ) {}
  push(item: T): { out: T } | null {
    if (this.buf.length < this.size) {
      this.buf.push(item);
      return null;
    }
    const j = this.rng.int(this.size);
    const out = this.buf[j];
    this.buf[j] = item;
    return { out };
  }
  drain(): T[] {
    this.rng.shuffle(this.buf);
    return this.buf.splice(0);
  }
}

/** The checked options: the buffer size, and the generator every pass over the result draws on. */
function checked(options: ShuffleOptions): { size: number; rng: Rng } {
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['bufferSize', 'seed']);
  return { size: checkInt(o.bufferSize, 'options.bufferSize', 1), rng: new Rng(checkInt(o.seed, 'options.seed', 0, Number.MAX_SAFE_INTEGER)) };
}

/** A seeded shuffle buffer over an (async) iterable: every item comes out once, in a seed-determined order. */
export function shuffle<T>(items: AsyncIterable<T> | Iterable<T>, options: ShuffleOptions): AsyncIterable<T> {
  if (items === null || typeof items !== 'object' || !(Symbol.asyncIterator in items || Symbol.iterator in items)) throw invalid('an (async) iterable', 'items', items);
  const { size, rng } = checked(options);
  return {
    async *[Symbol.asyncIterator]() {
      const buf = new ShuffleBuffer<T>(size, rng);
      for await (const item of items as AsyncIterable<T>) {
        const got = buf.push(item);
        if (got) yield got.out;
      }
      yield* buf.drain();
    },
  };
}

/** shuffle() over a sync iterable, synchronously: the same order for the same items and seed. */
export function shuffleSync<T>(items: Iterable<T>, options: ShuffleOptions): Iterable<T> {
  if (items === null || typeof items !== 'object' || !(Symbol.iterator in items)) throw invalid('an iterable', 'items', items);
  const { size, rng } = checked(options);
  return {
    *[Symbol.iterator]() {
      const buf = new ShuffleBuffer<T>(size, rng);
      for (const item of items) {
        const got = buf.push(item);
        if (got) yield got.out;
      }
      yield* buf.drain();
    },
  };
}
