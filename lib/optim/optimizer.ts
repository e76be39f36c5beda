/**
 * Optimizer base. Owns parameter groups (each with its own hyper-parameters, e.g. its own
 * learning rate), per-parameter state, `zeroGrad()` and `step()`; a subclass implements one
 * protected `_step()` that updates a whole group with a single fused native call.
 */
import { noGrad } from '../autograd';
import { ArgumentError } from '../errors';
import { keep } from '../scope';
import { Tensor, zerosLike } from '../tensor';
import { checkNumber, invalid } from '../validate';

/** Hyper-parameters every optimizer has. */
export interface BaseOptions {
  /** Learning rate. */
  lr: number;
}

/** A group of parameters with its own options; omitted options take the defaults. */
export type ParamGroupSpec<O> = { params: Tensor[] } & Partial<O>;

export type ParamGroup<O> = { params: Tensor[] } & O;

export abstract class Optimizer<O extends BaseOptions> {
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
  step(): void;
  zeroGrad(): void;
}

/** Steps several optimizers as one (e.g. sparse AdaGrad for embeddings + Adam for dense weights). */
export class OptimizerSet {
  readonly optimizers: Steppable[];
  constructor(optimizers: Steppable[]) {
    optimizers.forEach((o, i) => {
      if (!o || typeof o.step !== 'function' || typeof o.zeroGrad !== 'function') throw invalid('an optimizer (with step() and zeroGrad())', `optimizers[${i}]`, o);
    });
    this.optimizers = optimizers;
  }
  zeroGrad(): void {
    for (const o of this.optimizers) o.zeroGrad();
  }
  step(): void {
    for (const o of this.optimizers) o.step();
  }
}
