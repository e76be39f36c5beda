/** Mean squared error of real-valued predictions (regression tasks such as watch time). */
import { invalid } from '../validate';
import { checkLength, checkNumberArray, NumberArray } from './inputs';

/**
 * Mean of (prediction − target)² over the rows, summed in float64; NaN for an empty input.
 * @throws ArgumentError naming the argument (and the element) that is not a finite number.
 */
export function meanSquaredError(predictions: NumberArray, targets: NumberArray): number {
  const p = checkNumberArray(predictions, 'predictions');
  const t = checkNumberArray(targets, 'targets');
  checkLength(t, p.length, 'targets', 'targets', 'prediction');
  let total = 0;
  for (let i = 0; i < p.length; ++i) {
    if (!Number.isFinite(p[i])) throw invalid('a finite number', `predictions[${i}]`, p[i]);
    if (!Number.isFinite(t[i])) throw invalid('a finite number', `targets[${i}]`, t[i]);
    total += (p[i] - t[i]) ** 2;
  }
  return p.length > 0 ? total / p.length : NaN;
}
