/**
 * Seeded initializers. Each returns a new float32 leaf tensor; the values are drawn on the
 * host from an {@link Rng} (the global one unless given), so a seed gives the same weights
 * on CPU and CUDA.
 */
import { Device, defaultDevice } from '../backend';
import { defaultRng, Rng } from '../random';
import { keep } from '../scope';
import { shapeSize, tensor, Tensor } from '../tensor';
import { checkPositive, checkShape } from '../validate';

/** Options of the initializers. */
export interface InitOptions {
  /** Generator to draw from (default: the global one, see manualSeed). */
  rng?: Rng;
  /** Device of the result (default: the current backend's). */
  device?: Device;
  /** Make the result a parameter (default true). */
  requiresGrad?: boolean;
}

/** fan_in, fan_out of a weight shaped like PyTorch's: (out, in, ...receptive field). */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2) return [shape[0] ?? 1, shape[0] ?? 1];
  const field = shapeSize(shape.slice(2));
  return [shape[1] * field, shape[0] * field];
}

function make(shape: readonly number[], draw: (rng: Rng) => number, options: InitOptions): Tensor {
  checkShape(shape, 'shape');
  const rng = options.rng ?? defaultRng();
  const values = new Float32Array(shapeSize(shape));
  for (let i = 0; i < values.length; ++i) values[i] = draw(rng);
  const t = tensor(values, { shape, device: options.device ?? defaultDevice() });
  if (options.requiresGrad ?? true) t.requiresGrad_(true);
  return keep(t);
}

/** U(low, high). */
export function uniform(shape: readonly number[], low: number, high: number, options: InitOptions = {}): Tensor {
  return make(shape, (r) => low + (high - low) * r.uniform(), options);
}

/** N(mean, std²). */
export function normal(shape: readonly number[], mean: number, std: number, options: InitOptions = {}): Tensor {
  return make(shape, (r) => mean + std * r.normal(), options);
}

/** Glorot/Xavier uniform: U(±gain·√(6 / (fan_in + fan_out))). */
export function xavierUniform(shape: readonly number[], options: InitOptions & { gain?: number } = {}): Tensor {
  const [fi, fo] = fans(shape);
  const a = checkPositive(options.gain ?? 1, 'options.gain') * Math.sqrt(6 / (fi + fo));
  return uniform(shape, -a, a, options);
}

/** Glorot/Xavier normal: N(0, gain²·2 / (fan_in + fan_out)). */
export function xavierNormal(shape: readonly number[], options: InitOptions & { gain?: number } = {}): Tensor {
  const [fi, fo] = fans(shape);
  return normal(shape, 0, checkPositive(options.gain ?? 1, 'options.gain') * Math.sqrt(2 / (fi + fo)), options);
}

/** He/Kaiming uniform for ReLU: U(±√(6 / fan_in)). */
export function heUniform(shape: readonly number[], options: InitOptions = {}): Tensor {
  const a = Math.sqrt(6 / fans(shape)[0]);
  return uniform(shape, -a, a, options);
}

/** He/Kaiming normal for ReLU: N(0, 2 / fan_in). */
export function heNormal(shape: readonly number[], options: InitOptions = {}): Tensor {
  return normal(shape, 0, Math.sqrt(2 / fans(shape)[0]), options);
}

/** Constant value (biases). */
export function constant(shape: readonly number[], value: number, options: InitOptions = {}): Tensor {
  return make(shape, () => value, options);
}
