import { noGrad } from '../autograd';
import { Activation, ACTIVATIONS } from '../ops/activation';
import { matmul } from '../ops/matmul';
import { sampleLinear } from '../ops/sample-linear';
import { Linear } from '../nn/linear';
import { MLP } from '../nn/mlp';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkBoolean, checkInt, checkOneOf, checkOptions, checkWidths, invalid } from '../validate';
import { checkRows } from '../personalize/field-input';

/** The conditions an APG layer can generate its core from, see {@link ApgCondition}. */
export const APG_CONDITIONS = ['self', 'group'] as const;
/** 'self': the core S is generated from the layer's own input; 'group': from a separate condition z. */
export type ApgCondition = (typeof APG_CONDITIONS)[number];

/** Options of {@link ApgLinear} (and, per layer, of {@link ApgMLP}). */
export interface ApgLinearOptions {
  /** Rank K of the generated core S(z) (default 16). */
  rank?: number;
  /** Generate S from the layer input ('self', default) or from a separate condition z ('group'). */
  condition?: ApgCondition;
  /** Width of z for 'group' (required there). */
  condFeatures?: number;
  /** Inner width P ≥ K of the over-parameterized U = U_l·U_r, V = V_l·V_r (default 0: none). */
  overParam?: number;
  /** Hidden widths of the generator z → S (default []: one linear layer). */
  generatorHidden?: number[];
  /** Activation after the bias (default 'identity'). */
  activation?: Activation;
  /** Include the bias b (default true). */
  bias?: boolean;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/** Linear layers applied in order, without activations between them (a factored matrix). */
function chain(layers: Linear[], x: Tensor): Tensor {
  return layers.reduce((h, l) => l.forward(h), x);
}

/**
 * APG (Alibaba, "Adaptive Parameter Generation Network for Click-Through Rate Prediction",
 * NeurIPS 2022): a layer whose weight is generated per sample from a condition z, at low rank
 * and without ever materializing the per-sample N×M matrix:
 *   W(z) = U · S(z) · V          U (N×K), V (K×M) shared; S(z) (K×K) = reshape(G(z)) per sample
 *   y    = act(((x·U)·S(z))·V + b)     O(NK + K² + KM) per sample instead of O(NM)
 * x·U and ·V are ordinary GEMMs; the per-sample K×K product is one batched kernel
 * (sampleLinear). Over-parameterization: U = U_l·U_r and V = V_l·V_r with an inner width
 * P ≥ K while training (more parameters, the same function class); `merge()` folds them into
 * U and V for inference. The condition is the layer's input ('self') or a separate vector,
 * e.g. chosen features' embeddings ('group').
 */
export class ApgLinear extends Module {
  /** x → x·U: one layer (K ← N), or two (P ← N, K ← P) while over-parameterized. */
  u: Linear[];
  /** h → h·V + b: one layer (M ← K), or two (P ← K, M ← P). The activation is fused into the last. */
  v: Linear[];
  /** z → S(z) flattened (K·K). */
  generator: MLP;
  /** Width N of the input x. */
  readonly inFeatures: number;
  /** Width M of the output. */
  readonly outFeatures: number;
  /** Rank K of the generated core S(z) (K×K). */
  readonly rank: number;
  /** Where the core comes from: the input ('self') or z ('group'). */
  readonly condition: ApgCondition;
  /** Width of the condition the generator reads (inFeatures for 'self'). */
  readonly condFeatures: number;

  constructor(inFeatures: number, outFeatures: number, options: ApgLinearOptions = {}) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.outFeatures = checkInt(outFeatures, 'outFeatures', 1);
    const K = (this.rank = checkInt(o.rank ?? 16, 'options.rank', 1));
    this.condition = checkOneOf(o.condition ?? 'self', 'options.condition', APG_CONDITIONS);
    if (this.condition === 'group' && o.condFeatures === undefined) throw invalid("a width (required with condition 'group')", 'options.condFeatures', o.condFeatures);
    this.condFeatures = this.condition === 'self' ? this.inFeatures : checkInt(o.condFeatures, 'options.condFeatures', 1);
    const P = checkInt(o.overParam ?? 0, 'options.overParam', 0);
    if (P !== 0 && P < K) throw invalid(`0 or a width ≥ the rank ${K}`, 'options.overParam', P);
    const act = checkOneOf(o.activation ?? 'identity', 'options.activation', ACTIVATIONS);
    const bias = checkBoolean(o.bias ?? true, 'options.bias');
    const hidden = checkWidths(o.generatorHidden ?? [], 'options.generatorHidden', true);
    const rng = o.rng;
    const N = this.inFeatures;
    const M = this.outFeatures;
    this.u = P ? [new Linear(N, P, { bias: false, rng }), new Linear(P, K, { bias: false, rng })] : [new Linear(N, K, { bias: false, rng })];
    this.v = P
      ? [new Linear(K, P, { bias: false, rng }), new Linear(P, M, { bias, activation: act, rng })]
      : [new Linear(K, M, { bias, activation: act, rng })];
    this.generator = new MLP(this.condFeatures, { hidden, outFeatures: K * K, rng });
  }

  /** S(z) per sample: (B, K, K). */
  core(z: Tensor): Tensor {
    checkRows(z, this.condFeatures, this.condition === 'self' ? 'x' : 'z');
    return this.generator.forward(z).reshape(z.shape[0], this.rank, this.rank);
  }

  /** x (B, N), and z (B, condFeatures) for 'group' → (B, M). */
  forward(x: Tensor, z?: Tensor): Tensor {
    checkRows(x, this.inFeatures, 'x');
    const cond = this.condition === 'self' ? x : (z as Tensor);
    if (this.condition === 'group') checkRows(cond, this.condFeatures, 'z', x.shape[0]);
    return chain(this.v, sampleLinear(chain(this.u, x), this.core(cond)));
  }

  /** Whether U and V are still over-parameterized (two factors each). */
  get overParameterized(): boolean {
    return this.u.length > 1;
  }

  /**
   * Folds U = U_l·U_r and V = V_l·V_r into single matrices (for inference: the same outputs,
   * fewer FLOPs). Returns this; a no-op when not over-parameterized.
   */
  merge(): this {
    if (!this.overParameterized) return this;
    noGrad(() => {
      const [ul, ur] = this.u;
      const [vl, vr] = this.v;
      const init = new Rng(0); // the merged weights are overwritten: leave the global generator alone
      const u = new Linear(this.inFeatures, this.rank, { bias: false, rng: init });
      u.weight.copyFrom(matmul(ur.weight, ul.weight)); // (K, P)·(P, N): x·U = x·(Wr·Wl)ᵀ
      const v = new Linear(this.rank, this.outFeatures, { bias: vr.bias !== null, activation: vr.activation, rng: init });
      v.weight.copyFrom(matmul(vr.weight, vl.weight)); // (M, P)·(P, K)
      if (vr.bias && v.bias) v.bias.copyFrom(vr.bias);
      for (const t of [...this.u, ...this.v].flatMap((l) => [l.weight, l.bias])) t?.dispose();
      this.u = [u];
      this.v = [v];
    });
    return this;
  }

  /** The per-sample matrix W(z) = U·S(z)·V (B, N, M): for analysis and tests (O(NM) per sample). */
  materialize(z: Tensor): Tensor {
    return noGrad(() => {
      const uT = this.u.length > 1 ? matmul(this.u[1].weight, this.u[0].weight) : this.u[0].weight; // (K, N)
      const vT = this.v.length > 1 ? matmul(this.v[1].weight, this.v[0].weight) : this.v[0].weight; // (M, K)
      const us = matmul(this.core(z), uT, { transA: true }); // (B, K, N): (U·S)ᵀ = Sᵀ·Uᵀ
      return matmul(us, vT, { transA: true, transB: true }); // (B, N, M) = (U·S)·V
    });
  }
}
