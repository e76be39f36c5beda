/**
 * Neural-network ops: (log-)softmax with an optional mask, and dropout driven by counter-
 * based Philox (a seed gives the same mask on CPU and CUDA). Native: native/ops/softmax,
 * native/ops/dropout.
 */
import { record } from '../autograd';
import { ShapeError } from '../errors';
import { native } from '../native';
import { defaultRng } from '../random';
import { checkTensor, empty, Tensor } from '../tensor';
import { checkBoolean, checkInt, checkNumber, checkOptions, checkRange, invalid } from '../validate';
import { f32, sameDevice } from './common';

/** Options of {@link softmax}. */
export interface SoftmaxOptions {
  /** uint8, x's shape or (cols): 0 excludes an entry (its logit is −∞). A fully masked row gives zeros. */
  mask?: Tensor | null;
  /** Multiplies the logits first (e.g. 1/√d, or 1/temperature). Default 1. */
  scale?: number;
  /** log-softmax instead (default false). */
  log?: boolean;
}

/** softmax over the last dimension. */
export function softmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
  f32(x, 'x');
  const o = checkOptions(options, 'options');
  const mask = o.mask ?? null;
  const scale = checkNumber(o.scale ?? 1, 'options.scale');
  const isLog = checkBoolean(o.log ?? false, 'options.log');
  if (x.ndim < 1) throw new ShapeError('softmax needs at least one dimension');
  if (mask !== null) {
    checkTensor(mask, 'options.mask', 'uint8');
    sameDevice([[x, 'x'], [mask, 'options.mask']]);
    const cols = x.shape[x.ndim - 1];
    if (!(mask.shape.join() === x.shape.join() || (mask.ndim === 1 && mask.shape[0] === cols))) {
      throw new ShapeError(`Expected shape [${x.shape}] or [${cols}] for options.mask but received [${mask.shape}]`);
    }
  }
  const out = empty(x.shape, { device: x.device });
  native.softmax(x._h, mask?._h ?? null, scale, out._h, isLog);
  return record(out, isLog ? 'logSoftmax' : 'softmax', [x], (g) => {
    const gx = empty(x.shape, { device: x.device });
    native.softmaxBackward(g._h, out._h, gx._h, isLog, scale);
    return [gx];
  });
}

/** log-softmax over the last dimension. */
export function logSoftmax(x: Tensor, options: Omit<SoftmaxOptions, 'log'> = {}): Tensor {
  return softmax(x, { ...checkOptions(options, 'options'), log: true });
}

/** A Philox seed or counter offset as the binding takes it: a non-negative integer or bigint. */
export function philoxSeed(value: number | bigint, name: string): bigint {
  return typeof value === 'bigint' ? value : BigInt(checkInt(value, name, 0));
}

/**
 * Options of {@link dropout}: the Philox stream the mask is drawn from (the same seed and offset
 * give the same mask on CPU and CUDA).
 */
export interface DropoutOptions {
  /** Philox seed (default: drawn from the global generator, see manualSeed). */
  seed?: number | bigint;
  /** Philox counter offset (default 0). */
  offset?: number;
}

/** Zeroes each element with probability p and scales the rest by 1/(1−p). */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  f32(x, 'x');
  checkRange(p, 'p', 0, 1);
  if (p === 1) throw invalid('a probability in [0, 1)', 'p', p);
  const o = checkOptions(options, 'options');
  const seed = o.seed === undefined ? BigInt(defaultRng().seed()) : philoxSeed(o.seed, 'options.seed');
  const offset = philoxSeed(o.offset ?? 0, 'options.offset');
  if (p === 0) return x;
  const out = empty(x.shape, { device: x.device });
  const mask = empty(x.shape, { dtype: 'uint8', device: x.device });
  native.dropout(x._h, p, seed, offset, out._h, mask._h);
  return record(out, 'dropout', [x], (g) => {
    const gx = empty(x.shape, { device: x.device });
    native.dropoutBackward(g._h, mask._h, p, gx._h);
    return [gx];
  });
}

/** Uniform [0, 1) floats from Philox(seed, offset): identical on CPU and CUDA. */
export function philoxUniform(shape: readonly number[], seed: number | bigint, options: { offset?: number; device?: 'cpu' | 'cuda' } = {}): Tensor {
  const out = empty(shape, { device: options.device });
  native.philoxUniform(philoxSeed(seed, 'seed'), philoxSeed(options.offset ?? 0, 'options.offset'), out._h);
  return out;
}

/** A uint8 mask that is 1 with probability 1 − p (Philox, same on CPU and CUDA). */
export function bernoulliMask(shape: readonly number[], p: number, seed: number | bigint, options: { offset?: number; device?: 'cpu' | 'cuda' } = {}): Tensor {
  checkRange(p, 'p', 0, 1);
  const mask = empty(shape, { dtype: 'uint8', device: options.device });
  native.bernoulliMask(p, philoxSeed(seed, 'seed'), philoxSeed(options.offset ?? 0, 'options.offset'), mask._h);
  return mask;
}
