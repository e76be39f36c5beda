/**
 * Snapshots of optimizer state: plain host data (Float32Array + shape per state tensor), keyed
 * by position — group index, then index in the group — so a state taken from one optimizer
 * loads into a fresh optimizer over a freshly built identical model.
 */
import { ArgumentError, ShapeError } from '../errors';
import { keep } from '../scope';
import { Tensor, tensor } from '../tensor';
import { invalid } from '../validate';

/** One state tensor copied to the host. */
export interface SavedTensor {
  /** The tensor's shape. */
  shape: number[];
  /** The values, row-major. */
  data: Float32Array;
}

/** The saved state of one parameter: its shape (checked on load), its own step count and its state tensors. */
export interface ParamState {
  /** The parameter's shape (a load into a parameter of another shape is refused). */
  shape: number[];
  /** Updates this parameter has had (drives per-parameter bias correction). */
  steps: number;
  /** State tensors by name (e.g. Adam's `m` and `v`); empty before the first update. */
  state: Record<string, SavedTensor>;
}

/** A group's hyper-parameters (everything but `params`) and its parameters' states, in group order. */
export interface GroupState {
  /** The group's hyper-parameters (lr, betas, weight decay…), everything but `params`. */
  options: Record<string, number | boolean | string>;
  /** Each parameter's state, in the group's order. */
  params: ParamState[];
}

/** What `Optimizer.stateDict()` returns: a snapshot that later training does not change. */
export interface OptimizerState {
  /** The optimizer class (e.g. 'Adam'); loading into another class is refused. */
  kind: string;
  /** Steps the optimizer had taken. */
  stepCount: number;
  /** Each parameter group's state, in order. */
  groups: GroupState[];
}

/** A host copy of a float32 tensor. */
export function saveTensor(t: Tensor): SavedTensor {
  return { shape: t.shape.slice(), data: Float32Array.from(t.toArraySync() as Float32Array) };
}

/** A new tensor on `device` holding a saved tensor's values (kept out of any tidy scope). */
export function restoreTensor(s: SavedTensor, device: Tensor['device']): Tensor {
  return keep(tensor(Float32Array.from(s.data), { shape: s.shape, device }));
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks that `state` fits optimizer `kind` with groups of these parameters; every error names
 * the entry (e.g. `state.groups[0].params[2].state.m`).
 */
export function checkOptimizerState(state: unknown, kind: string, groups: readonly { params: readonly Tensor[] }[]): OptimizerState {
  if (state === null || typeof state !== 'object') throw invalid('an optimizer state object', 'state', state);
  const s = state as Partial<OptimizerState>;
  if (s.kind !== kind) throw new ArgumentError(`Expected the state of a ${kind} optimizer for state.kind but received ${JSON.stringify(s.kind)}`);
  if (typeof s.stepCount !== 'number' || !Number.isInteger(s.stepCount) || s.stepCount < 0) throw invalid('a non-negative integer', 'state.stepCount', s.stepCount);
  if (!Array.isArray(s.groups) || s.groups.length !== groups.length) {
    throw new ArgumentError(`Expected ${groups.length} parameter group(s) for state.groups but received ${Array.isArray(s.groups) ? s.groups.length : typeof s.groups}`);
  }
  s.groups.forEach((g, gi) => {
    const name = `state.groups[${gi}]`;
    if (!g || typeof g !== 'object' || !g.options || typeof g.options !== 'object') throw invalid('a group state { options, params }', name, g);
    const params = groups[gi].params;
    if (!Array.isArray(g.params) || g.params.length !== params.length) {
      throw new ArgumentError(`Expected ${params.length} parameter(s) for ${name}.params but received ${Array.isArray(g.params) ? g.params.length : typeof g.params}`);
    }
    g.params.forEach((ps, pi) => {
      const pname = `${name}.params[${pi}]`;
      if (!ps || typeof ps !== 'object' || !Array.isArray(ps.shape)) throw invalid('a parameter state { shape, steps, state }', pname, ps);
      const p = params[pi];
      if (!sameShape(ps.shape, p.shape)) throw new ShapeError(`Expected shape [${p.shape}] for ${pname} but received [${ps.shape}]`);
      if (typeof ps.steps !== 'number' || !Number.isInteger(ps.steps) || ps.steps < 0) throw invalid('a non-negative integer', `${pname}.steps`, ps.steps);
      if (!ps.state || typeof ps.state !== 'object') throw invalid('an object of state tensors', `${pname}.state`, ps.state);
      for (const [k, t] of Object.entries(ps.state)) {
        if (!t || !(t.data instanceof Float32Array) || !Array.isArray(t.shape)) throw invalid('a saved tensor { shape, data: Float32Array }', `${pname}.state.${k}`, t);
        if (!sameShape(t.shape, p.shape) || t.data.length !== p.size) {
          throw new ShapeError(`Expected shape [${p.shape}] for ${pname}.state.${k} but received [${t.shape}] (${t.data.length} values)`);
        }
      }
    });
  });
  return s as OptimizerState;
}
