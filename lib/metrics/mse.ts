/** Mean squared error of real-valued predictions (regression tasks such as watch time). */
import { invalid } from '../validate';
import { checkLength, checkNumberArray, checkWeights, NumberArray } from './inputs';

/**
 * Mean of (prediction − target)² over the rows, summed in float64; NaN for an empty input.
 * With `weights`, the weighted mean Σ w·(p − t)² / Σ w; NaN when every weight is 0.
 * @throws ArgumentError naming the argument (and the element) that is not a finite number.
 */
export function meanSquaredError(predictions: NumberArray, targets: NumberArray, weights?: NumberArray): number {
  const p = checkNumberArray(predictions, 'predictions');
  const t = checkNumberArray(targets, 'targets');
  checkLength(t, p.length, 'targets', 'targets', 'prediction');
  const w = weights === undefined ? null : checkWeights(weights, p.length);
  let total = 0;
  let mass = 0;
  for (let i = 0; i < p.length; ++i) {
    if (!Number.isFinite(p[i])) throw invalid('a finite number', `predictions[${i}]`, p[i]);
    if (!Number.isFinite(t[i])) throw invalid('a finite number', `targets[${i}]`, t[i]);
    const wi = w === null ? 1 : w[i];
    total += wi * (p[i] - t[i]) ** 2;
    mass += wi;
  }
  return mass > 0 ? total / mass : NaN;
}
