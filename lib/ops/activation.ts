/** Activations and their gradients. Native: native/ops/activation. */
import { record } from '../autograd';
import { native } from '../native';
import { empty, Tensor } from '../tensor';
import { checkOneOf, checkRange } from '../validate';
import { f32 } from './common';

/** The activations the kernels fuse (GEMM epilogues, gates, {@link activation}). */
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

/** max(x, 0), element-wise. */
export const relu = (x: Tensor): Tensor => activation(x, 'relu');
/** x for x ≥ 0, slope·x below (slope default 0.01), element-wise. */
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => activation(x, 'leaky_relu', slope);
/** 1 / (1 + e^−x), element-wise. */
export const sigmoid = (x: Tensor): Tensor => activation(x, 'sigmoid');
/** tanh(x), element-wise. */
export const tanh = (x: Tensor): Tensor => activation(x, 'tanh');
/** x·Φ(x), the exact (erf) GELU, element-wise. */
export const gelu = (x: Tensor): Tensor => activation(x, 'gelu');

declare module '../tensor' {
  interface Tensor {
    /** max(this, 0), see {@link relu}. */
    relu(): Tensor;
    /** Logistic sigmoid, see {@link sigmoid}. */
    sigmoid(): Tensor;
    /** Hyperbolic tangent, see {@link tanh}. */
    tanh(): Tensor;
    /** Exact (erf) GELU, see {@link gelu}. */
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
