/**
 * STAR (Alibaba, "One Model to Serve All: Star Topology Adaptive Recommender for
 * Multi-Domain CTR Prediction", CIKM 2021): every layer has a centered weight W, b shared
 * by all domains and a per-domain W_p, b_p; a sample of domain p sees
 *   W*_p = W ⊙ W_p,   b*_p = b + b_p,   y = act(x·W*_pᵀ + b*_p)
 * W_p starts at 1 and b_p at 0, so every domain starts from the shared layer. A mixed-domain
 * batch runs every domain's layer as ONE batched GEMM (expertLinear over the D combined
 * weights) and keeps each sample's own domain's row with a one-hot combine (moeCombine):
 * D× the FLOPs of one layer, no per-domain gather or host round trip, and gradients reach
 * W and W_p only through the samples of their domain.
 */
import { Activation, ACTIVATIONS } from '../ops/activation';
import { add, mul } from '../ops/elementwise';
import { expertLinear, moeCombine } from '../ops/moe';
import { constant, heUniform, xavierUniform } from '../nn/init';
import { Dropout } from '../nn/layers';
import { MLPOptions, mlpStack } from '../nn/mlp';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkBoolean, checkInt, checkOneOf, checkOptions } from '../validate';
import { checkRows } from '../personalize/field-input';
import { domainMask } from './domain-mask';

/** Options of {@link StarLinear}. */
export interface StarLinearOptions {
  /** Number of domains D. */
  domains: number;
  /** Activation after the bias (default 'identity'). */
  activation?: Activation;
  /** Include b and b_p (default true). */
  bias?: boolean;
  /** Initializer of the shared W (default 'xavier'; 'he' for ReLU layers). */
  init?: 'xavier' | 'he';
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

export class StarLinear extends Module {
  /** Shared W (out, in), as PyTorch's Linear. */
  weight: Tensor;
  /** Shared b (out) or null. */
  bias: Tensor | null;
  /** Per-domain W_p (D, out, in), starting at 1. */
  domainWeight: Tensor;
  /** Per-domain b_p (D, out), starting at 0, or null. */
  domainBias: Tensor | null;
  /** Width of the input x. */
  readonly inFeatures: number;
  /** Width of the output. */
  readonly outFeatures: number;
  /** Number of domains D. */
  readonly domains: number;
  /** The activation after the bias. */
  readonly activation: Activation;

  constructor(inFeatures: number, outFeatures: number, options: StarLinearOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.outFeatures = checkInt(outFeatures, 'outFeatures', 1);
    this.domains = checkInt(o.domains, 'options.domains', 1);
    this.activation = checkOneOf(o.activation ?? 'identity', 'options.activation', ACTIVATIONS);
    const init = checkOneOf(o.init ?? 'xavier', 'options.init', ['xavier', 'he'] as const);
    const bias = checkBoolean(o.bias ?? true, 'options.bias');
    const shape = [outFeatures, inFeatures];
    this.weight = init === 'he' ? heUniform(shape, { rng: o.rng }) : xavierUniform(shape, { rng: o.rng });
    this.bias = bias ? constant([outFeatures], 0) : null;
    this.domainWeight = constant([this.domains, outFeatures, inFeatures], 1);
    this.domainBias = bias ? constant([this.domains, outFeatures], 0) : null;
  }

  /** Each domain's combined layer: W ⊙ W_p (D, out, in) and b + b_p (D, out) or null. */
  combined(): [Tensor, Tensor | null] {
    return [mul(this.domainWeight, this.weight), this.bias && this.domainBias ? add(this.domainBias, this.bias) : null];
  }

  /**
   * x (B, in), domain ids (B) or a (B, D) mask (see domainMask) → (B, out): each sample
   * through its own domain's layer.
   */
  forward(x: Tensor, domain: Tensor): Tensor {
    checkRows(x, this.inFeatures, 'x');
    const B = x.shape[0];
    const mask = domainMask(domain, this.domains, x.device, B);
    const [w, b] = this.combined();
    const all = expertLinear(x, w, b, this.activation); // (D, B, out)
    return moeCombine(all, mask.reshape(B, 1, this.domains)).reshape(B, this.outFeatures);
  }
}

/** MLP's options (hidden, outFeatures, activations, dropout) and the number of domains. */
export interface StarMLPOptions extends MLPOptions {
  /** Number of domains D. */
  domains: number;
}

/** STAR's star-topology fully-connected network: a stack of StarLinear layers. */
export class StarMLP extends Module {
  /** The star layers, one per hidden width, then the output layer when `outFeatures` is given. */
  layers: StarLinear[];
  /** The dropouts after each hidden layer (empty when `dropout` is 0). */
  drops: Dropout[];
  /** Number of domains D. */
  readonly domains: number;
  /** Width of the output (`outFeatures`, or the last hidden width). */
  readonly outFeatures: number;

  constructor(inFeatures: number, options: StarMLPOptions) {
    super();
    const domains = (this.domains = checkInt(checkOptions(options, 'options').domains, 'options.domains', 1));
    ({ layers: this.layers, drops: this.drops, outFeatures: this.outFeatures } = mlpStack(inFeatures, options, (i, out, activation, init) => new StarLinear(i, out, { domains, activation, init, rng: options.rng })));
  }

  /** x (B, in), domain ids (B) or a (B, D) mask → (B, outFeatures). */
  forward(x: Tensor, domain: Tensor): Tensor {
    const mask = domainMask(domain, this.domains, x.device, x.shape[0]);
    let h = x;
    this.layers.forEach((layer, l) => {
      h = layer.forward(h, mask);
      if (this.drops[l]) h = this.drops[l].forward(h);
    });
    return h;
  }
}
