/**
 * Reverse-mode automatic differentiation on a tape. Each differentiable op that produced a
 * tensor from inputs needing gradients records a {@link GradFn}; `backward()` walks the
 * graph from a scalar in reverse topological order, sums the gradients that reach each
 * tensor, and accumulates them into the `.grad` of leaf tensors (parameters).
 */
import { ArgumentError, ShapeError } from './errors';
import { keep } from './scope';
import type { GradFn, TensorLike } from './tensor-types';

let gradEnabled = true;

const accumulatedHooks = new Set<(leaf: TensorLike) => void>();

/**
 * Calls `fn(leaf)` during every backward pass as soon as a leaf's gradient of that pass is
 * accumulated into its `.grad` (no later node of the pass adds to it): distributed data
 * parallel launches its all-reduce buckets from here while the rest of backward runs.
 * Returns the function that removes the hook.
 *
 * @typeParam T - the tensor type the hook is written for: every leaf is a `Tensor`, so a hook
 *   declared as `(leaf: Tensor) => void` receives `Tensor`s.
 */
export function onGradAccumulated<T extends TensorLike = TensorLike>(fn: (leaf: T) => void): () => void {
  const hook = fn as (leaf: TensorLike) => void;
  accumulatedHooks.add(hook);
  return () => accumulatedHooks.delete(hook);
}

/** Whether ops currently record gradients. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording gradients (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Attaches a GradFn to `out` when grad mode is on and some input needs a gradient. */
export function record<T extends TensorLike>(out: T, name: string, inputs: (T | null)[], backward: GradFn<T>['backward']): T {
  if (!gradEnabled) return out;
  const live = inputs.map((t) => (t && t.requiresGrad ? t : null));
  if (live.every((t) => t === null)) return out;
  out.requiresGrad = true;
  out._gradFn = { name, inputs: live, backward };
  return out;
}

function topoOrder(root: TensorLike): TensorLike[] {
  const order: TensorLike[] = [];
  const seen = new Set<TensorLike>();
  // Iterative DFS: deep graphs (long sequences) must not overflow the JS stack.
  const stack: [TensorLike, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    for (const i of t._gradFn?.inputs ?? []) if (i && !seen.has(i)) stack.push([i, false]);
  }
  return order;
}

/** Options of `Tensor.backward()`. */
export interface BackwardOptions {
  /** Keep the graph so backward can run through it again (default false). */
  retainGraph?: boolean;
}

/**
 * Accumulates d(root)/d(leaf) into every leaf's `.grad`. `gradient` defaults to 1 for a
 * one-element root and is required otherwise.
 *
 * A GradFn's backward returns fresh tensors or the incoming gradient itself (pass-through);
 * the engine counts references to each gradient tensor and disposes it once no node needs
 * it and it did not become some leaf's `.grad`.
 */
export function backward(root: TensorLike, gradient?: TensorLike, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new ArgumentError(
      'backward() was called on a tensor that does not require grad (no parameter or input with requiresGrad fed it, or it was computed under noGrad)',
    );
  }
  let seed: TensorLike;
  if (gradient !== undefined) {
    if (gradient.shape.join() !== root.shape.join()) {
      throw new ShapeError(`Expected shape [${root.shape}] for gradient but received [${gradient.shape}]`);
    }
    seed = gradient;
  } else {
    if (root.size !== 1) throw new ShapeError(`backward() without a gradient needs a one-element tensor, not shape [${root.shape}]`);
    seed = root.onesLike();
  }
  const protectedGrads = new Set<TensorLike>(gradient ? [gradient] : []);
  const refs = new Map<TensorLike, number>();
  const hold = (g: TensorLike) => refs.set(g, (refs.get(g) ?? 0) + 1);
  const release = (g: TensorLike) => {
    const n = (refs.get(g) ?? 1) - 1;
    if (n > 0) refs.set(g, n);
    else {
      refs.delete(g);
      if (!protectedGrads.has(g)) g.dispose();
    }
  };
  const grads = new Map<TensorLike, TensorLike>([[root, seed]]);
  hold(seed);
  const order = topoOrder(root);
  for (let k = order.length - 1; k >= 0; --k) {
    const t = order[k];
    const g = grads.get(t);
    if (!g) continue;
    grads.delete(t);
    const fn = t._gradFn;
    if (!fn) {
      if (t.requiresGrad) {
        if (t.grad) t.grad.addInPlace(g);
        else t.grad = keep(protectedGrads.has(g) || (refs.get(g) ?? 0) > 1 ? g.clone() : g);
        for (const hook of accumulatedHooks) hook(t);
        if (t.grad === g) {
          protectedGrads.add(g);
          refs.delete(g);
          continue;
        }
      }
      release(g);
      continue;
    }
    const inGrads = fn.backward(g);
    fn.inputs.forEach((input, i) => {
      const ig = inGrads[i];
      if (!input || !ig) return;
      hold(ig);
      const prev = grads.get(input);
      if (!prev) {
        grads.set(input, ig);
        return;
      }
      const sum = prev.add(ig);
      hold(sum);
      grads.set(input, sum);
      release(prev);
      release(ig);
    });
    // Untaken outputs of backward (for inputs that need no gradient) are dropped.
    inGrads.forEach((ig, i) => {
      if (ig && !fn.inputs[i] && ig !== g && !refs.has(ig)) ig.dispose();
    });
    release(g);
    if (!options.retainGraph) t._gradFn = null;
  }
}
