/** Activations and their gradients. Native: native/ops/activation. */
import { record } from '../autograd';
import { native } from '../native';
import { empty, Tensor } from '../tensor';
import { checkOneOf, checkRange } from '../validate';
import { f32 } from './common';

export const ACTIVATIONS = ['identity', 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu'] as const;
/** An activation, as fused into GEMM epilogues and gates. gelu is the exact erf form. */
export type Activation = (typeof ACTIVATIONS)[number];

/** act(x) element-wise; `slope` is leaky_relu's negative slope (default 0.01). */
export function activation(x: Tensor, act: Activation, slope = 0.01): Tensor {
  f32(x, 'x');
  checkOneOf(act, 'act', ACTIVATIONS);
  checkRange(slope, 'slope', 0, 1);
  if (act === 'identity') return x;
  const out = empty(x.shape, { device: x.device });
  native.activation(act, x._h, out._h, slope);
  return record(out, act, [x], (g) => {
    const gx = empty(x.shape, { device: x.device });
    native.activationBackward(act, g._h, act === 'gelu' || act === 'leaky_relu' ? x._h : null, act === 'gelu' || act === 'leaky_relu' ? null : out._h, gx._h, slope);
    return [gx];
  });
}

export const relu = (x: Tensor): Tensor => activation(x, 'relu');
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => activation(x, 'leaky_relu', slope);
export const sigmoid = (x: Tensor): Tensor => activation(x, 'sigmoid');
export const tanh = (x: Tensor): Tensor => activation(x, 'tanh');
export const gelu = (x: Tensor): Tensor => activation(x, 'gelu');

declare module '../tensor' {
  interface Tensor {
    relu(): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    gelu(): Tensor;
  }
}
Tensor.prototype.relu = function () {
  return relu(this);
};
Tensor.prototype.sigmoid = function () {
  return sigmoid(this);
};
Tensor.prototype.tanh = function () {
  return tanh(this);
};
Tensor.prototype.gelu = function () {
  return gelu(this);
};
