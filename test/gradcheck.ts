/**
 * Test helpers: random inputs from a seeded generator, and `gradcheck`, which checks a
 * gatewise op against a plain float64 reference of its forward:
 *   (a) the float32 forward against ref(x) (x = the float32-rounded inputs, in float64);
 *   (b) the analytic gradient: y.backward(r) for a random projection r, compared with
 *       central finite differences of sum(r ⊙ ref(x)) taken in float64 (h ≈ 1e-6).
 * Failures name the worst element (flat and multi-index, got, want, and by how much it
 * misses the tolerance). Allocator blocks are poisoned with NaN first, so unwritten
 * elements show.
 */
import { Device, full, memoryStats, Rng, Tensor, tensor } from '../lib';
import type { Activation } from '../lib';
import { logMaxError } from './parity-log';

// ---- random inputs

export interface RandOptions {
  /** Lower bound (default −1). */
  lo?: number;
  /** Upper bound (default 1). */
  hi?: number;
  /** Keep |x| ≥ minAbs (default 0.05): away from 0, the kink of relu/abs and the pole of 1/x. */
  minAbs?: number;
}

/** n uniform values in [lo, hi] with |x| ≥ minAbs, rounded to float32. */
export function rand(rng: Rng, n: number, o: RandOptions = {}): Float64Array {
  const lo = o.lo ?? -1;
  const hi = o.hi ?? 1;
  const minAbs = o.minAbs ?? 0.05;
  const out = new Float64Array(n);
  for (let i = 0; i < n; ++i) {
    let v = 0;
    for (let tries = 0; ; ++tries) {
      v = lo + (hi - lo) * rng.uniform();
      if (Math.abs(v) >= minAbs) break;
      if (tries > 1000) throw new Error(`rand: no value in [${lo}, ${hi}] with |x| >= ${minAbs}`);
    }
    out[i] = Math.fround(v);
  }
  return out;
}

/**
 * n distinct values with gaps of at least `gap` between any two (a shuffled grid plus
 * jitter): for max/min, whose gradient must not see ties within the finite-difference step.
 */
export function distinct(rng: Rng, n: number, gap = 0.01): Float64Array {
  const grid = Float64Array.from({ length: n }, (_, i) => (i - (n - 1) / 2) * 3 * gap + 0.37 * gap);
  rng.shuffle(grid);
  return grid.map((v) => Math.fround(v + (rng.uniform() - 0.5) * gap));
}

/** The product of the dims. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** The multi-index of flat index i in shape. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; --d) {
    idx[d] = shape[d] === 0 ? 0 : i % shape[d];
    i = shape[d] === 0 ? 0 : Math.floor(i / shape[d]);
  }
  return idx;
}

/** NumPy broadcast of two shapes (reference side). */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; ++i) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`reference: cannot broadcast [${a}] and [${b}]`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Reference broadcasting binary op: f(a[bcast], b[bcast]) over the broadcast shape. */
export function broadcastBinary(
  a: Float64Array,
  aShape: readonly number[],
  b: Float64Array,
  bShape: readonly number[],
  f: (x: number, y: number) => number,
): Float64Array {
  const shape = broadcastShape(aShape, bShape);
  const n = numel(shape);
  const out = new Float64Array(n);
  const sa = strides(aShape);
  const sb = strides(bShape);
  for (let i = 0; i < n; ++i) {
    const idx = unravel(i, shape);
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < shape.length; ++d) {
      const da = d - (shape.length - aShape.length);
      const db = d - (shape.length - bShape.length);
      if (da >= 0 && aShape[da] !== 1) ia += idx[d] * sa[da];
      if (db >= 0 && bShape[db] !== 1) ib += idx[d] * sb[db];
    }
    out[i] = f(a[ia], b[ib]);
  }
  return out;
}

// ---- float64 references

/**
 * erf in float64: the Maclaurin series for |x| < 2.5 (terms stay below ~40, so about 14
 * correct digits), and for larger |x| erfc's continued fraction
 * erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated bottom-up.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 100; ++n) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = ax;
  for (let k = 80; k >= 1; --k) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

// ---- comparison

/** Each activation in float64, as the kernels define it (leaky_relu's slope 0.01 in float32). */
export const actRef: Record<Activation, (z: number) => number> = {
  identity: (z) => z,
  relu: (z) => Math.max(z, 0),
  leaky_relu: (z) => (z > 0 ? z : Math.fround(0.01) * z),
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  tanh: Math.tanh,
  gelu: (z) => 0.5 * z * (1 + erf(z / Math.SQRT2)),
};

export interface Tolerance {
  /** Absolute tolerance. */
  atol: number;
  /** Relative tolerance (to |want|). */
  rtol: number;
}

interface Worst {
  i: number;
  got: number;
  want: number;
  ratio: number;
}

/** The element with the largest |got − want| / (atol + rtol·|want|); non-finite wants must match exactly. */
function worstElement(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): Worst | null {
  let worst: Worst | null = null;
  for (let i = 0; i < want.length; ++i) {
    const g = got[i];
    const w = want[i];
    let ratio: number;
    if (!Number.isFinite(w)) ratio = Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w)) ? 0 : Infinity;
    else if (!Number.isFinite(g)) ratio = Infinity;
    else ratio = g === w ? 0 : Math.abs(g - w) / (tol.atol + tol.rtol * Math.abs(w));
    if (!worst || ratio > worst.ratio || (Number.isNaN(ratio) && !Number.isNaN(worst.ratio))) worst = { i, got: g, want: w, ratio };
  }
  return worst;
}

/**
 * Throws, naming the worst element, unless every |got − want| ≤ atol + rtol·|want|
 * (non-finite `want` values must be matched exactly). With GATEWISE_PARITY_LOG set, first
 * records the largest |got − want| (see parity-log.ts).
 */
export function expectAllClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: Partial<Tolerance> = {},
  what = 'values',
  shape?: readonly number[],
  /** The flat element index of each compared entry, when a sample is compared. */
  index?: readonly number[],
): void {
  const t: Tolerance = { atol: tol.atol ?? 1e-5, rtol: tol.rtol ?? 1e-4 };
  if (got.length !== want.length) throw new Error(`${what}: got ${got.length} elements, want ${want.length}`);
  const w = worstElement(got, want, t);
  logMaxError(what, got, want, t);
  if (w && !(w.ratio <= 1)) {
    const flat = index ? index[w.i] : w.i;
    const at = shape ? ` [${unravel(flat, shape)}]` : '';
    throw new Error(
      `${what}: worst element ${flat}${at}: got ${w.got}, want ${w.want} (|diff| ${Math.abs(w.got - w.want).toExponential(3)}, ` +
        `${w.ratio.toFixed(2)}× the tolerance atol ${t.atol} + rtol ${t.rtol}·|want|)`,
    );
  }
}

// ---- poisoning

/**
 * Fills every cached allocator block that a float32 tensor of each of these sizes could be
 * handed with NaN: allocates blocks of that size until the allocator has to ask the system
 * for one (its cache of that size class is empty), fills them all, and frees them. The
 * next buffers of those sizes then start as NaN, so elements an op forgets to write show.
 */
export function poison(sizes: Iterable<number>, device: Device = 'cpu'): void {
  const seen = new Set<number>();
  for (const n of sizes) {
    const bytes = Math.max(n, 1) * 4;
    const cls = bytes <= 1 << 20 ? Math.ceil(bytes / 512) : -Math.ceil(bytes / (2 << 20));
    if (seen.has(cls)) continue;
    seen.add(cls);
    const held: Tensor[] = [];
    const before = memoryStats(device).systemAllocs;
    for (let k = 0; k < 10_000; ++k) {
      held.push(full([Math.max(n, 1)], NaN, { device }));
      if (memoryStats(device).systemAllocs > before) break;
    }
    for (const t of held) t.dispose();
  }
}

// ---- gradcheck

export interface GradcheckInput {
  /** Values (rounded to float32 before use). */
  data: ArrayLike<number>;
  shape: readonly number[];
  /** Whether this input gets requiresGrad and a gradient check (default true). */
  grad?: boolean;
}

export interface GradcheckOptions {
  /** What is being checked, for messages. */
  name?: string;
  inputs: GradcheckInput[];
  /** Runs the gatewise op on float32 tensors (created with requiresGrad). */
  op: (tensors: Tensor[]) => Tensor;
  /** The same forward in float64 on the flat inputs (row-major). */
  ref: (arrays: Float64Array[]) => Float64Array;
  /** The expected output shape (checked when given). */
  outShape?: readonly number[];
  /** Forward tolerance (default atol 1e-6, rtol 1e-5: float32 with short accumulations). */
  fwdTol?: Partial<Tolerance>;
  /** Gradient tolerance (default atol 1e-5, rtol 1e-4). */
  gradTol?: Partial<Tolerance>;
  /** Finite-difference step (default 1e-6). */
  h?: number;
  /** Seed of the projection r (default 1234). */
  seed?: number;
  /** Device of the tensors (default 'cpu': CUDA is checked against the CPU twin instead). */
  device?: Device;
  /** Skip the gradient check (forward only). */
  forwardOnly?: boolean;
  /** Poison the allocator's cached blocks with NaN before the forward and the backward (default true). */
  poison?: boolean;
  /**
   * Finite differences for at most this many elements per input (default 256): larger
   * inputs check a seeded random sample, always including the first and last element.
   */
  maxFdElements?: number;
}

export interface GradcheckResult {
  /** The op's output values (float32, as numbers). */
  out: Float64Array;
  /** The reference output. */
  want: Float64Array;
  /** Each input's analytic gradient (null where not checked). */
  grads: (Float64Array | null)[];
  /** The projection r used for backward. */
  r: Float64Array;
}

/**
 * Checks op against ref: forward values, then d(sum(r ⊙ y))/dx for each input needing a
 * gradient, against central finite differences in float64. Entries where ref's output is
 * not finite (−∞ of a masked log-softmax) get r = 0: finite differences cannot see them.
 */
export function gradcheck(o: GradcheckOptions): GradcheckResult {
  const name = o.name ?? 'op';
  const device = o.device ?? 'cpu';
  const h = o.h ?? 1e-6;
  const xs = o.inputs.map((inp) => {
    if (inp.data.length !== numel(inp.shape)) throw new Error(`${name}: input has ${inp.data.length} elements but shape [${inp.shape}]`);
    return Float64Array.from(Float32Array.from(inp.data));
  });
  const ts = o.inputs.map((inp, k) => tensor(Float32Array.from(xs[k]), { shape: inp.shape, device, requiresGrad: inp.grad !== false }));

  const want = o.ref(xs.map((x) => x.slice()));
  const poisonSizes = [want.length, 2 * want.length, ...xs.map((x) => x.length), ...xs.map((x) => 2 * x.length)];
  if (o.poison !== false) poison(poisonSizes, device);
  const y = o.op(ts);
  if (o.outShape) {
    if (y.shape.join() !== o.outShape.join()) throw new Error(`${name}: output shape [${y.shape}], want [${o.outShape}]`);
  }
  const out = Float64Array.from(y.toArraySync() as Float32Array);
  expectAllClose(out, want, { atol: 1e-6, rtol: 1e-5, ...o.fwdTol }, `${name}: forward`, y.shape);

  const grads: (Float64Array | null)[] = o.inputs.map(() => null);
  const rng = new Rng(o.seed ?? 1234);
  const r = Float64Array.from(want, (w) => (Number.isFinite(w) ? Math.fround(rng.uniform() * 2 - 1) : 0));
  if (o.forwardOnly) return { out, want, grads, r };
  if (!o.inputs.some((inp) => inp.grad !== false)) return { out, want, grads, r };

  const seed = tensor(Float32Array.from(r), { shape: y.shape, device });
  if (o.poison !== false) poison(poisonSizes, device);
  y.backward(seed);

  const proj = (arrays: Float64Array[]): number => {
    const v = o.ref(arrays);
    let s = 0;
    for (let i = 0; i < v.length; ++i) if (r[i] !== 0) s += r[i] * v[i];
    return s;
  };
  o.inputs.forEach((inp, k) => {
    if (inp.grad === false) return;
    const t = ts[k];
    if (!t.grad) throw new Error(`${name}: input ${k} (shape [${inp.shape}]) got no gradient`);
    if (t.grad.shape.join() !== inp.shape.join()) throw new Error(`${name}: gradient of input ${k} has shape [${t.grad.shape}], want [${inp.shape}]`);
    const got = Float64Array.from(t.grad.toArraySync() as Float32Array);
    const n = xs[k].length;
    const limit = o.maxFdElements ?? 256;
    let which: number[];
    if (n <= limit) which = Array.from({ length: n }, (_, i) => i);
    else {
      const pick = new Set<number>([0, n - 1]);
      while (pick.size < limit) pick.add(rng.int(n));
      which = [...pick].sort((p, q) => p - q);
    }
    const fd = new Float64Array(which.length);
    const arrays = xs.map((x) => x.slice());
    for (let j = 0; j < which.length; ++j) {
      const i = which[j];
      const x0 = arrays[k][i];
      const step = h * Math.max(1, Math.abs(x0));
      arrays[k][i] = x0 + step;
      const fp = proj(arrays);
      arrays[k][i] = x0 - step;
      const fm = proj(arrays);
      arrays[k][i] = x0;
      fd[j] = (fp - fm) / (2 * step);
    }
    const sampled = which.length === n ? got : Float64Array.from(which, (i) => got[i]);
    expectAllClose(sampled, fd, { atol: 1e-5, rtol: 1e-4, ...o.gradTol }, `${name}: gradient of input ${k} (shape [${inp.shape}])`, inp.shape, which.length === n ? undefined : which);
    grads[k] = got;
  });
  return { out, want, grads, r };
}

/** A seeded input of `shape` for gradcheck. */
export function input(rng: Rng, shape: readonly number[], o: RandOptions & { grad?: boolean } = {}): GradcheckInput {
  return { data: rand(rng, numel(shape), o), shape, grad: o.grad };
}
