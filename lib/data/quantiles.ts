/**
 * Equal-frequency bucket boundaries from a distribution given as ascending distinct values and
 * their counts (exact, or a sketch's bins).
 */

/** The index of the first element of `sorted` above x (the number of elements <= x). */
export function upperBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * At most `buckets` buckets holding about equal numbers of values: the boundaries are the
 * first value of every bucket after the first (bucket k holds boundaries[k-1] <= x <
 * boundaries[k]). Each cut goes, of the two edges of the value it falls on, to the one nearer
 * an equal share of what is left, so a value repeated more than a bucket's share (the zeros of
 * a mostly-zero column) takes a bucket of its own and the rest share the remaining buckets
 * evenly. Fewer buckets come back when there are fewer distinct values.
 */
export function equalFrequencyBoundaries(values: ArrayLike<number>, counts: ArrayLike<number>, buckets: number): number[] {
  const R = values.length;
  let total = 0;
  for (let r = 0; r < R; ++r) total += counts[r];
  const out: number[] = [];
  let i = 0; // the first run of the current bucket
  let taken = 0; // values before run i
  for (let left = buckets; left > 1 && i < R; --left) {
    const target = taken + (total - taken) / left;
    let j = i;
    let before = taken; // values before run j
    while (j < R - 1 && before + counts[j] < target) before += counts[j++];
    const after = before + counts[j];
    // Cut before run j (when the bucket keeps something) or after it, whichever is nearer the target.
    const cutBefore = j > i && target - before < after - target;
    const next = cutBefore ? j : j + 1;
    if (next >= R) break;
    out.push(values[next]);
    taken = cutBefore ? before : after;
    i = next;
  }
  return out;
}
