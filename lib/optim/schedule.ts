/**
 * Learning-rate schedules. A schedule multiplies each group's base learning rate by a
 * factor of the step count; call `step()` once per optimizer step (or epoch, as you choose).
 */
import { checkFunction, checkInt, checkPositive, checkRange, invalid } from '../validate';
import { BaseOptions, Optimizer } from './optimizer';

/**
 * The base of the learning-rate schedules: sets each parameter group's lr to its base lr (the lr
 * when the scheduler was made) times `factor(step)`, once now and again at every `step()`. Use it
 * directly with any factor function, or a subclass (StepLR, ExponentialLR, CosineAnnealingLR,
 * LinearWarmup).
 */
export class LRScheduler {
  /** The optimizer whose groups' learning rates it sets. */
  readonly optimizer: Optimizer<BaseOptions>;
  /** Each group's learning rate when the scheduler was made. */
  readonly baseLrs: number[];
  /** Times `step()` was called. */
  lastStep = 0;
  /** The multiplier of the base learning rate after `step` steps. */
  readonly factor: (step: number) => number;

  constructor(optimizer: Optimizer<BaseOptions>, factor: (step: number) => number) {
    if (!(optimizer instanceof Optimizer)) throw invalid('an Optimizer', 'optimizer', optimizer);
    checkFunction(factor, 'factor');
    this.optimizer = optimizer;
    this.factor = factor;
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.apply();
  }

  /** Advances one step and sets each group's lr to baseLr · factor(lastStep). */
  step(): void {
    this.lastStep += 1;
    this.apply();
  }

  /** Current learning rate of each group. */
  lrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  private apply(): void {
    const f = this.factor(this.lastStep);
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.baseLrs[i] * f;
    });
  }
}

/** lr · gamma^⌊step / stepSize⌋. */
export class StepLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, stepSize: number, gamma = 0.1) {
    checkInt(stepSize, 'stepSize', 1);
    checkRange(gamma, 'gamma', 0, 1);
    super(optimizer, (step) => gamma ** Math.floor(step / stepSize));
  }
}

/** lr · gamma^step. */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, gamma: number) {
    checkRange(gamma, 'gamma', 0, 1);
    super(optimizer, (step) => gamma ** step);
  }
}

/** Cosine from lr down to lr·minFactor over totalSteps, then flat. */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, totalSteps: number, minFactor = 0) {
    checkInt(totalSteps, 'totalSteps', 1);
    checkRange(minFactor, 'minFactor', 0, 1);
    super(optimizer, (step) => {
      const t = Math.min(step, totalSteps) / totalSteps;
      return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * t));
    });
  }
}

/** Linear warm-up from lr·startFactor to lr over warmupSteps, then constant. */
export class LinearWarmup extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, warmupSteps: number, startFactor = 0.1) {
    checkInt(warmupSteps, 'warmupSteps', 1);
    checkPositive(startFactor, 'startFactor');
    super(optimizer, (step) => (step >= warmupSteps ? 1 : startFactor + ((1 - startFactor) * step) / warmupSteps));
  }
}
