import { noGrad } from '../autograd';
import { Activation, ACTIVATIONS } from '../ops/activation';
import { add, clamp, mul, sub } from '../ops/elementwise';
import { dropout } from '../ops/nn';
import { normal } from '../nn/init';
import { MLP } from '../nn/mlp';
import { Module } from '../nn/module';
import { checkFieldEmbeddings } from '../personalize/field-input';
import { defaultRng, Rng } from '../random';
import { ShapeError } from '../errors';
import { ones, Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkRange, invalid } from '../validate';

/** Options of {@link ShallowTower}. */
export interface ShallowTowerOptions {
  /** Bias feature fields F per sample (e.g. 2: position and device). */
  fields: number;
  /** Width D of each field's embedding. */
  dim: number;
  /** Logits per sample, one per task (default 1). */
  tasks?: number;
  /** Hidden widths of the tower (default []: a single linear layer). */
  hidden?: number[];
  /** Hidden activation (default 'relu'). */
  activation?: Activation;
  /** Probability that a (sample, field) is replaced by the field's missing vector while training (default 0.1). */
  dropout?: number;
  /** Generator for the initial weights and the feature-dropout seeds (default: the global one). */
  rng?: Rng;
}

/**
 * Shallow tower (YouTube, "Recommending What Video to Watch Next", RecSys 2019): a small
 * tower on the selection-bias features only (position, device…) whose logit the caller
 * adds to the main model's:
 *   logit = main(x) + shallow(bias)
 * so the main model need not learn the bias. While training, feature dropout replaces each
 * (sample, field) independently with probability p by the field's learned "missing" vector;
 * at serving (eval mode) every field is missing, so the tower adds one constant to every
 * sample and the bias is removed from the ranking:
 *   training  x[b, f] = keep[b, f] ? bias[b, f] : missing[f]      keep ~ Bernoulli(1 − p)
 *   serving   x[b, f] = missing[f]
 *   out       = tower(flatten(x))                                  (B, tasks)
 * `observed(bias)` evaluates with every field observed, for analysis (the learned bias).
 */
export class ShallowTower extends Module {
  /** (fields, dim): each field's learned "missing" embedding (dropped fields, and every field at serving). */
  missing: Tensor;
  /** The tower: fields·dim → tasks logits. */
  tower: MLP;
  /** Bias feature fields F. */
  readonly fields: number;
  /** Width D of each field's embedding. */
  readonly dim: number;
  /** Logits per sample. */
  readonly tasks: number;
  /** Feature-dropout probability while training. */
  readonly dropout: number;
  private readonly rng: Rng | null;

  constructor(options: ShallowTowerOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.fields = checkInt(o.fields, 'options.fields', 1);
    this.dim = checkInt(o.dim, 'options.dim', 1);
    this.tasks = checkInt(o.tasks ?? 1, 'options.tasks', 1);
    const hidden = o.hidden ?? [];
    if (!Array.isArray(hidden)) throw invalid('an array of layer widths', 'options.hidden', hidden);
    hidden.forEach((h, i) => checkInt(h, `options.hidden[${i}]`, 1));
    const activation = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
    this.dropout = checkRange(o.dropout ?? 0.1, 'options.dropout', 0, 0.99);
    this.rng = o.rng ?? null;
    this.missing = normal([this.fields, this.dim], 0, 0.01, { rng: o.rng });
    this.tower = new MLP(this.fields * this.dim, { hidden, outFeatures: this.tasks, activation, rng: o.rng });
  }

  /**
   * bias (B, fields, dim) float32, the bias features' embeddings → logits (B, tasks) to add
   * to the main logits. Training: feature dropout; eval: every field missing (one constant row).
   */
  forward(bias: Tensor): Tensor {
    const batch = this.checkBias(bias);
    if (!this.training) {
      const served = this.tower.forward(this.missing.reshape(1, this.fields * this.dim));
      return mul(ones([batch, 1], { device: bias.device }), served);
    }
    if (this.dropout === 0) return this.observed(bias);
    const keep = this.keepMask(batch, bias);
    const dropped = noGrad(() => sub(1, keep));
    const x = add(mul(keep, bias), mul(dropped, this.missing));
    return this.tower.forward(x.reshape(batch, this.fields * this.dim));
  }

  /** The tower with every field observed (no dropout, no missing vector): (B, tasks), in any mode. */
  observed(bias: Tensor): Tensor {
    const batch = this.checkBias(bias);
    return this.tower.forward(bias.reshape(batch, this.fields * this.dim));
  }

  /**
   * (B, fields, 1) float32, 1 where a (sample, field) is kept: Philox's Bernoulli draw u ≥ p
   * (the bits bernoulliMask(shape, p, seed) gives), made 0/1 on the device by clamping
   * dropout(1) = 1/(1 − p) to 1. The seed comes from options.rng or the global generator.
   */
  private keepMask(batch: number, like: Tensor): Tensor {
    const seed = (this.rng ?? defaultRng()).seed();
    return noGrad(() => clamp(dropout(ones([batch, this.fields, 1], { device: like.device }), this.dropout, { seed }), 0, 1));
  }

  /** Checks bias is (B, fields, dim) float32; returns B. */
  private checkBias(bias: Tensor): number {
    const [batch, dim] = checkFieldEmbeddings(bias, this.fields, 'bias');
    if (dim !== this.dim) throw new ShapeError(`Expected shape [batch, ${this.fields}, ${this.dim}] for bias but received [${bias.shape}]`);
    return batch;
  }
}
