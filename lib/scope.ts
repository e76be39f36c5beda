/**
 * Memory scopes. Native memory is released when a tensor is garbage-collected or when
 * `dispose()` is called; in a training loop `tidy(fn)` releases every tensor created inside
 * `fn` except the ones it returns (and parameters, gradients, optimizer state: those are
 * kept with `keep`). `tidy` must not be given an async function.
 */
import type { TensorLike } from './tensor-types';

const scopes: Set<TensorLike>[] = [];

/** Called for every new tensor: the innermost scope owns it. */
export function track(t: TensorLike): void {
  if (scopes.length) scopes[scopes.length - 1].add(t);
}

/** Exempts `t` from every open scope, so no `tidy` disposes it. */
export function keep<T extends TensorLike>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<TensorLike>, depth = 0): void {
  if (value == null || depth > 3 || typeof value !== 'object') return;
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const v of items) collect(v, out, depth + 1);
}

let isTensor: (v: unknown) => v is TensorLike = (_v: unknown): _v is TensorLike => false;
/** @internal set by tensor.ts (avoids an import cycle). */
export function setTensorCheck(f: (v: unknown) => v is TensorLike): void {
  isTensor = f;
}

/**
 * Runs `fn` and disposes every tensor it created, except those in its result (a tensor, or
 * tensors inside an array/object up to three levels deep), which move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('tidy expects a function');
  const scope = new Set<TensorLike>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new TypeError('tidy cannot track an async function: await outside tidy');
  } finally {
    scopes.pop();
    const kept = new Set<TensorLike>();
    // result may be unassigned when fn threw: then everything goes.
    try {
      collect(result!, kept);
    } catch {
      /* nothing to keep */
    }
    for (const t of scope) {
      if (kept.has(t)) track(t);
      else t.dispose();
    }
  }
  return result;
}
