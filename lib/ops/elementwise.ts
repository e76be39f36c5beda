/**
 * Element-wise arithmetic with NumPy broadcasting, unary math, and their gradients.
 * Native: native/ops/binary, native/ops/unary.
 */
import { record } from '../autograd';
import { native } from '../native';
import { empty, full, Tensor } from '../tensor';
import { checkNumber, invalid } from '../validate';
import { broadcastShapes, f32, sameDevice } from './common';

/** A binary element-wise op as the native kernels name it (operands broadcast NumPy-style). */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'pow';
/** A unary element-wise op as the native kernels name it. */
export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'square' | 'reciprocal' | 'sin' | 'cos';

function binary(op: BinaryOp, a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number' && a instanceof Tensor) {
    checkNumber(b, 'b');
    if (op === 'add') return affine(a, 1, b);
    if (op === 'sub') return affine(a, 1, -b);
    if (op === 'mul') return affine(a, b, 0);
    if (op === 'div') return affine(a, 1 / b, 0);
    if (op === 'pow') return powScalar(a, b);
  }
  if (typeof a === 'number' && b instanceof Tensor) {
    checkNumber(a, 'a');
    if (op === 'add') return affine(b, 1, a);
    if (op === 'sub') return affine(b, -1, a);
    if (op === 'mul') return affine(b, a, 0);
  }
  const ta = typeof a === 'number' ? full([], checkNumber(a, 'a'), { device: (b as Tensor).device }) : f32(a, 'a');
  const tb = typeof b === 'number' ? full([], checkNumber(b, 'b'), { device: ta.device }) : f32(b, 'b');
  sameDevice([[ta, 'a'], [tb, 'b']]);
  const out = empty(broadcastShapes(ta.shape, tb.shape), { device: ta.device });
  native.binary(op, ta._h, tb._h, out._h);
  return record(out, op, [ta, tb], (g) => {
    const ga = ta.requiresGrad ? empty(ta.shape, { device: ta.device }) : null;
    const gb = tb.requiresGrad ? empty(tb.shape, { device: tb.device }) : null;
    native.binaryBackward(op, g._h, ta._h, tb._h, ga?._h ?? null, gb?._h ?? null, op === 'pow' ? out._h : undefined);
    return [ga, gb];
  });
}

/** a + b (broadcasting; either may be a number). */
export const add = (a: Tensor | number, b: Tensor | number): Tensor => binary('add', a, b);
/** a − b. */
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => binary('sub', a, b);
/** a ⊙ b. */
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => binary('mul', a, b);
/** a / b. */
export const div = (a: Tensor | number, b: Tensor | number): Tensor => binary('div', a, b);
/** Element-wise max (ties send the gradient to a). */
export const maximum = (a: Tensor | number, b: Tensor | number): Tensor => binary('maximum', a, b);
/** Element-wise min (ties send the gradient to a). */
export const minimum = (a: Tensor | number, b: Tensor | number): Tensor => binary('minimum', a, b);
/** a ^ b. */
export const pow = (a: Tensor | number, b: Tensor | number): Tensor => binary('pow', a, b);

function unaryOp(op: string, x: Tensor, p0?: number | null, p1?: number | null): Tensor {
  f32(x, 'x');
  const out = empty(x.shape, { device: x.device });
  native.unary(op, x._h, out._h, p0, p1);
  return record(out, op, [x], (g) => {
    const gx = empty(x.shape, { device: x.device });
    native.unaryBackward(op, g._h, x._h, out._h, gx._h, p0, p1);
    return [gx];
  });
}

/** −x, element-wise. */
export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
/** eˣ, element-wise. */
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
/** Natural logarithm, element-wise (−∞ at 0, NaN below). */
export const log = (x: Tensor): Tensor => unaryOp('log', x);
/** √x, element-wise (NaN below 0). */
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
/** 1/√x, element-wise. */
export const rsqrt = (x: Tensor): Tensor => unaryOp('rsqrt', x);
/** |x|, element-wise (gradient 0 at 0). */
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
/** x², element-wise. */
export const square = (x: Tensor): Tensor => unaryOp('square', x);
/** 1/x, element-wise. */
export const reciprocal = (x: Tensor): Tensor => unaryOp('reciprocal', x);
/** sin(x), element-wise (radians). */
export const sin = (x: Tensor): Tensor => unaryOp('sin', x);
/** cos(x), element-wise (radians). */
export const cos = (x: Tensor): Tensor => unaryOp('cos', x);

/** x·alpha + beta in one pass. */
export function affine(x: Tensor, alpha: number, beta: number): Tensor {
  return unaryOp('affine', x, checkNumber(alpha, 'alpha'), checkNumber(beta, 'beta'));
}
/** x ^ p for a number p. */
export function powScalar(x: Tensor, p: number): Tensor {
  return unaryOp('pow_scalar', x, checkNumber(p, 'p'));
}
/** Limits x to [lo, hi]; null leaves a side open. NaN stays NaN. */
export function clamp(x: Tensor, lo: number | null, hi: number | null): Tensor {
  if (lo !== null) checkNumber(lo, 'lo');
  if (hi !== null) checkNumber(hi, 'hi');
  if (lo !== null && hi !== null && lo > hi) throw invalid(`a bound no greater than hi (${hi})`, 'lo', lo);
  return unaryOp('clamp', x, lo, hi);
}

/** Number of NaN or infinite elements (reads one number back from the device). */
export function countNonFinite(x: Tensor): number {
  return native.countNonFinite(f32(x, 'x')._h);
}

/** target += src, in place and outside the graph (gradient accumulation). */
export function addInPlace(target: Tensor, src: Tensor): Tensor {
  f32(target, 'target');
  f32(src, 'src');
  sameDevice([[target, 'target'], [src, 'src']]);
  native.binary('add', target._h, src._h, target._h);
  return target;
}

declare module '../tensor' {
  interface Tensor {
    /** this + other (broadcast), see {@link add}. */
    add(other: Tensor | number): Tensor;
    /** this − other (broadcast), see {@link sub}. */
    sub(other: Tensor | number): Tensor;
    /** this · other, element-wise (broadcast), see {@link mul}. */
    mul(other: Tensor | number): Tensor;
    /** this / other, element-wise (broadcast), see {@link div}. */
    div(other: Tensor | number): Tensor;
    /** this raised to `other`, element-wise (broadcast), see {@link pow}. */
    pow(other: Tensor | number): Tensor;
    /** −this, see {@link neg}. */
    neg(): Tensor;
    /** eᵗʰⁱˢ, see {@link exp}. */
    exp(): Tensor;
    /** Natural logarithm, see {@link log}. */
    log(): Tensor;
    /** Square root, see {@link sqrt}. */
    sqrt(): Tensor;
    /** Absolute value, see {@link abs}. */
    abs(): Tensor;
    /** Element-wise square, see {@link square}. */
    square(): Tensor;
    /** Limits the values to [lo, hi] (null leaves a side open), see {@link clamp}. */
    clamp(lo: number | null, hi: number | null): Tensor;
    /** this += other (no gradient recorded). */
    addInPlace(other: Tensor): this;
  }
}

Tensor.prototype.add = function (o) {
  return add(this, o);
};
Tensor.prototype.sub = function (o) {
  return sub(this, o);
};
Tensor.prototype.mul = function (o) {
  return mul(this, o);
};
Tensor.prototype.div = function (o) {
  return div(this, o);
};
Tensor.prototype.pow = function (o) {
  return pow(this, o);
};
Tensor.prototype.neg = function () {
  return neg(this);
};
Tensor.prototype.exp = function () {
  return exp(this);
};
Tensor.prototype.log = function () {
  return log(this);
};
Tensor.prototype.sqrt = function () {
  return sqrt(this);
};
Tensor.prototype.abs = function () {
  return abs(this);
};
Tensor.prototype.square = function () {
  return square(this);
};
Tensor.prototype.clamp = function (lo, hi) {
  return clamp(this, lo, hi);
};
Tensor.prototype.addInPlace = function (o) {
  addInPlace(this, o);
  return this;
};
