/** A seeded shuffle buffer over a stream of rows (or anything): bounded memory, reproducible order. */
import { Rng } from '../random';
import { checkInt, checkKnownKeys, checkOptions, invalid } from '../validate';

export interface ShuffleOptions {
  /** Items held at once; each output is drawn uniformly from them (required; larger mixes better). */
  bufferSize: number;
  /** Seed (required): the same seed gives the same order; each pass over the result draws on, so epochs differ. */
  seed: number;
}

/** A seeded shuffle buffer over an (async) iterable: every item comes out once, in a seed-determined order. */
export function shuffle<T>(items: AsyncIterable<T> | Iterable<T>, options: ShuffleOptions): AsyncIterable<T> {
  if (items === null || typeof items !== 'object' || !(Symbol.asyncIterator in items || Symbol.iterator in items)) throw invalid('an (async) iterable', 'items', items);
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['bufferSize', 'seed']);
  const size = checkInt(o.bufferSize, 'options.bufferSize', 1);
  const rng = new Rng(checkInt(o.seed, 'options.seed', 0, Number.MAX_SAFE_INTEGER));
  return {
    async *[Symbol.asyncIterator]() {
      const buf: T[] = [];
      for await (const item of items as AsyncIterable<T>) {
        if (buf.length < size) {
          buf.push(item);
          continue;
        }
        const j = rng.int(size);
        const out = buf[j];
        buf[j] = item;
        yield out;
      }
      rng.shuffle(buf);
      yield* buf;
    },
  };
}

