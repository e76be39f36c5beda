import { native } from '../native';
import { full, Tensor } from '../tensor';
import { checkRange } from '../validate';
import { BaseOptions, Optimizer, ParamGroup, ParamGroupSpec } from './optimizer';

export interface AdagradOptions extends BaseOptions {
  /** Learning-rate decay per step (default 0). */
  lrDecay: number;
  /** Starting value of the squared-gradient accumulator (default 0). */
  initialAccumulatorValue: number;
  /** Added to the denominator (default 1e-10). */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
}

/** AdaGrad (PyTorch semantics, dense), fused. PEPNet trains embeddings with AdaGrad 0.05. */
export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Tensor[] | ParamGroupSpec<AdagradOptions>[], options: Partial<AdagradOptions> & { lr?: number } = {}) {
    super(params, { lr: 1e-2, lrDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, weightDecay: 0, ...options });
  }

  protected override validate(g: ParamGroup<AdagradOptions>, i: number): void {
    super.validate(g, i);
    checkRange(g.lrDecay, `paramGroups[${i}].lrDecay`, 0, Infinity, 'a non-negative number');
    checkRange(g.initialAccumulatorValue, `paramGroups[${i}].initialAccumulatorValue`, 0, Infinity, 'a non-negative number');
    checkRange(g.eps, `paramGroups[${i}].eps`, 0, Infinity, 'a non-negative number');
    checkRange(g.weightDecay, `paramGroups[${i}].weightDecay`, 0, Infinity, 'a non-negative number');
  }

  protected _step(g: ParamGroup<AdagradOptions>, params: Tensor[], grads: Tensor[]): void {
    for (const [step, idx] of this.advanceSteps(params)) {
      native.adagradStep(
        idx.map((i) => params[i]._h),
        idx.map((i) => grads[i]._h),
        idx.map((i) => this.stateOf(params[i], 'sum', (p) => full(p.shape, g.initialAccumulatorValue, { device: p.device }))._h),
        { lr: g.lr, lrDecay: g.lrDecay, eps: g.eps, weightDecay: g.weightDecay, step },
      );
    }
  }
}
