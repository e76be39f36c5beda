/** Gradient clipping by global norm (one fused, deterministic reduction over all grads). */
import { noGrad } from '../autograd';
import { native } from '../native';
import { empty, Tensor } from '../tensor';
import { checkPositive, invalid } from '../validate';

/**
 * Scales all gradients so that their global L2 norm is at most `maxNorm`. Returns the norm
 * before clipping as a one-element tensor on the gradients' device (no host sync; call
 * `.item()` to read it). A non-finite norm leaves the gradients unscaled.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor {
  if (!Array.isArray(params)) throw invalid('an array of parameters', 'params', params);
  checkPositive(maxNorm, 'maxNorm');
  const grads = params.filter((p, i) => {
    if (!(p instanceof Tensor)) throw invalid('a Tensor', `params[${i}]`, p);
    return p.grad !== null;
  }).map((p) => p.grad!);
  return noGrad(() => {
    const norm = empty([1], { device: grads[0]?.device ?? params[0]?.device });
    if (grads.length === 0) {
      native.fill(norm._h, 0);
      return norm;
    }
    native.gradNorm(grads.map((g) => g._h), norm._h);
    native.clipByNorm(grads.map((g) => g._h), norm._h, maxNorm);
    return norm;
  });
}
