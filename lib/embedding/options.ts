/**
 * Options of {@link EmbeddingTable}, their defaults and their validation (every field named
 * in the error), and the plain object the native table is created from.
 */
import { Device, defaultDevice } from '../backend';
import { ArgumentError } from '../errors';
import { defaultRng } from '../random';
import { checkFunction, checkInt, checkKnownKeys, checkOneOf, checkOptions, checkRange, invalid } from '../validate';

/**
 * Which rows make room when a table is full: least recently looked up ('lru'), least often looked
 * up ('lfu'), or lowest decayed feature score ('score'); see {@link EmbeddingTableOptions.policy}.
 */
export type EvictionPolicy = 'lru' | 'lfu' | 'score';
/** The optimizer that updates a table's rows: AdaGrad, SGD or Adam (state kept per row). */
export type SparseOptimizerKind = 'adagrad' | 'sgd' | 'adam';

/** The optimizer that updates a table's rows (its state lives in the rows). */
export interface SparseOptimizerOptions {
  /** 'adagrad' (default, as PEPNet), 'sgd' or 'adam' (per-row moments and step count). */
  kind?: SparseOptimizerKind;
  /** Learning rate (default 0.05 for AdaGrad, 0.01 for SGD, 0.001 for Adam). */
  lr?: number;
  /** Added to the denominator (default 1e-10 for AdaGrad, 1e-8 for Adam). */
  eps?: number;
  /** Adam's moment decays (defaults 0.9, 0.999). */
  beta1?: number;
  /** Adam's second-moment decay β2 (default 0.999). */
  beta2?: number;
  /** L2 penalty added to the gradient of each updated row (default 0). */
  weightDecay?: number;
  /** AdaGrad's starting accumulator for a new row (default 0). */
  initialAccumulatorValue?: number;
}

/**
 * Options of {@link EmbeddingTable}: its shape and device, eviction, expiry, admission,
 * initialization and the rows' optimizer.
 */
export interface EmbeddingTableOptions {
  /** Floats per row. */
  dim: number;
  /** Rows: a hard cap on memory. When full, a training lookup of a new id evicts. */
  capacity: number;
  /** Where the table lives (default: the current backend's device). */
  device?: Device;
  /**
   * Slots per bucket (default 32). An id lives only in the bucket its hash picks, and a full
   * bucket makes room by evicting its own lowest row, so a lookup's cost does not grow with
   * the capacity; the eviction order is exact within a bucket, approximate over the table.
   * `bucketSize >= capacity` makes one bucket: the exact global order (each insert into a full
   * table then scans every row — for small tables).
   */
  bucketSize?: number;
  /**
   * Which rows make room when the table is full (default 'score'): 'lru' the least
   * recently looked-up; 'lfu' the least often looked-up (ties: the older); 'score' the
   * lowest feature score, a frequency whose every lookup's weight halves every
   * `scoreHalfLife` steps (see the README). Expired rows always go first.
   */
  policy?: EvictionPolicy;
  /** Half-life of a lookup's weight in the feature score, in steps (default 1000). */
  scoreHalfLife?: number;
  /** Rows not looked up for more than this many steps are expired (default: never). */
  ttlSteps?: number;
  /** Rows not looked up for more than this many seconds are expired (default: never). */
  ttlSeconds?: number;
  /** Remove expired rows every this many steps (default 0: only when room is needed and on evict()). */
  expireEvery?: number;
  /** An id gets a row on its admitAfter-th sighting; before that it reads the default row (default 1). */
  admitAfter?: number;
  /** Columns of the admission count-min sketch, a power of two (default 2^20). */
  sketchWidth?: number;
  /** Rows (hash functions) of the admission sketch (default 4). */
  sketchDepth?: number;
  /** How a new row starts: 'normal' (default), 'uniform' or 'zeros'. */
  init?: 'normal' | 'uniform' | 'zeros';
  /** The normal's standard deviation or the uniform's bound (default 0.01). */
  initScale?: number;
  /** Seed of the initial values: a row's start depends only on (seed, id) (default: from the global RNG). */
  seed?: number;
  /** The rows' optimizer (default AdaGrad, lr 0.05). */
  optimizer?: SparseOptimizerOptions;
  /** What eval-mode misses and not-yet-admitted ids read (default zeros). */
  defaultRow?: ArrayLike<number>;
  /** Wall clock in seconds for ttlSeconds and last-seen times (default Date.now() / 1000). */
  clock?: () => number;
}

const KNOWN = ['dim', 'capacity', 'device', 'bucketSize', 'policy', 'scoreHalfLife', 'ttlSteps', 'ttlSeconds', 'expireEvery', 'admitAfter', 'sketchWidth', 'sketchDepth', 'init', 'initScale', 'seed', 'optimizer', 'defaultRow', 'clock'];
const POLICIES: readonly EvictionPolicy[] = ['lru', 'lfu', 'score'];
const KINDS: readonly SparseOptimizerKind[] = ['adagrad', 'sgd', 'adam'];

/** The validated options, with defaults filled in. */
export interface ResolvedTableOptions {
  dim: number;
  capacity: number;
  device: Device;
  bucketSize: number;
  policy: EvictionPolicy;
  scoreHalfLife: number;
  ttlSteps: number;
  ttlSeconds: number;
  expireEvery: number;
  admitAfter: number;
  optimizer: Required<SparseOptimizerOptions>;
  defaultRow: Float32Array | null;
  clock: () => number;
  /** The object handed to native embCreate. */
  native: Record<string, number | string>;
}

function resolveOptimizer(o: SparseOptimizerOptions | undefined): Required<SparseOptimizerOptions> {
  const opt = checkOptions(o, 'options.optimizer');
  checkKnownKeys(opt, 'options.optimizer', ['kind', 'lr', 'eps', 'beta1', 'beta2', 'weightDecay', 'initialAccumulatorValue']);
  const kind = opt.kind === undefined ? 'adagrad' : checkOneOf(opt.kind, 'options.optimizer.kind', KINDS);
  const nonNeg = (v: number | undefined, name: string, def: number) =>
    v === undefined ? def : checkRange(v, `options.optimizer.${name}`, 0, Infinity, 'a non-negative number');
  const beta = (v: number | undefined, name: string, def: number) =>
    v === undefined ? def : checkRange(v, `options.optimizer.${name}`, 0, 1 - Number.EPSILON, 'a number in [0, 1)');
  return {
    kind,
    lr: nonNeg(opt.lr, 'lr', kind === 'adagrad' ? 0.05 : kind === 'sgd' ? 0.01 : 0.001),
    eps: nonNeg(opt.eps, 'eps', kind === 'adam' ? 1e-8 : 1e-10),
    beta1: beta(opt.beta1, 'beta1', 0.9),
    beta2: beta(opt.beta2, 'beta2', 0.999),
    weightDecay: nonNeg(opt.weightDecay, 'weightDecay', 0),
    initialAccumulatorValue: nonNeg(opt.initialAccumulatorValue, 'initialAccumulatorValue', 0),
  };
}

export function resolveTableOptions(options: EmbeddingTableOptions): ResolvedTableOptions {
  if (options === null || typeof options !== 'object') throw invalid('an options object { dim, capacity, … }', 'options', options);
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', KNOWN);
  const dim = checkInt(o.dim, 'options.dim', 1, 1 << 20);
  const capacity = checkInt(o.capacity, 'options.capacity', 1, 2 ** 30 - 1);
  const device = o.device === undefined ? defaultDevice() : checkOneOf(o.device, 'options.device', ['cpu', 'cuda'] as const);
  const bucketSize = o.bucketSize === undefined ? 32 : checkInt(o.bucketSize, 'options.bucketSize', 1, 2 ** 30);
  const policy = o.policy === undefined ? 'score' : checkOneOf(o.policy, 'options.policy', POLICIES);
  const scoreHalfLife = o.scoreHalfLife === undefined ? 1000 : checkRange(o.scoreHalfLife, 'options.scoreHalfLife', Number.MIN_VALUE, Infinity, 'a positive number of steps');
  const ttlSteps = o.ttlSteps === undefined ? 0 : checkInt(o.ttlSteps, 'options.ttlSteps', 1);
  const ttlSeconds = o.ttlSeconds === undefined ? 0 : checkRange(o.ttlSeconds, 'options.ttlSeconds', Number.MIN_VALUE, Infinity, 'a positive number of seconds');
  const expireEvery = o.expireEvery === undefined ? 0 : checkInt(o.expireEvery, 'options.expireEvery', 0);
  const admitAfter = o.admitAfter === undefined ? 1 : checkInt(o.admitAfter, 'options.admitAfter', 1, 2 ** 31 - 1);
  const sketchWidth = o.sketchWidth === undefined ? 1 << 20 : checkInt(o.sketchWidth, 'options.sketchWidth', 1, 2 ** 30);
  if ((sketchWidth & (sketchWidth - 1)) !== 0) throw invalid('a power of two', 'options.sketchWidth', sketchWidth);
  const sketchDepth = o.sketchDepth === undefined ? 4 : checkInt(o.sketchDepth, 'options.sketchDepth', 1, 16);
  const init = o.init === undefined ? 'normal' : checkOneOf(o.init, 'options.init', ['normal', 'uniform', 'zeros'] as const);
  const initScale = o.initScale === undefined ? 0.01 : checkRange(o.initScale, 'options.initScale', 0, Infinity, 'a non-negative number');
  const seed = o.seed === undefined ? defaultRng().nextUint32() : checkInt(o.seed, 'options.seed', 0, Number.MAX_SAFE_INTEGER);
  const optimizer = resolveOptimizer(o.optimizer);
  let defaultRow: Float32Array | null = null;
  if (o.defaultRow !== undefined) {
    if (!o.defaultRow || typeof (o.defaultRow as ArrayLike<number>).length !== 'number') throw invalid(`an array of ${dim} numbers`, 'options.defaultRow', o.defaultRow);
    defaultRow = Float32Array.from(o.defaultRow);
    if (defaultRow.length !== dim) throw new ArgumentError(`Expected ${dim} values (dim) for options.defaultRow but received ${defaultRow.length}`);
    defaultRow.forEach((v, i) => {
      if (!Number.isFinite(v)) throw invalid('a finite number', `options.defaultRow[${i}]`, o.defaultRow![i]);
    });
  }
  const clock = o.clock === undefined ? () => Date.now() / 1000 : (checkFunction(o.clock, 'options.clock') as () => number);
  return {
    dim,
    capacity,
    device,
    bucketSize: Math.min(bucketSize, capacity),
    policy,
    scoreHalfLife,
    ttlSteps,
    ttlSeconds,
    expireEvery,
    admitAfter,
    optimizer,
    defaultRow,
    clock,
    native: {
      dim,
      capacity,
      device,
      bucketSize,
      policy,
      log2Decay: -1 / scoreHalfLife,
      ttlSteps,
      ttlSeconds,
      init,
      initScale,
      seed,
      stateInit: optimizer.initialAccumulatorValue,
      optimizer: optimizer.kind,
      lr: optimizer.lr,
      eps: optimizer.eps,
      beta1: optimizer.beta1,
      beta2: optimizer.beta2,
      weightDecay: optimizer.weightDecay,
      admitAfter,
      sketchWidth,
      sketchDepth,
    },
  };
}
