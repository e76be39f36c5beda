/** Log loss (binary cross-entropy) of predicted probabilities, the probabilities clipped away from 0 and 1. */
import { invalid } from '../validate';
import { checkLabels, checkNumberArray, checkWeights, NumberArray } from './inputs';

/** Probabilities are clipped to [LOGLOSS_EPS, 1 − LOGLOSS_EPS] so that a confident miss costs at most −log(1e-7) ≈ 16.1. */
export const LOGLOSS_EPS = 1e-7;

/**
 * Mean of −[y·log p + (1 − y)·log(1 − p)] over the rows, with p clipped to
 * [1e-7, 1 − 1e-7]; NaN for an empty input. With `weights`, the weighted mean
 * Σ w·ℓ / Σ w (a row of weight 2 counts as the row twice); NaN when every weight is 0.
 *
 * @param probs probabilities in [0, 1] (not logits); anything else throws.
 * @param labels 0 or 1, one per probability.
 * @param weights optional finite non-negative sample weights, one per probability.
 * @throws ArgumentError naming the argument (and the element) that is wrong.
 */
export function logloss(probs: NumberArray, labels: NumberArray, weights?: NumberArray): number {
  const p = checkNumberArray(probs, 'probs');
  const y = checkLabels(labels, p.length, 'labels', 'probability');
  const w = weights === undefined ? null : checkWeights(weights, p.length);
  let total = 0;
  let mass = 0;
  for (let i = 0; i < p.length; ++i) {
    const v = p[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw invalid('a probability in [0, 1]', `probs[${i}]`, v);
    const q = Math.min(Math.max(v, LOGLOSS_EPS), 1 - LOGLOSS_EPS);
    const wi = w === null ? 1 : w[i];
    total -= wi * (y[i] === 1 ? Math.log(q) : Math.log(1 - q));
    mass += wi;
  }
  return mass > 0 ? total / mass : NaN;
}
