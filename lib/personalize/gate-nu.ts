import { mul } from '../ops/elementwise';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOptions, checkPositive } from '../validate';

/** Options of {@link GateNU}. */
export interface GateNUOptions {
  /** Width of the condition x. */
  inFeatures: number;
  /** Number of gate values per sample. */
  outFeatures: number;
  /** Width of the hidden ReLU layer (default: outFeatures). */
  hidden?: number;
  /** γ, the gate's upper bound (default 2). */
  gamma?: number;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * GateNU, PEPNet's gate neural unit: g(x) = γ·σ(W2·relu(W1·x + b1) + b2), one gate value
 * per output unit and sample. With γ = 2 a gate starts near 1 (σ(0) = ½), so an untrained
 * gate leaves the network it scales unchanged, and it can amplify a unit up to twice.
 */
export class GateNU extends Module {
  /** The hidden layer: relu(W1·x + b1), inFeatures → hidden. */
  fc1: Linear;
  /** The output layer: σ(W2·h + b2), hidden → outFeatures (γ applied after). */
  fc2: Linear;
  /** Width of the condition x. */
  readonly inFeatures: number;
  /** Number of gate values per sample. */
  readonly outFeatures: number;
  /** γ, the gate's upper bound. */
  readonly gamma: number;

  constructor(options: GateNUOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(o.inFeatures, 'options.inFeatures', 1);
    this.outFeatures = checkInt(o.outFeatures, 'options.outFeatures', 1);
    const hidden = checkInt(o.hidden ?? this.outFeatures, 'options.hidden', 1);
    this.gamma = checkPositive(o.gamma ?? 2, 'options.gamma');
    this.fc1 = new Linear(this.inFeatures, hidden, { activation: 'relu', init: 'he', rng: o.rng });
    this.fc2 = new Linear(hidden, this.outFeatures, { activation: 'sigmoid', rng: o.rng });
  }

  /** σ(W2·relu(W1·x + b1) + b2) without γ, for callers that fold γ into a fused kernel. */
  sigmoidGate(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x));
  }

  /** x (..., inFeatures) → γ·σ(…) (..., outFeatures). */
  forward(x: Tensor): Tensor {
    return mul(this.sigmoidGate(x), this.gamma);
  }
}
