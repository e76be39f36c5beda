/**
 * The types that autograd (`autograd.ts`), memory scopes (`scope.ts`) and `Tensor`
 * (`tensor.ts`) share. They live here, apart from `Tensor`, so that autograd and scopes
 * depend only on what they need of a tensor and not on `tensor.ts` (which imports both).
 */

/**
 * What autograd and memory scopes need of a tensor. {@link Tensor} implements it; every
 * tensor that reaches the autograd engine, a hook or a scope at run time is a `Tensor`.
 */
export interface TensorLike {
  /** Size of each dimension (row-major). */
  readonly shape: readonly number[];
  /** Number of elements (the product of `shape`; 1 for a scalar). */
  readonly size: number;
  /** Whether gradients flow to this tensor. */
  requiresGrad: boolean;
  /** Accumulated gradient (leaves only), set by `backward()`; null until then. */
  grad: TensorLike | null;
  /** @internal the op that produced this tensor, when it needs a gradient */
  _gradFn: GradFn | null;
  /** A tensor of ones with this one's shape, dtype and device. */
  onesLike(): TensorLike;
  /** A copy with its own storage. */
  clone(): TensorLike;
  /** Elementwise sum with `other` (a tensor of the same shape, or a scalar), as a new tensor. */
  add(other: TensorLike | number): TensorLike;
  /** this += other (same shape), in place, recording no gradient. Returns this. */
  addInPlace(other: TensorLike): TensorLike;
  /** Releases the tensor's memory now; idempotent. */
  dispose(): void;
}

/**
 * The backward step of one differentiable op, attached to the tensor the op produced (when
 * some input needs a gradient). `T` is the tensor type: `Tensor` for every op of the library.
 */
export interface GradFn<T extends TensorLike = TensorLike> {
  /** The op's name, for error messages and debugging. */
  name: string;
  /** The differentiable inputs (null where an input needs no gradient). */
  inputs: (T | null)[];
  /** Given the gradient of the output, the gradients of each input (null for none). */
  backward(gradOutput: T): (T | null)[];
}
