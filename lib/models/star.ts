import { concat } from '../ops/layout';
import { add } from '../ops/elementwise';
import { MLP } from '../nn/mlp';
import { Module } from '../nn/module';
import { PartitionedNorm } from '../dynamic/partitioned-norm';
import { StarMLP } from '../dynamic/star';
import { domainMask } from '../dynamic/domain-mask';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkBoolean, checkInt, checkOptions, checkRange, checkWidths } from '../validate';
import { checkRows } from '../personalize/field-input';

/** Options of {@link Star}. */
export interface StarOptions {
  /** Number of domains D. */
  domains: number;
  /** Hidden widths of the star network (default [128, 64]). */
  hidden?: number[];
  /** Logits per sample (default 1). */
  tasks?: number;
  /** Partitioned normalization of the input (default true). */
  normalize?: boolean;
  /** Width of extra domain-level features fed to the auxiliary tower (default 0). */
  auxFeatures?: number;
  /** Hidden widths of the auxiliary tower (default [16]; [] = linear). */
  auxHidden?: number[];
  /** Dropout after each star hidden layer while training (default 0). */
  dropout?: number;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * STAR (Alibaba, CIKM 2021) as a model: partitioned normalization of the input, the
 * star-topology network (every layer W ⊙ W_p, b + b_p) and an auxiliary tower on the domain
 * indicator (and any other domain-level features) whose logit is added to the main one:
 *   logit = StarMLP(PN(x; p); p) + aux([onehot(p) ‖ a])
 * The auxiliary tower lets the domain shift the prediction directly, as the paper's
 * "auxiliary network". Mixed-domain batches work throughout.
 */
export class Star extends Module {
  /** Partitioned normalization of the input, or null without `normalize`. */
  norm: PartitionedNorm | null;
  /** The star-topology network: inFeatures → tasks logits. */
  star: StarMLP;
  /** The auxiliary tower: [onehot(domain) ‖ aux features] → tasks logits. */
  aux: MLP;
  /** Width of the input x. */
  readonly inFeatures: number;
  /** Number of domains D. */
  readonly domains: number;
  /** Width of the extra domain-level features of the auxiliary tower. */
  readonly auxFeatures: number;

  constructor(inFeatures: number, options: StarOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.domains = checkInt(o.domains, 'options.domains', 1);
    const tasks = checkInt(o.tasks ?? 1, 'options.tasks', 1);
    this.auxFeatures = checkInt(o.auxFeatures ?? 0, 'options.auxFeatures', 0);
    const hidden = checkWidths(o.hidden ?? [128, 64], 'options.hidden', true);
    const dropout = checkRange(o.dropout ?? 0, 'options.dropout', 0, 0.99);
    this.norm = checkBoolean(o.normalize ?? true, 'options.normalize') ? new PartitionedNorm(this.inFeatures, { domains: this.domains }) : null;
    this.star = new StarMLP(this.inFeatures, { domains: this.domains, hidden, outFeatures: tasks, dropout, rng: o.rng });
    this.aux = new MLP(this.domains + this.auxFeatures, { hidden: checkWidths(o.auxHidden ?? [16], 'options.auxHidden', true), outFeatures: tasks, rng: o.rng });
  }

  /**
   * x (B, inFeatures), domain ids (B) or a (B, D) mask, aux (B, auxFeatures) when
   * auxFeatures > 0 → logits (B, tasks).
   */
  forward(x: Tensor, domain: Tensor, aux?: Tensor): Tensor {
    checkRows(x, this.inFeatures, 'x');
    const mask = domainMask(domain, this.domains, x.device, x.shape[0]);
    if (this.auxFeatures > 0) checkRows(aux as Tensor, this.auxFeatures, 'aux', x.shape[0]);
    const h = this.norm ? this.norm.forward(x, mask) : x;
    const auxIn = this.auxFeatures > 0 ? concat([mask, aux as Tensor], 1) : mask;
    return add(this.star.forward(h, mask), this.aux.forward(auxIn));
  }
}
