/**
 * A synthetic behaviour-sequence click data set for ranking with target attention over a
 * user's history, with an imbalanced user group whose clicks follow a different relation
 * between history and candidate ("submergence of personalization" in attention: a shared
 * attention is dominated by the majority's relation).
 *
 * The world (drawn from `seed`):
 * - `items` items, each with a category cat(i) ∈ [0, C), C = `categories`: every category
 *   gets ⌊items/C⌋ or ⌈items/C⌉ items, which ones at random;
 * - π, a random permutation of the categories without fixed points (a derangement): the
 *   minority's "shifted taste";
 * - a popularity pop(i) ~ N(0, `popularity`²) per item, the same for both groups.
 *
 * Each sample (drawn from `sampleSeed`):
 * - a group g: 1 (minority) with probability `minorityShare`, else 0 (majority);
 * - two distinct favourite categories F = {f₁, f₂}, uniform;
 * - a history of Len ~ U{minLen, …, maxLen} items: each, independently, with probability
 *   `focus` a uniform item of a uniform favourite category, else a uniform item;
 * - a candidate: with probability 1/4 a uniform item of a favourite category f, with
 *   probability 1/4 one of the "shifted favourite" category π⁻¹(f), else a uniform item.
 *   The candidates (and histories) have the same distribution in both groups: only the
 *   relation to the click differs.
 *
 * The click: the history items relevant to a candidate c are those of category
 * r_g(c) = cat(c) for the majority and π(cat(c)) for the minority. With m the number of
 * relevant history items,
 *   p = σ(s · (2 · min(m, 3)/3 − 1) + b + pop(c)),   s = `signal`, b = −0.9,
 * and the label ~ Bernoulli(p). Which history items matter depends on the candidate (target
 * attention), and for the same history and candidate on the group: a majority user clicks a
 * candidate of a favourite category and ignores a shifted favourite, a minority user the
 * reverse. With the defaults the click rate is about 0.30 and the AUC of the true p about
 * 0.88 in each group; within a group, the other group's rule (counting the other
 * category's items) scores an AUC of about 0.41, below chance.
 *
 * Everything is a function of the seeds, so a seed gives the same data on every machine;
 * `sampleSeed` draws other samples (e.g. a test set) of the same world.
 */
import { ArgumentError } from '../errors';
import { Rng } from '../random';
import { checkInt, checkKnownKeys, checkNumber, checkOptions, checkRange, invalid } from '../validate';

/** The click logit's intercept b (see the file comment). */
const BIAS = -0.9;
/** The probability that a candidate is of a favourite category, and that it is of a shifted favourite. */
const TARGETED = 0.25;

/** Options of {@link syntheticSequences}. */
export interface SyntheticSequencesOptions {
  /** Number of samples n. */
  samples: number;
  /** Distinct items (default 1000); at least `categories`. */
  items?: number;
  /** Item categories C (default 20); at least 2. */
  categories?: number;
  /** Share of the minority group (default 0.1). */
  minorityShare?: number;
  /** Shortest history (default 5); at least 1. */
  minLen?: number;
  /** Longest history (default 50); at least `minLen`. */
  maxLen?: number;
  /** Probability that a history item is of a favourite category rather than uniform (default 0.7). */
  focus?: number;
  /** s, the scale of the relevance term in the click logit: larger is less noisy labels (default 2). */
  signal?: number;
  /** Standard deviation of the items' popularity term in the click logit (default 0.3). */
  popularity?: number;
  /** Seed of the world: the item categories, π and the popularity (default 1). */
  seed?: number;
  /** Seed of the samples only (default: seed); the world stays that of `seed`. */
  sampleSeed?: number;
}

/** What {@link syntheticSequences} returns: the candidates, the histories, the groups and the clicks. */
export interface SyntheticSequences {
  /** Number of samples n. */
  samples: number;
  /** Distinct items; ids are in [0, items). */
  items: number;
  /** Item categories C. */
  categories: number;
  /** The `maxLen` option: no history is longer. */
  maxLen: number;
  /** All histories concatenated, item ids. */
  history: BigInt64Array;
  /** (n + 1): the history of sample b is history[offsets[b] .. offsets[b+1]), oldest first. */
  offsets: Int32Array;
  /** (n) the candidate item of each sample. */
  candidate: BigInt64Array;
  /** (n) 0 = majority, 1 = minority. */
  group: Uint8Array;
  /** (n) 0/1 clicks. */
  label: Float32Array;
  /** (n) the true click probability p. */
  probability: Float32Array;
  /** (items) cat(i), the category of each item. */
  itemCategory: Int32Array;
  /** (C) π, the minority's shift: its relevant history items for candidate c are those of category π(cat(c)). */
  categoryShift: Int32Array;
}

/** The histories of a data set, as {@link padHistories} and {@link sliceHistories} read them. */
export type SequenceHistories = Pick<SyntheticSequences, 'samples' | 'history' | 'offsets'>;

/** Draws the data set (see the file comment). */
export function syntheticSequences(options: SyntheticSequencesOptions): SyntheticSequences {
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['samples', 'items', 'categories', 'minorityShare', 'minLen', 'maxLen', 'focus', 'signal', 'popularity', 'seed', 'sampleSeed']);
  const n = checkInt(o.samples, 'options.samples', 1, 2 ** 31 - 2);
  const categories = checkInt(o.categories ?? 20, 'options.categories', 2);
  const items = checkInt(o.items ?? 1000, 'options.items', categories, 2 ** 31 - 1);
  const share = checkRange(o.minorityShare ?? 0.1, 'options.minorityShare', 0, 1);
  const minLen = checkInt(o.minLen ?? 5, 'options.minLen', 1);
  const maxLen = checkInt(o.maxLen ?? 50, 'options.maxLen', minLen);
  const focus = checkRange(o.focus ?? 0.7, 'options.focus', 0, 1);
  const s = checkNumber(o.signal ?? 2, 'options.signal');
  const popScale = checkRange(o.popularity ?? 0.3, 'options.popularity', 0, Infinity, 'a non-negative number');
  const seed = checkInt(o.seed ?? 1, 'options.seed', 0, Number.MAX_SAFE_INTEGER);
  const sampleSeed = checkInt(o.sampleSeed ?? seed, 'options.sampleSeed', 0, Number.MAX_SAFE_INTEGER);
  if (n * maxLen > 2 ** 31 - 1) throw invalid(`at most ${Math.floor((2 ** 31 - 1) / maxLen)} samples for histories of up to ${maxLen} items`, 'options.samples', n);

  // The world.
  const world = new Rng(seed);
  const itemCategory = new Int32Array(items);
  for (let i = 0; i < items; ++i) itemCategory[i] = i % categories;
  world.shuffle(itemCategory);
  const byCategory: number[][] = Array.from({ length: categories }, () => []);
  itemCategory.forEach((c, i) => byCategory[c].push(i));
  const shift = new Int32Array(categories);
  for (let fixed = true; fixed; ) {
    for (let c = 0; c < categories; ++c) shift[c] = c;
    world.shuffle(shift);
    fixed = shift.some((v, c) => v === c);
  }
  const unshift = new Int32Array(categories);
  shift.forEach((v, c) => (unshift[v] = c));
  const pop = Float64Array.from({ length: items }, () => world.normal() * popScale);

  // The samples: a stream derived from sampleSeed, distinct from the world's for sampleSeed = seed.
  const rng = new Rng(new Rng(sampleSeed).seed());
  const pick = (c: number) => byCategory[c][rng.int(byCategory[c].length)];
  const lengths = new Int32Array(n);
  const offsets = new Int32Array(n + 1);
  for (let b = 0; b < n; ++b) {
    lengths[b] = minLen + rng.int(maxLen - minLen + 1);
    offsets[b + 1] = offsets[b] + lengths[b];
  }
  const out: SyntheticSequences = {
    samples: n,
    items,
    categories,
    maxLen,
    history: new BigInt64Array(offsets[n]),
    offsets,
    candidate: new BigInt64Array(n),
    group: new Uint8Array(n),
    label: new Float32Array(n),
    probability: new Float32Array(n),
    itemCategory,
    categoryShift: shift,
  };
  const historyCats = new Int32Array(maxLen);
  for (let b = 0; b < n; ++b) {
    const g = rng.uniform() < share ? 1 : 0;
    const f1 = rng.int(categories);
    let f2 = rng.int(categories - 1);
    if (f2 >= f1) ++f2;
    const len = lengths[b];
    for (let k = 0; k < len; ++k) {
      const item = rng.uniform() < focus ? pick(rng.uniform() < 0.5 ? f1 : f2) : rng.int(items);
      out.history[offsets[b] + k] = BigInt(item);
      historyCats[k] = itemCategory[item];
    }
    const u = rng.uniform();
    const fav = rng.uniform() < 0.5 ? f1 : f2;
    const cand = u < TARGETED ? pick(fav) : u < 2 * TARGETED ? pick(unshift[fav]) : rng.int(items);
    const relevant = g ? shift[itemCategory[cand]] : itemCategory[cand];
    let m = 0;
    for (let k = 0; k < len; ++k) if (historyCats[k] === relevant) ++m;
    const p = 1 / (1 + Math.exp(-(s * ((2 * Math.min(m, 3)) / 3 - 1) + BIAS + pop[cand])));
    out.candidate[b] = BigInt(cand);
    out.group[b] = g;
    out.probability[b] = p;
    out.label[b] = rng.uniform() < p ? 1 : 0;
  }
  return out;
}

/** Checks a data set's histories and the chosen rows; returns the rows as numbers. */
function checkRows(data: SequenceHistories, rows: ArrayLike<number>): ArrayLike<number> {
  checkOptions(data, 'data');
  if (!(data.history instanceof BigInt64Array)) throw invalid('a BigInt64Array', 'data.history', data.history);
  if (!(data.offsets instanceof Int32Array) || data.offsets.length !== data.samples + 1) {
    throw invalid(`an Int32Array of data.samples + 1 = ${data.samples + 1} offsets`, 'data.offsets', data.offsets);
  }
  if (rows === null || typeof rows !== 'object' || typeof rows.length !== 'number') throw invalid('an array of row indices', 'rows', rows);
  for (let i = 0; i < rows.length; ++i) checkInt(rows[i], `rows[${i}]`, 0, data.samples - 1);
  return rows;
}

/**
 * The histories of `rows` as a dense (rows.length × L) batch, oldest first and padded with 0n
 * on the right, with each row's length (the number of real items; 0n is also a real item id,
 * so mask with `lengths`). L = `maxLen`, or by default the longest history among the rows;
 * a history longer than L keeps its L most recent items.
 *
 * @throws ArgumentError for rows that are not integers in [0, data.samples), or a bad maxLen.
 */
export function padHistories(
  data: SequenceHistories,
  rows: ArrayLike<number>,
  maxLen?: number,
): {
  /** (rows.length × L) the histories, row-major, padded with 0n on the right. */
  ids: BigInt64Array;
  /** (rows.length) each row's real items. */
  lengths: Int32Array;
  /** L, the padded length. */
  maxLen: number;
} {
  checkRows(data, rows);
  const { history, offsets } = data;
  let L = 0;
  if (maxLen === undefined) for (let i = 0; i < rows.length; ++i) L = Math.max(L, offsets[rows[i] + 1] - offsets[rows[i]]);
  else L = checkInt(maxLen, 'maxLen', 1, 2 ** 31 - 1);
  if (rows.length * L > 2 ** 30) throw new ArgumentError(`Expected at most 2^30 padded ids but received ${rows.length} rows × ${L}`);
  const ids = new BigInt64Array(rows.length * L);
  const lengths = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; ++i) {
    const end = offsets[rows[i] + 1];
    const start = Math.max(offsets[rows[i]], end - L);
    ids.set(history.subarray(start, end), i * L);
    lengths[i] = end - start;
  }
  return { ids, lengths, maxLen: L };
}

/**
 * The histories of `rows` as a jagged batch: the history of the i-th row is
 * ids[offsets[i] .. offsets[i+1]), oldest first (e.g. for EmbeddingTable.lookupBag).
 *
 * @throws ArgumentError for rows that are not integers in [0, data.samples).
 */
export function sliceHistories(
  data: SequenceHistories,
  rows: ArrayLike<number>,
): {
  /** Every row's history, concatenated. */
  ids: BigInt64Array;
  /** (rows.length) where each row's history starts in ids. */
  offsets: Int32Array;
} {
  checkRows(data, rows);
  const { history, offsets: from } = data;
  const offsets = new Int32Array(rows.length + 1);
  for (let i = 0; i < rows.length; ++i) offsets[i + 1] = offsets[i] + from[rows[i] + 1] - from[rows[i]];
  const ids = new BigInt64Array(offsets[rows.length]);
  for (let i = 0; i < rows.length; ++i) ids.set(history.subarray(from[rows[i]], from[rows[i] + 1]), offsets[i]);
  return { ids, offsets };
}
