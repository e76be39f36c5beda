/**
 * Typed errors. Every error gatewise throws is a {@link GatewiseError} with a stable `code`;
 * errors raised in native code keep their message and carry `nativeLocation` (file:line).
 */

/** Stable error codes. */
export type ErrorCode =
  | 'ERR_GATEWISE_SHAPE'
  | 'ERR_GATEWISE_DTYPE'
  | 'ERR_GATEWISE_ARGUMENT'
  | 'ERR_GATEWISE_DEVICE'
  | 'ERR_GATEWISE_DISPOSED'
  | 'ERR_GATEWISE_OOM'
  | 'ERR_GATEWISE_CUDA'
  | 'ERR_GATEWISE_NO_CUDA'
  | 'ERR_GATEWISE_LOAD'
  | 'ERR_GATEWISE_FORMAT'
  | 'ERR_GATEWISE_DISTRIBUTED'
  | 'ERR_GATEWISE_INTERNAL';

/**
 * The base of every error gatewise throws: `code` says which kind it is, stably across versions
 * (match on `code` or `instanceof`, not on messages).
 */
export class GatewiseError extends Error {
  /** The stable error code, one per subclass. */
  readonly code: ErrorCode;
  /** Where native code raised it (file:line), when it did. */
  nativeLocation?: string;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Shapes do not agree. */
export class ShapeError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_SHAPE', message);
  }
}
/** A tensor has the wrong element type. */
export class DTypeError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_DTYPE', message);
  }
}
/** Any other bad argument: wrong type, out of range, NaN. */
export class ArgumentError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_ARGUMENT', message);
  }
}
/** Tensors on different devices, or a device that is not there. */
export class DeviceError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_DEVICE', message);
  }
}
/** A tensor was used after `dispose()`. */
export class DisposedError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_DISPOSED', message);
  }
}
/** Host or device memory ran out. */
export class OutOfMemoryError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_OOM', message);
  }
}
/** The CUDA runtime reported an error. */
export class CudaError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_CUDA', message);
  }
}
/** CUDA was asked for but this build or this machine has none. */
export class NoCudaError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_NO_CUDA', message);
  }
}
/** The native addon could not be loaded. */
export class LoadError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_LOAD', message);
  }
}
/** Serialized data (an exported table, a checkpoint) is corrupt, truncated or of another version. */
export class FormatError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_FORMAT', message);
  }
}
/**
 * A collective or the rendezvous failed: a peer exited or hung past the timeout, or the
 * store was unreachable. `rank` names the rank found at fault, when one was.
 */
export class DistributedError extends GatewiseError {
  /** The rank found at fault (exited, hung or unreachable), when one was identified. */
  rank?: number;
  constructor(message: string, rank?: number) {
    super('ERR_GATEWISE_DISTRIBUTED', message);
    if (rank !== undefined) this.rank = rank;
  }
}

/** A broken invariant inside gatewise: please report it. */
export class InternalError extends GatewiseError {
  constructor(message: string) {
    super('ERR_GATEWISE_INTERNAL', message);
  }
}

const byCode: Record<string, new (message: string) => GatewiseError> = {
  ERR_GATEWISE_SHAPE: ShapeError,
  ERR_GATEWISE_DTYPE: DTypeError,
  ERR_GATEWISE_ARGUMENT: ArgumentError,
  ERR_GATEWISE_DEVICE: DeviceError,
  ERR_GATEWISE_DISPOSED: DisposedError,
  ERR_GATEWISE_OOM: OutOfMemoryError,
  ERR_GATEWISE_CUDA: CudaError,
  ERR_GATEWISE_NO_CUDA: NoCudaError,
  ERR_GATEWISE_FORMAT: FormatError,
  ERR_GATEWISE_DISTRIBUTED: DistributedError,
  ERR_GATEWISE_INTERNAL: InternalError,
};

/** Turns an error thrown by the addon into the matching typed error. */
export function fromNativeError(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof GatewiseError) return e;
  const code = (e as { code?: string }).code;
  const Cls = code ? byCode[code] : undefined;
  if (!Cls) return e;
  const typed = new Cls(e.message);
  typed.nativeLocation = (e as { nativeLocation?: string }).nativeLocation;
  return typed;
}
