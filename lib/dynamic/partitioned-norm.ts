import { noGrad } from '../autograd';
import { add, addInPlace, maximum, minimum, mul, rsqrt, square, sub, div } from '../ops/elementwise';
import { matmul } from '../ops/matmul';
import { sum } from '../ops/reduce';
import { constant } from '../nn/init';
import { Module } from '../nn/module';
import { Tensor } from '../tensor';
import { checkBoolean, checkInt, checkOptions, checkPositive, checkRange } from '../validate';
import { checkRows } from '../personalize/field-input';
import { domainMask } from './domain-mask';

/** Options of {@link PartitionedNorm}. */
export interface PartitionedNormOptions {
  /** Number of domains D. */
  domains: number;
  /** ε added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the newest batch in the running statistics (default 0.1). */
  momentum?: number;
  /** Learn γ, β and the per-domain γ_p, β_p (default true). */
  affine?: boolean;
}

/**
 * Partitioned normalization (STAR): batch normalization whose statistics and affine
 * parameters are split by domain,
 *   y = (γ ⊙ γ_p) · (x − E_p) / √(Var_p + ε) + (β + β_p)        for a sample of domain p
 * While training, E_p and Var_p are the statistics of the batch's samples of domain p — a
 * mixed-domain batch normalizes each domain's samples by their own moments — and each
 * domain's running mean and (unbiased) variance move toward them with `momentum`, as
 * PyTorch's BatchNorm1d; a domain absent from the batch keeps its running statistics.
 * In eval mode every sample is normalized by its domain's running statistics. With one
 * domain this is BatchNorm1d. The per-domain sums are GEMMs with the (B, D) one-hot mask,
 * so nothing is gathered on the host and the whole step stays on the device.
 */
export class PartitionedNorm extends Module {
  /** Shared γ (F), β (F) and per-domain γ_p (D, F) starting at 1, β_p (D, F) at 0; null without affine. */
  gamma: Tensor | null;
  /** Shared β (F), starting at 0; null without affine. */
  beta: Tensor | null;
  /** Per-domain γ_p (D, F), starting at 1; null without affine. */
  domainGamma: Tensor | null;
  /** Per-domain β_p (D, F), starting at 0; null without affine. */
  domainBeta: Tensor | null;
  /** Per-domain running statistics (D, F): buffers, saved in the state dict. */
  runningMean: Tensor;
  /** Per-domain running (unbiased) variance (D, F), starting at 1. */
  runningVar: Tensor;
  /** Number of features F normalized. */
  readonly features: number;
  /** Number of domains D. */
  readonly domains: number;
  /** ε added to the variance. */
  readonly eps: number;
  /** Weight of the newest batch in the running statistics. */
  readonly momentum: number;

  constructor(features: number, options: PartitionedNormOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.features = checkInt(features, 'features', 1);
    this.domains = checkInt(o.domains, 'options.domains', 1);
    this.eps = checkPositive(o.eps ?? 1e-5, 'options.eps');
    this.momentum = checkRange(o.momentum ?? 0.1, 'options.momentum', 0, 1);
    const affine = checkBoolean(o.affine ?? true, 'options.affine');
    const [F, D] = [this.features, this.domains];
    this.gamma = affine ? constant([F], 1) : null;
    this.beta = affine ? constant([F], 0) : null;
    this.domainGamma = affine ? constant([D, F], 1) : null;
    this.domainBeta = affine ? constant([D, F], 0) : null;
    this.runningMean = constant([D, F], 0, { requiresGrad: false });
    this.runningVar = constant([D, F], 1, { requiresGrad: false });
  }

  /** x (B, F), domain ids (B) or a (B, D) mask → (B, F). */
  forward(x: Tensor, domain: Tensor): Tensor {
    checkRows(x, this.features, 'x');
    const mask = domainMask(domain, this.domains, x.device, x.shape[0]);
    const perSample = (perDomain: Tensor) => matmul(mask, perDomain); // (B, D)·(D, F) → (B, F)
    let centered: Tensor;
    let variance: Tensor;
    if (this.training) {
      const count = sum(mask, 0).reshape(this.domains, 1);
      const n = maximum(count, 1);
      const mean = div(matmul(mask, x, { transA: true }), n); // (D, F)
      centered = sub(x, perSample(mean));
      const batchVar = div(matmul(mask, square(centered), { transA: true }), n);
      variance = perSample(batchVar);
      this.updateRunning(count, mean, batchVar);
    } else {
      centered = sub(x, perSample(this.runningMean));
      variance = perSample(this.runningVar);
    }
    const normalized = mul(centered, rsqrt(add(variance, this.eps)));
    if (!this.gamma || !this.beta || !this.domainGamma || !this.domainBeta) return normalized;
    return add(mul(normalized, perSample(mul(this.domainGamma, this.gamma))), perSample(add(this.domainBeta, this.beta)));
  }

  /**
   * running += momentum · (batch − running) for each domain in the batch, the variance
   * unbiased (n / (n − 1)); a domain with a single sample updates its mean only.
   */
  private updateRunning(count: Tensor, mean: Tensor, batchVar: Tensor): void {
    if (this.momentum === 0) return;
    noGrad(() => {
      const meanStep = mul(minimum(count, 1), this.momentum); // (D, 1): 0 for an absent domain
      const varStep = mul(minimum(maximum(sub(count, 1), 0), 1), this.momentum); // 0 below 2 samples
      const unbiased = mul(batchVar, div(count, maximum(sub(count, 1), 1)));
      addInPlace(this.runningMean, mul(meanStep, sub(mean, this.runningMean)));
      addInPlace(this.runningVar, mul(varStep, sub(unbiased, this.runningVar)));
    });
  }
}
