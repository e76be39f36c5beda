/**
 * Exact ROC AUC: the probability that a random positive scores above a random negative,
 * ties counted as one half (the Mann–Whitney U statistic divided by P·N). Computed by
 * sorting, O(n log n), in float64, so it equals the pairwise count exactly. With sample
 * weights each (positive, negative) pair counts w⁺·w⁻ (sklearn's `roc_auc_score` with
 * `sample_weight`).
 */
import { checkScores, checkLabels, checkWeights, NumberArray } from './inputs';

/**
 * ROC AUC of `scores` against 0/1 `labels`, optionally weighted per sample.
 *
 * Returns NaN when only one class is present (no positive or no negative, or every weight
 * of one class is 0), as the AUC is then undefined; an empty input gives NaN too.
 *
 * @param scores any real numbers (higher means more likely positive); NaN throws.
 * @param labels 0 or 1, one per score; anything else throws.
 * @param weights optional finite non-negative sample weights, one per score.
 * @throws ArgumentError naming the argument (and the element) that is wrong.
 */
export function auc(scores: NumberArray, labels: NumberArray, weights?: NumberArray): number {
  const s = checkScores(scores);
  const y = checkLabels(labels, s.length);
  const w = weights === undefined ? null : checkWeights(weights, s.length);
  const rows = new Uint32Array(s.length);
  for (let i = 0; i < rows.length; ++i) rows[i] = i;
  return aucOfRows(s, y, w, rows);
}

/**
 * @internal AUC of the rows listed in `rows` (reordered here). Inputs already checked.
 * Walks the rows by ascending score, one block of tied scores at a time: each positive of a
 * block beats every negative of the blocks below and ties with the negatives of its own.
 */
export function aucOfRows(s: NumberArray, y: NumberArray, w: NumberArray | null, rows: Uint32Array): number {
  return w === null ? unweighted(s, y, rows) : weighted(s, y, w, rows);
}

/** Sorts each class's scores with the typed array's own numeric sort (no comparator: fast), then merges. */
function unweighted(s: NumberArray, y: NumberArray, rows: Uint32Array): number {
  let nPos = 0;
  for (const r of rows) nPos += y[r];
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(rows.length - nPos);
  let p = 0;
  let q = 0;
  for (const r of rows) {
    if (y[r] === 1) pos[p++] = s[r];
    else neg[q++] = s[r];
  }
  if (pos.length === 0 || neg.length === 0) return NaN;
  pos.sort();
  neg.sort();
  let acc = 0;
  let i = 0;
  let j = 0;
  while (i < pos.length) {
    const v = j < neg.length && neg[j] < pos[i] ? neg[j] : pos[i];
    const j0 = j;
    while (j < neg.length && neg[j] === v) ++j;
    let tiedPos = 0;
    while (i < pos.length && pos[i] === v) {
      ++i;
      ++tiedPos;
    }
    // neg[0, j0) lie below v; neg[j0, j) tie with it.
    acc += tiedPos * (j0 + 0.5 * (j - j0));
  }
  return acc / (pos.length * neg.length);
}

function weighted(s: NumberArray, y: NumberArray, w: NumberArray, rows: Uint32Array): number {
  rows.sort((a, b) => (s[a] < s[b] ? -1 : s[a] > s[b] ? 1 : 0));
  let negBelow = 0;
  let pos = 0;
  let acc = 0;
  for (let i = 0; i < rows.length; ) {
    const v = s[rows[i]];
    let wp = 0;
    let wn = 0;
    for (; i < rows.length && s[rows[i]] === v; ++i) {
      const r = rows[i];
      if (y[r] === 1) wp += w[r];
      else wn += w[r];
    }
    acc += wp * (negBelow + 0.5 * wn);
    negBelow += wn;
    pos += wp;
  }
  return pos > 0 && negBelow > 0 ? acc / (pos * negBelow) : NaN;
}
