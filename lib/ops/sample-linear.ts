/** sampleLinear: the per-sample linear layer of the dynamic-weight family (native/ops/sample_linear). */
import { record } from '../autograd';
import { ShapeError } from '../errors';
import { native } from '../native';
import { empty, Tensor } from '../tensor';
import { checkOneOf } from '../validate';
import { Activation, ACTIVATIONS } from './activation';
import { f32, sameDevice } from './common';

/**
 * A linear layer whose weight is generated per sample: y[b] = act(x[b]·W[b] + bias[b]) for x (B,
 * in), weight (B, in, out) and bias (B, out) or null, giving (B, out). The kernel of the
 * dynamic-weight family (APG's K×K core, M2M's meta units). Gradients reach x, weight and bias
 * (weight and bias are usually a generator's outputs). `act` defaults to 'identity'.
 */
export function sampleLinear(x: Tensor, weight: Tensor, bias: Tensor | null = null, act: Activation = 'identity'): Tensor {
  f32(x, 'x');
  f32(weight, 'weight');
  if (bias !== null) f32(bias, 'bias');
  checkOneOf(act, 'act', ACTIVATIONS);
  sameDevice([[x, 'x'], [weight, 'weight'], [bias, 'bias']]);
  if (x.ndim !== 2) throw new ShapeError(`Expected shape [batch, in] for x but received [${x.shape}]`);
  const [B, inF] = x.shape;
  if (weight.ndim !== 3 || weight.shape[0] !== B || weight.shape[1] !== inF) throw new ShapeError(`Expected shape [${B}, ${inF}, out] for weight but received [${weight.shape}]`);
  const outF = weight.shape[2];
  if (bias && (bias.ndim !== 2 || bias.shape[0] !== B || bias.shape[1] !== outF)) throw new ShapeError(`Expected shape [${B}, ${outF}] for bias but received [${bias.shape}]`);
  const y = empty([B, outF], { device: x.device });
  const pre = act === 'identity' ? null : empty([B, outF], { device: x.device });
  native.sampleLinear(x._h, weight._h, bias?._h ?? null, act, 0.01, y._h, pre?._h ?? null);
  return record(y, 'sampleLinear', [x, weight, bias], (gy) => {
    let dpre = gy;
    if (pre) {
      dpre = empty([B, outF], { device: x.device });
      native.activationBackward(act, gy._h, pre._h, null, dpre._h, 0.01);
    }
    const dx = x.requiresGrad ? empty(x.shape, { device: x.device }) : null;
    const dw = weight.requiresGrad ? empty(weight.shape, { device: x.device }) : null;
    if (dx || dw) native.sampleLinearBackward(x._h, weight._h, dpre._h, dx?._h ?? null, dw?._h ?? null);
    // dbias is dpre itself: the one we allocated, or a copy of the incoming gradient
    let db: Tensor | null = null;
    if (bias?.requiresGrad) db = dpre !== gy ? dpre : empty([B, outF], { device: x.device }).copyFrom(gy);
    if (dpre !== gy && dpre !== db) dpre.dispose();
    return [dx, dw, db];
  });
}
