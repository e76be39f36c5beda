/**
 * AUC per group (per user, per domain) and GAUC, the impression-weighted mean of the
 * per-user AUCs (Zhu et al., "Optimized Cost per Click in Taobao Display Advertising",
 * KDD 2017; the DIN paper's GAUC):
 *
 *   GAUC = Σ_u n_u · AUC_u / Σ_u n_u,
 *
 * over the users u that have at least one positive and one negative, where n_u is the
 * number of u's rows (impressions). Users with a single class have no AUC and are left out
 * of both sums.
 */
import { aucOfRows } from './auc';
import { checkGroups, checkLabels, checkScores, GroupArray, NumberArray } from './inputs';

/** The AUC of one group and what it was computed from. */
export interface GroupAuc {
  /** The group's AUC; NaN when the group has only one class. */
  auc: number;
  /** The group's rows. */
  n: number;
  /** The group's rows labelled 1. */
  positives: number;
}

/**
 * AUC of each group: `groups[i]` is row i's group id (a number, a string or a bigint; 1
 * and 1n are different ids, as in a Map). Groups appear in the Map in order of first
 * appearance.
 *
 * @throws ArgumentError for NaN scores, labels other than 0/1, a NaN or non-key group id,
 *   or lengths that differ.
 */
export function groupedAuc<K extends number | string | bigint>(scores: NumberArray, labels: NumberArray, groups: ArrayLike<K>): Map<K, GroupAuc> {
  const s = checkScores(scores);
  const y = checkLabels(labels, s.length);
  const g = checkGroups(groups, s.length) as ArrayLike<K>;
  // Count first, then fill one flat index array group by group (no per-group JS arrays).
  const slot = new Map<K, number>();
  const groupOf = new Uint32Array(s.length);
  const counts: number[] = [];
  for (let i = 0; i < s.length; ++i) {
    let k = slot.get(g[i]);
    if (k === undefined) {
      k = counts.length;
      slot.set(g[i], k);
      counts.push(0);
    }
    groupOf[i] = k;
    counts[k] += 1;
  }
  const start = new Uint32Array(counts.length + 1);
  for (let k = 0; k < counts.length; ++k) start[k + 1] = start[k] + counts[k];
  const rows = new Uint32Array(s.length);
  const fill = start.slice(0, counts.length);
  for (let i = 0; i < s.length; ++i) rows[fill[groupOf[i]]++] = i;

  const out = new Map<K, GroupAuc>();
  for (const [key, k] of slot) {
    const mine = rows.subarray(start[k], start[k + 1]);
    let positives = 0;
    for (const r of mine) positives += y[r];
    out.set(key, { auc: aucOfRows(s, y, null, mine), n: mine.length, positives });
  }
  return out;
}

/**
 * GAUC: the mean of the per-user AUCs weighted by each user's number of rows, over the
 * users having both a positive and a negative (see the file's header). Returns NaN when no
 * user has both classes.
 *
 * @param users row i's user id (a number, a string or a bigint).
 * @throws ArgumentError as {@link groupedAuc}.
 */
export function gauc(scores: NumberArray, labels: NumberArray, users: GroupArray): number {
  let num = 0;
  let den = 0;
  for (const g of groupedAuc(scores, labels, users).values()) {
    if (g.positives === 0 || g.positives === g.n) continue;
    num += g.n * g.auc;
    den += g.n;
  }
  return den > 0 ? num / den : NaN;
}
