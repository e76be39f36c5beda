import { native } from '../native';
import { Tensor } from '../tensor';
import { checkBoolean, checkRange } from '../validate';
import { BaseOptions, Optimizer, ParamGroup, ParamGroupSpec } from './optimizer';

export interface SGDOptions extends BaseOptions {
  /** Momentum factor μ (default 0). */
  momentum: number;
  /** Dampening of the momentum (default 0). */
  dampening: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
}

/** SGD with momentum, dampening, Nesterov and weight decay (PyTorch semantics), fused. */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Tensor[] | ParamGroupSpec<SGDOptions>[], options: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...options });
  }

  protected override validate(g: ParamGroup<SGDOptions>, i: number): void {
    super.validate(g, i);
    checkRange(g.momentum, `paramGroups[${i}].momentum`, 0, 1);
    checkRange(g.dampening, `paramGroups[${i}].dampening`, 0, 1);
    checkRange(g.weightDecay, `paramGroups[${i}].weightDecay`, 0, Infinity, 'a non-negative number');
    checkBoolean(g.nesterov, `paramGroups[${i}].nesterov`);
  }

  protected _step(g: ParamGroup<SGDOptions>, params: Tensor[], grads: Tensor[]): void {
    const firstStep = g.momentum > 0 && !this.state.get(params[0])?.momentum;
    const bufs = g.momentum > 0 ? params.map((p) => this.stateOf(p, 'momentum')._h) : null;
    native.sgdStep(
      params.map((p) => p._h),
      grads.map((t) => t._h),
      bufs,
      { lr: g.lr, momentum: g.momentum, dampening: g.dampening, nesterov: g.nesterov, weightDecay: g.weightDecay, firstStep },
    );
  }
}
