/** Adam and AdamW (PyTorch semantics), one fused multi-tensor update per group. */
import { native } from '../native';
import { Tensor } from '../tensor';
import { checkRange } from '../validate';
import { BaseOptions, Optimizer, ParamGroup, ParamGroupSpec } from './optimizer';

export interface AdamOptions extends BaseOptions {
  /** Decay of the first moment β1 (default 0.9). */
  beta1: number;
  /** Decay of the second moment β2 (default 0.999). */
  beta2: number;
  /** Added to the denominator (default 1e-8). */
  eps: number;
  /** Weight decay: L2 added to the gradient for Adam, decoupled for AdamW (default 0 / 0.01). */
  weightDecay: number;
}

/**
 * Adam (Kingma & Ba; PyTorch semantics): per-parameter first and second moments m and v with bias
 * correction, weight decay as L2 added to the gradient. Defaults: lr 1e-3, β1 0.9, β2 0.999, ε
 * 1e-8, weightDecay 0. One fused multi-tensor update per group.
 */
export class Adam extends Optimizer<AdamOptions> {
  /** AdamW decays weights directly (p ← p·(1 − lr·wd)) instead of through the gradient. */
  protected decoupled = false;

  constructor(params: Tensor[] | ParamGroupSpec<AdamOptions>[], options: Partial<AdamOptions> & { lr?: number } = {}) {
    super(params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, ...options });
  }

  protected override validate(g: ParamGroup<AdamOptions>, i: number): void {
    super.validate(g, i);
    checkRange(g.beta1, `paramGroups[${i}].beta1`, 0, 0.999999999, 'a number in [0, 1)');
    checkRange(g.beta2, `paramGroups[${i}].beta2`, 0, 0.999999999, 'a number in [0, 1)');
    checkRange(g.eps, `paramGroups[${i}].eps`, 0, Infinity, 'a non-negative number');
    checkRange(g.weightDecay, `paramGroups[${i}].weightDecay`, 0, Infinity, 'a non-negative number');
  }

  protected _step(g: ParamGroup<AdamOptions>, params: Tensor[], grads: Tensor[]): void {
    for (const [step, idx] of this.advanceSteps(params)) {
      native.adamStep(
        idx.map((i) => params[i]._h),
        idx.map((i) => grads[i]._h),
        idx.map((i) => this.stateOf(params[i], 'm')._h),
        idx.map((i) => this.stateOf(params[i], 'v')._h),
        { lr: g.lr, beta1: g.beta1, beta2: g.beta2, eps: g.eps, weightDecay: g.weightDecay, decoupled: this.decoupled, step },
      );
    }
  }
}
/**
 * AdamW (Loshchilov & Hutter; PyTorch semantics): Adam with decoupled weight decay, p ← p·(1 −
 * lr·wd) applied directly instead of through the gradient. weightDecay defaults to 0.01.
 */
export class AdamW extends Adam {
  constructor(params: Tensor[] | ParamGroupSpec<AdamOptions>[], options: Partial<AdamOptions> & { lr?: number } = {}) {
    super(params, { weightDecay: 0.01, ...options });
    this.decoupled = true;
  }
}
