/**
 * Behaviour sequences from an EmbeddingTable: one id sequence per sample, in chronological
 * order, given jagged (all sequences concatenated, with their lengths, as TorchRec's
 * KeyedJaggedTensor) or padded (B × L ids, with lengths). Only the real ids are looked up:
 * padding never inserts a row, counts as a use, or receives a gradient. The result is the
 * padded (B, L, dim) tensor attention takes, zeros past each length, and the lengths.
 */
import { ShapeError } from '../errors';
import { concat, indexSelect } from '../ops/layout';
import { tensor, Tensor, zeros } from '../tensor';
import { checkInt, checkOneOf, checkOptions, invalid } from '../validate';
import { EmbeddingTable } from './table';

/** Options of {@link lookupSequences}. */
export interface LookupSequencesOptions {
  /** 'jagged': ids holds Σ lengths ids; 'padded': ids holds B × L, row b's first lengths[b] used (default 'jagged'). */
  layout?: 'jagged' | 'padded';
  /** Keep at most the last maxLen ids of each sequence (the most recent); L = min(maxLen, longest). */
  maxLen?: number;
}

/** What {@link lookupSequences} returns: the padded embeddings and their lengths. */
export interface SequenceEmbeddings {
  /** (B, L, dim): row b's first lengths[b] positions hold its embeddings, the rest zeros. */
  embeddings: Tensor;
  /** (B) the lengths after truncation to maxLen. */
  lengths: Int32Array;
}

/** Looks up id sequences (see the file comment); lengths (B) gives each sequence's length. */
export function lookupSequences(table: EmbeddingTable, ids: BigInt64Array, lengths: Int32Array | readonly number[], options: LookupSequencesOptions = {}): SequenceEmbeddings {
  if (!(ids instanceof BigInt64Array)) throw invalid('a BigInt64Array', 'ids', ids);
  if (!(lengths instanceof Int32Array) && !Array.isArray(lengths)) throw invalid('an Int32Array or an array of integers', 'lengths', lengths);
  const o = checkOptions(options, 'options');
  const layout = checkOneOf(o.layout ?? 'jagged', 'options.layout', ['jagged', 'padded'] as const);
  const B = lengths.length;
  const lens = Int32Array.from(lengths as ArrayLike<number>, (n, b) => checkInt(n, `lengths[${b}]`, 0));
  const total = lens.reduce((s, n) => s + n, 0);
  const width = layout === 'padded' ? (B === 0 ? 0 : ids.length / B) : 0;
  if (layout === 'jagged' && ids.length !== total) throw new ShapeError(`Expected ${total} ids (the sum of lengths) for ids but received ${ids.length}`);
  if (layout === 'padded') {
    if (!Number.isInteger(width)) throw new ShapeError(`Expected a multiple of ${B} (batch × length) ids for ids but received ${ids.length}`);
    lens.forEach((n, b) => checkInt(n, `lengths[${b}]`, 0, width));
  }
  const maxLen = o.maxLen === undefined ? Infinity : checkInt(o.maxLen, 'options.maxLen', 1);
  const kept = lens.map((n) => Math.min(n, maxLen));
  const L = Math.max(1, ...kept);
  // The kept ids, in order, and for each padded position its row among them (or the zero row).
  const flat = new BigInt64Array(kept.reduce((s, n) => s + n, 0));
  const index = new Int32Array(B * L).fill(flat.length);
  let start = 0;
  let at = 0;
  for (let b = 0; b < B; ++b) {
    const from = (layout === 'padded' ? b * width : start) + lens[b] - kept[b];
    for (let l = 0; l < kept[b]; ++l) {
      index[b * L + l] = at;
      flat[at++] = ids[from + l];
    }
    start += lens[b];
  }
  const device = table.device;
  // Looked up even when empty: on a sharded table every rank must take part in each lookup.
  const rows = table.lookup(flat);
  const padded = indexSelect(concat([rows, zeros([1, table.dim], { device })], 0), tensor(index, { device }));
  return { embeddings: padded.reshape(B, L, table.dim), lengths: kept };
}
