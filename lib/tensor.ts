/**
 * Tensor: an n-dimensional array living on the CPU or a CUDA device. Data stays on the
 * device between ops; `await t.toArray()` copies it out. Float32 values, int64 ids
 * (BigInt64Array), int32 and uint8 (masks). Layouts are dense row-major; `reshape` and
 * `narrow` along the first dimension are views sharing storage, other layout changes copy.
 */
import { backward as runBackward, BackwardOptions, record } from './autograd';
import { defaultDevice, Device } from './backend';
import { ArgumentError, DisposedError, DTypeError, fromNativeError, ShapeError } from './errors';
import { native, NativeTensor } from './native';
import { setTensorCheck, track } from './scope';
import type { GradFn } from './tensor-types';
import { checkInt, checkOneOf, checkShape, invalid } from './validate';

/**
 * Element type of a tensor: 32-bit floats (values, parameters), 32-bit ints, 64-bit ints (feature
 * ids, as BigInt) or bytes (masks, booleans).
 */
export type DType = 'float32' | 'int32' | 'int64' | 'uint8';
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'int32'
    ? Int32Array
    : D extends 'int64'
      ? BigInt64Array
      : Uint8Array;
/** Any typed array a tensor can be built from or copied into (one per {@link DType}). */
export type AnyTypedArray = Float32Array | Int32Array | BigInt64Array | Uint8Array;
/** Nested arrays of numbers (or bigints for int64). */
export type NestedArray = number | bigint | boolean | NestedArray[];

/** Options of `tensor()`: how to read the data and where to put the result. */
export interface TensorOptions {
  /** Shape; inferred from nested arrays, required for flat typed arrays of rank ≠ 1. */
  shape?: readonly number[];
  /** Element type (default: from the typed array, else float32). */
  dtype?: DType;
  /** Device (default: the current backend). */
  device?: Device;
  /** Track gradients for this leaf (default false). */
  requiresGrad?: boolean;
}

const DTYPES = ['float32', 'int32', 'int64', 'uint8'] as const;
const DEVICES = ['cpu', 'cuda'] as const;

/** Number of elements of a tensor of this shape (the product of its dimensions; 1 for `[]`, a scalar). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * An n-dimensional array on the CPU or a CUDA device, the value every op takes and returns. Data
 * stays on the device between ops; `await t.toArray()` copies it out. Layouts are dense row-major;
 * `reshape` and `narrow` along the first dimension are views sharing storage, other layout changes
 * copy.
 *
 * Create tensors with {@link tensor}, {@link zeros}, {@link ones}, {@link full} or {@link empty};
 * release them with `dispose()` or inside `tidy()`. A float32 tensor with `requiresGrad` is a leaf
 * whose gradient `backward()` accumulates into `.grad`.
 */
export class Tensor {
  /** @internal the native handle */
  readonly _h: NativeTensor;
  /** Size of each dimension, outermost first (`[]` for a scalar). Frozen. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** The device holding the data. */
  readonly device: Device;
  /** Whether gradients flow to this tensor. */
  requiresGrad = false;
  /** Accumulated gradient (leaves only), set by `backward()`. */
  grad: Tensor | null = null;
  /** @internal the op that produced this tensor, when it needs a gradient */
  _gradFn: GradFn<Tensor> | null = null;

  /** @internal use `tensor()`, `zeros()`… to create tensors. The caller may pass what it knows of the handle (its shape, dtype and device), sparing three calls into the addon. */
  constructor(handle: NativeTensor, shape?: readonly number[], dtype?: DType, device?: Device) {
    this._h = handle;
    this.shape = Object.freeze(shape ? shape.slice() : handle.shape.slice());
    this.dtype = dtype ?? (handle.dtype as DType);
    this.device = device ?? (handle.device as Device);
    track(this);
  }

  /** Number of elements. */
  get size(): number {
    return shapeSize(this.shape);
  }
  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }
  /** Whether `dispose()` has released this tensor (any further use throws DisposedError). */
  get disposed(): boolean {
    return this._h.disposed;
  }

  /** Releases the memory now; any later use throws DisposedError. Idempotent. */
  dispose(): void {
    this._h.dispose();
    this._gradFn = null;
  }

  /** @internal throws if disposed */
  _live(name = 'tensor'): NativeTensor {
    if (this._h.disposed) throw new DisposedError(`Tensor ${name} was disposed`);
    return this._h;
  }

  /**
   * Copies the values to JS. On CUDA the event loop stays free while queued kernels finish;
   * the values are those of every op issued before the call.
   */
  toArray(): Promise<TypedArrayFor<this['dtype']>> {
    try {
      return (native.toTypedArrayAsync(this._live()) as Promise<TypedArrayFor<this['dtype']>>).catch((e: unknown) => {
        throw fromNativeError(e);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Copies the values to JS synchronously. */
  toArraySync(): TypedArrayFor<this['dtype']> {
    return native.toTypedArray(this._live());
  }

  /** The values as a flat array of numbers (int64 beyond ±2^53 loses precision: use toArray). */
  values(): number[] {
    return Array.from(this.toArraySync() as ArrayLike<number | bigint>, Number);
  }

  /** The value of a one-element tensor as a number. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item() needs a one-element tensor, not shape [${this.shape}]`);
    const v = this.toArraySync()[0];
    return typeof v === 'bigint' ? Number(v) : v;
  }

  /** Nested JS arrays (for printing and tests). */
  toNested(): NestedArray {
    const flat = Array.from(this.toArraySync() as ArrayLike<number | bigint>);
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return flat[offset];
      const stride = shapeSize(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /** A copy on `device` (gradients flow back across the copy). */
  to(device: Device): Tensor {
    checkOneOf(device, 'device', DEVICES);
    if (device === this.device) return this;
    const out = new Tensor(native.toDevice(this._live(), device));
    return record(out, 'to', [this], (g) => [g.to(this.device)]);
  }

  /** A copy with its own storage (gradients flow back). */
  clone(): Tensor {
    const out = new Tensor(native.toDevice(this._live(), this.device));
    return record(out, 'clone', [this], (g) => [g]);
  }

  /** The same values, cut from the graph: no gradient flows through (stop-gradient). */
  detach(): Tensor {
    return new Tensor(native.view(this._live(), this.shape), this.shape, this.dtype, this.device);
  }

  /** Marks a leaf as needing gradients. Returns this. */
  requiresGrad_(flag = true): this {
    if (flag && this.dtype !== 'float32') throw new DTypeError(`only float32 tensors can require grad, not ${this.dtype}`);
    if (this._gradFn) throw new ArgumentError('requiresGrad_ can only be set on a leaf tensor; use detach() first');
    this.requiresGrad = flag;
    return this;
  }

  /** Back-propagates from this tensor (a scalar unless `gradient` is given). */
  backward(gradient?: Tensor, options?: BackwardOptions): void {
    runBackward(this, gradient, options);
  }

  /** A view with a new shape (one dimension may be -1). */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    const dims = (Array.isArray(shape[0]) ? shape[0] : shape) as number[];
    const resolved = resolveShape(dims, this.size, this.shape);
    const out = new Tensor(native.view(this._live(), resolved), resolved, this.dtype, this.device);
    return record(out, 'reshape', [this], (g) => [g.reshape(this.shape as number[])]);
  }
  /** Alias of reshape. */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return this.reshape(...shape);
  }
  /** Collapses all dimensions into one. */
  flatten(): Tensor {
    return this.reshape(this.size);
  }

  /** Rows [start, start + length) of the first dimension, as a view sharing storage. */
  narrow(start: number, length: number): Tensor {
    if (this.ndim === 0) throw new ShapeError('narrow() needs at least one dimension');
    checkInt(start, 'start', 0, this.shape[0]);
    checkInt(length, 'length', 0, this.shape[0] - start);
    const out = new Tensor(native.narrow0(this._live(), start, length));
    return record(out, 'narrow', [this], (g) => {
      const gx = zerosLike(this);
      gx.narrow(start, length).copyFrom(g);
      return [gx];
    });
  }

  /** Overwrites this tensor's values with `src`'s (same dtype and size, any device). */
  copyFrom(src: Tensor): this {
    if (!(src instanceof Tensor)) throw invalid('a Tensor', 'src', src);
    native.copy(this._live(), src._live('src'));
    return this;
  }

  /** A tensor of ones with this one's shape, dtype and device. */
  onesLike(): Tensor {
    return full(this.shape, 1, { dtype: this.dtype, device: this.device });
  }

  /**
   * A readable summary: the values (for up to 64 elements), shape, dtype, device and whether it
   * requires grad.
   */
  toString(): string {
    if (this.disposed) return 'Tensor(disposed)';
    const body = this.size <= 64 ? JSON.stringify(this.toNested(), (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) : '…';
    return `Tensor(${body}, shape=[${this.shape}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

setTensorCheck((v: unknown): v is Tensor => v instanceof Tensor);

/** Resolves a single -1 and checks the element count. */
function resolveShape(dims: number[], size: number, from: readonly number[]): number[] {
  const out = dims.slice();
  let infer = -1;
  out.forEach((d, i) => {
    if (d === -1 && infer < 0) infer = i;
    else if (!Number.isInteger(d) || d < 0) throw invalid('non-negative integer dimensions (one may be -1)', 'shape', dims);
  });
  if (infer >= 0) {
    const rest = shapeSize(out.filter((_, i) => i !== infer));
    if (rest === 0 || size % rest !== 0) throw new ShapeError(`cannot reshape [${from}] to [${dims}]`);
    out[infer] = size / rest;
  }
  if (shapeSize(out) !== size) throw new ShapeError(`cannot reshape [${from}] (${size} elements) to [${dims}]`);
  return out;
}

// ---- creation

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function flatten(data: NestedArray, shape: number[], dim: number, out: (number | bigint | boolean)[]): void {
  if (dim === shape.length) {
    if (Array.isArray(data)) throw new ShapeError('ragged nested array: every row must have the same length');
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) throw new ShapeError('ragged nested array: every row must have the same length');
  for (const d of data) flatten(d, shape, dim + 1, out);
}

function typedFor(dtype: DType, values: ArrayLike<number | bigint | boolean>): AnyTypedArray {
  const n = values.length;
  switch (dtype) {
    case 'float32': {
      const a = new Float32Array(n);
      for (let i = 0; i < n; ++i) a[i] = Number(values[i]);
      return a;
    }
    case 'int32': {
      const a = new Int32Array(n);
      for (let i = 0; i < n; ++i) a[i] = Number(values[i]);
      return a;
    }
    case 'int64': {
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; ++i) {
        const v = values[i];
        if (typeof v === 'number' && !Number.isSafeInteger(v)) throw invalid('integer ids', 'data', v);
        a[i] = BigInt(v as number | bigint);
      }
      return a;
    }
    case 'uint8': {
      const a = new Uint8Array(n);
      for (let i = 0; i < n; ++i) a[i] = Number(values[i]);
      return a;
    }
  }
}

/** The JS type of the first scalar in nested arrays (bigint data defaults to int64). */
function firstLeaf(data: unknown): string {
  let cur = data;
  while (Array.isArray(cur)) cur = cur[0];
  return typeof cur;
}

function dtypeOfTyped(a: unknown): DType | null {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Uint8Array) return 'uint8';
  return null;
}

/**
 * Creates a tensor from nested arrays, a flat array with `shape`, or a typed array
 * (Float32Array, Int32Array, BigInt64Array, Uint8Array; other typed arrays need `dtype`).
 */
export function tensor(data: NestedArray | AnyTypedArray | ArrayLike<number>, options: TensorOptions = {}): Tensor {
  const device = options.device === undefined ? defaultDevice() : checkOneOf(options.device, 'options.device', DEVICES);
  const typedDtype = dtypeOfTyped(data) ?? (firstLeaf(data) === 'bigint' ? 'int64' : null);
  const dtype = options.dtype === undefined ? (typedDtype ?? 'float32') : checkOneOf(options.dtype, 'options.dtype', DTYPES);
  let values: AnyTypedArray;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    const arr = data as unknown as ArrayLike<number>;
    values = typedDtype === dtype ? (data as AnyTypedArray) : typedFor(dtype, arr);
    shape = options.shape ? checkShape(options.shape, 'options.shape') : [arr.length];
  } else if (Array.isArray(data) || typeof data === 'number' || typeof data === 'bigint' || typeof data === 'boolean') {
    const inferred = inferShape(data as NestedArray);
    const flat: (number | bigint | boolean)[] = [];
    flatten(data as NestedArray, inferred, 0, flat);
    for (let i = 0; i < flat.length; ++i) {
      const v = flat[i];
      if (typeof v !== 'number' && typeof v !== 'boolean' && !(typeof v === 'bigint' && dtype === 'int64')) {
        throw invalid(dtype === 'int64' ? 'numbers or bigints' : 'numbers', `data[${i}]`, v);
      }
    }
    values = typedFor(dtype, flat);
    shape = options.shape ? checkShape(options.shape, 'options.shape') : inferred;
  } else {
    throw invalid('an array, a nested array or a typed array', 'data', data);
  }
  if (shapeSize(shape) !== values.length) {
    throw new ShapeError(`data has ${values.length} elements but shape [${shape}] needs ${shapeSize(shape)}`);
  }
  const t = new Tensor(native.fromTypedArray(values, shape, device));
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Options of the creation functions (`zeros`, `ones`, `full`, `empty`). */
export interface CreateOptions {
  /** Element type (default float32). */
  dtype?: DType;
  /** Device (default: the current backend's, see `defaultDevice()`). */
  device?: Device;
  /** Make the result a leaf that tracks gradients (default false; float32 only). */
  requiresGrad?: boolean;
}

function creationArgs(shape: readonly number[], options: CreateOptions): [number[], DType, Device] {
  return [
    checkShape(shape, 'shape'),
    options.dtype === undefined ? 'float32' : checkOneOf(options.dtype, 'options.dtype', DTYPES),
    options.device === undefined ? defaultDevice() : checkOneOf(options.device, 'options.device', DEVICES),
  ];
}

/** Uninitialized memory (fast; the values are garbage until written). */
export function empty(shape: readonly number[], options: CreateOptions = {}): Tensor {
  const args = creationArgs(shape, options);
  return new Tensor(native.empty(...args), ...args);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  const t = empty(shape, options);
  if (t.dtype === 'float32') native.fill(t._h, value);
  else if (value === 0) native.zero(t._h);
  else t.copyFrom(tensor(typedFor(t.dtype, new Array(t.size).fill(value)), { shape, dtype: t.dtype, device: t.device }));
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  const t = empty(shape, options);
  native.zero(t._h);
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** A tensor of ones. */
export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** A tensor of zeros with `t`'s shape, dtype and device (not requiring grad). */
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, { dtype: t.dtype, device: t.device });
}

/** Checks that `value` is a live Tensor (of `dtype`, if given); names the argument otherwise. */
export function checkTensor(value: unknown, name: string, dtype?: DType): Tensor {
  if (!(value instanceof Tensor)) throw invalid('a Tensor', name, value);
  if (value.disposed) throw new DisposedError(`Tensor ${name} was disposed`);
  if (dtype && value.dtype !== dtype) throw new DTypeError(`Expected a ${dtype} tensor for ${name} but received ${value.dtype}`);
  return value;
}
