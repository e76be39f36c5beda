import { noGrad } from '../autograd';
import { ArgumentError } from '../errors';
import { keep } from '../scope';
import { Tensor, zerosLike } from '../tensor';
import { checkNumber, invalid } from '../validate';
import { checkOptimizerState, OptimizerState, ParamState, restoreTensor, saveTensor } from './optimizer-state';

/** Hyper-parameters every optimizer has. */
export interface BaseOptions {
  /** Learning rate. */
  lr: number;
}

/** A group of parameters with its own options; omitted options take the defaults. */
export type ParamGroupSpec<O> = {
  /** The group's parameters (leaf tensors that require grad). */
  params: Tensor[];
} & Partial<O>;

/**
 * A parameter group as the optimizer holds it: its parameters and every hyper-parameter, defaults
 * filled in.
 */
export type ParamGroup<O> = {
  /** The group's parameters. */
  params: Tensor[];
} & O;

/**
 * Optimizer base. Owns parameter groups (each with its own hyper-parameters, e.g. its own
 * learning rate), per-parameter state, `zeroGrad()` and `step()`; a subclass implements one
 * protected `_step()` that updates a whole group with a single fused native call.
 */
export abstract class Optimizer<O extends BaseOptions> {
  /**
   * The parameter groups, each with its parameters and hyper-parameters; change a group's `lr` (as
   * the schedulers do) to take effect at the next step.
   */
  readonly paramGroups: ParamGroup<O>[];
  /** Per-parameter state tensors (momentum, moments, accumulators), created on first use. */
  protected readonly state = new Map<Tensor, Record<string, Tensor>>();
  /** Steps taken so far. */
  stepCount = 0;

  constructor(params: Tensor[] | ParamGroupSpec<O>[], defaults: O) {
    if (!Array.isArray(params) || params.length === 0) throw invalid('a non-empty array of parameters or groups', 'params', params);
    const specs: ParamGroupSpec<O>[] = params[0] instanceof Tensor ? [{ params: params as Tensor[] } as ParamGroupSpec<O>] : (params as ParamGroupSpec<O>[]);
    const seen = new Set<Tensor>();
    this.paramGroups = specs.map((spec, gi) => {
      if (!spec || !Array.isArray(spec.params)) throw invalid('a parameter group { params: Tensor[] }', `params[${gi}]`, spec);
      spec.params.forEach((p, i) => {
        if (!(p instanceof Tensor) || !p.requiresGrad) throw invalid('a Tensor that requires grad', `params[${gi}].params[${i}]`, p);
        if (seen.has(p)) throw new ArgumentError(`parameter params[${gi}].params[${i}] appears in more than one group`);
        seen.add(p);
      });
      const group = { ...defaults, ...spec, params: spec.params.slice() } as ParamGroup<O>;
      this.validate(group, gi);
      return group;
    });
  }

  /**
   * A snapshot of the whole state — step counts, each group's hyper-parameters, each
   * parameter's state tensors copied to the host — keyed by position (group, index in group).
   */
  stateDict(): OptimizerState {
    return {
      kind: this.constructor.name,
      stepCount: this.stepCount,
      groups: this.paramGroups.map((g) => {
        const { params, ...options } = g;
        return {
          options: JSON.parse(JSON.stringify(options)) as Record<string, number | boolean | string>,
          params: params.map((p): ParamState => ({
            shape: p.shape.slice(),
            steps: this.steps.get(p) ?? 0,
            state: Object.fromEntries(Object.entries(this.state.get(p) ?? {}).map(([k, t]) => [k, saveTensor(t)])),
          })),
        };
      }),
    };
  }

  /**
   * Restores a {@link stateDict} snapshot (of the same optimizer class over parameters of the
   * same shapes, in the same groups and order): step counts, hyper-parameters and state
   * tensors. Everything is checked first; a mismatch throws naming the entry and changes nothing.
   */
  loadStateDict(state: OptimizerState): void {
    const s = checkOptimizerState(state, this.constructor.name, this.paramGroups);
    s.groups.forEach((g, gi) => this.validate({ ...this.paramGroups[gi], ...g.options, params: this.paramGroups[gi].params } as ParamGroup<O>, gi));
    this.paramGroups.forEach((group, gi) => {
      // In place, so schedulers holding the groups see the restored hyper-parameters.
      Object.assign(group, s.groups[gi].options, { params: group.params });
      group.params.forEach((p, pi) => {
        const ps = s.groups[gi].params[pi];
        for (const t of Object.values(this.state.get(p) ?? {})) t.dispose();
        this.state.delete(p);
        const entries = Object.entries(ps.state);
        if (entries.length) this.state.set(p, Object.fromEntries(entries.map(([k, t]) => [k, restoreTensor(t, p.device)])));
        if (ps.steps > 0) this.steps.set(p, ps.steps);
        else this.steps.delete(p);
      });
    });
    this.stepCount = s.stepCount;
  }

  /** Checks a group's hyper-parameters (names them in errors). */
  protected validate(group: ParamGroup<O>, index: number): void {
    if (checkNumber(group.lr, `paramGroups[${index}].lr`) < 0) throw invalid('a non-negative learning rate', `paramGroups[${index}].lr`, group.lr);
  }

  /** Clears the gradients of every parameter. */
  zeroGrad(): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    this.stepCount += 1;
    noGrad(() => {
      this.paramGroups.forEach((group, gi) => {
        this.validate(group, gi);
        const params = group.params.filter((p) => p.grad !== null);
        if (params.length) this._step(group, params, params.map((p) => p.grad!));
      });
    });
  }

  /** Updates `params` (all of one group, all with gradients) in place. */
  protected abstract _step(group: ParamGroup<O>, params: Tensor[], grads: Tensor[]): void;

  /**
   * Counts one more step for each of `params` and groups their indices by step number
   * (a parameter that had no gradient for a while has taken fewer steps), so each group
   * is updated with one fused call using its own bias corrections.
   */
  protected advanceSteps(params: Tensor[]): Map<number, number[]> {
    const byStep = new Map<number, number[]>();
    params.forEach((p, i) => {
      const s = (this.steps.get(p) ?? 0) + 1;
      this.steps.set(p, s);
      const list = byStep.get(s);
      if (list) list.push(i);
      else byStep.set(s, [i]);
    });
    return byStep;
  }
  private readonly steps = new Map<Tensor, number>();

  /** The named state tensor of `p`, created as zeros (or `init`) on first use. */
  protected stateOf(p: Tensor, name: string, init?: (p: Tensor) => Tensor): Tensor {
    let s = this.state.get(p);
    if (!s) this.state.set(p, (s = {}));
    if (!s[name]) s[name] = keep(init ? init(p) : zerosLike(p));
    return s[name];
  }
}

/** Anything with step() and zeroGrad(): an Optimizer, a SparseOptimizer. */
export interface Steppable {
  /** Applies one update from the current gradients. */
  step(): void;
  /** Clears the gradients it would update. */
  zeroGrad(): void;
}

/** Something whose state can be snapshot and restored (every optimizer here). */
export interface Stateful<S = unknown> {
  /** A snapshot of the state that later training does not change. */
  stateDict(): S;
  /** Restores a snapshot taken by `stateDict()` (of the same kind and shapes). */
  loadStateDict(state: S): void;
}

/** What `OptimizerSet.stateDict()` returns: each member's state, in order. */
export interface OptimizerSetState {
  /** Identifies an OptimizerSet's state. */
  kind: 'OptimizerSet';
  /** Each member's `stateDict()`, in order. */
  optimizers: unknown[];
}

/** Steps several optimizers as one (e.g. sparse AdaGrad for embeddings + Adam for dense weights). */
export class OptimizerSet {
  /** The members, stepped in order. */
  readonly optimizers: Steppable[];
  constructor(optimizers: Steppable[]) {
    optimizers.forEach((o, i) => {
      if (!o || typeof o.step !== 'function' || typeof o.zeroGrad !== 'function') throw invalid('an optimizer (with step() and zeroGrad())', `optimizers[${i}]`, o);
    });
    this.optimizers = optimizers;
  }
  /** Clears every member's gradients. */
  zeroGrad(): void {
    for (const o of this.optimizers) o.zeroGrad();
  }
  /** Steps every member, in order. */
  step(): void {
    for (const o of this.optimizers) o.step();
  }

  /** Every member's state, in order (each member must have `stateDict()`). */
  stateDict(): OptimizerSetState {
    return { kind: 'OptimizerSet', optimizers: this.optimizers.map((o, i) => stateful(o, i).stateDict()) };
  }

  /** Restores a {@link stateDict} snapshot into the members, in order; all are checked before any changes. */
  loadStateDict(state: OptimizerSetState): void {
    if (!state || state.kind !== 'OptimizerSet' || !Array.isArray(state.optimizers)) throw invalid('an OptimizerSet state', 'state', state);
    const members = this.optimizers.map((o, i) => stateful(o, i));
    // Members validate their own state; restoring the others first would leave a half-loaded set on error.
    checkMemberStates(this.optimizers, state.optimizers, 'state.optimizers');
    members.forEach((m, i) => m.loadStateDict(state.optimizers[i]));
  }
}

/**
 * Checks the states of an optimizer set's members before any is restored: one per member,
 * and each Optimizer's against its groups; `what` names the states in the error.
 */
export function checkMemberStates(members: readonly Steppable[], states: unknown, what: string): void {
  if (!Array.isArray(states) || states.length !== members.length) {
    throw new ArgumentError(`Expected ${members.length} optimizer state(s) for ${what} but received ${Array.isArray(states) ? states.length : typeof states}`);
  }
  members.forEach((m, i) => {
    if (m instanceof Optimizer) checkOptimizerState(states[i], m.constructor.name, m.paramGroups);
  });
}

function stateful(o: Steppable, i: number): Stateful {
  const s = o as Partial<Stateful>;
  if (typeof s.stateDict !== 'function' || typeof s.loadStateDict !== 'function') throw invalid('an optimizer with stateDict() and loadStateDict()', `optimizers[${i}]`, o);
  return s as Stateful;
}
