/**
 * gradcheck for modules: every parameter of the module becomes a gradcheck input (so its
 * gradient is checked against float64 finite differences too), beside the data inputs.
 * The reference gets the data arrays and the parameters by dotted name.
 */
import { Module, Rng, Tensor } from '../lib';
import type { Activation } from '../lib';
import { actRef, gradcheck, GradcheckOptions, rand } from './gradcheck';

/** Replaces the parameter at a dotted path (`towers.0.fc1.weight`) with t. */
export function setParameter(m: Module, path: string, t: Tensor): void {
  const parts = path.split('.');
  let obj: Record<string, unknown> = m as unknown as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) obj = obj[p] as Record<string, unknown>;
  obj[parts[parts.length - 1]] = t;
}

export interface ModuleCheck {
  name: string;
  module: Module;
  /** Data inputs (values and shapes); `grad: false` for those not differentiated. */
  inputs: { data: ArrayLike<number>; shape: readonly number[]; grad?: boolean }[];
  /** Runs the module on the data tensors. */
  forward: (m: Module, data: Tensor[]) => Tensor;
  /** float64 forward: the data arrays and each parameter by dotted name. */
  ref: (data: Float64Array[], p: Record<string, Float64Array>, shapes: Record<string, readonly number[]>) => Float64Array;
  fwdTol?: GradcheckOptions['fwdTol'];
  gradTol?: GradcheckOptions['gradTol'];
  /** Parameter values are redrawn uniform in ±scale (default 0.5) so biases are not all 0. */
  paramScale?: number;
  seed?: number;
}

/** Runs gradcheck over data inputs and every parameter of the module. */
export function moduleGradcheck(c: ModuleCheck): void {
  const params = c.module.namedParameters();
  const rng = new Rng(c.seed ?? 77);
  const scale = c.paramScale ?? 0.5;
  const nData = c.inputs.length;
  gradcheck({
    name: c.name,
    inputs: [...c.inputs, ...params.map(([, t]) => ({ data: rand(rng, t.size, { lo: -scale, hi: scale, minAbs: 0.01 }), shape: t.shape }))],
    op: (ts) => {
      params.forEach(([name], k) => setParameter(c.module, name, ts[nData + k]));
      return c.forward(c.module, ts.slice(0, nData));
    },
    ref: (arrays) => {
      const p: Record<string, Float64Array> = {};
      const shapes: Record<string, readonly number[]> = {};
      params.forEach(([name, t], k) => {
        p[name] = arrays[nData + k];
        shapes[name] = t.shape;
      });
      return c.ref(arrays.slice(0, nData), p, shapes);
    },
    fwdTol: c.fwdTol ?? { atol: 1e-5, rtol: 1e-4 },
    gradTol: c.gradTol ?? { atol: 2e-4, rtol: 2e-3 },
  });
}

// ---- float64 references

export const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
export const relu = (v: number) => Math.max(v, 0);

/** act(x·Wᵀ + b): x (rows, in), W (out, in), b (out) or undefined → (rows, out). */
export function linearRef(x: Float64Array, rows: number, w: Float64Array, out: number, b?: Float64Array, act: (v: number) => number = (v) => v): Float64Array {
  const inF = x.length / rows;
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; ++r) {
    for (let o = 0; o < out; ++o) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; ++i) s += x[r * inF + i] * w[o * inF + i];
      y[r * out + o] = act(s);
    }
  }
  return y;
}

/** Column concat of row-major (rows, *) matrices. */
export function concatRef(rows: number, ...parts: Float64Array[]): Float64Array {
  const widths = parts.map((p) => p.length / rows);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float64Array(rows * total);
  for (let r = 0; r < rows; ++r) {
    let c = 0;
    parts.forEach((p, k) => {
      for (let j = 0; j < widths[k]; ++j) out[r * total + c + j] = p[r * widths[k] + j];
      c += widths[k];
    });
  }
  return out;
}

/** GateNU: γ·σ(W2·relu(W1·x + b1) + b2) with parameters under `prefix` (e.g. 'gate.'). */
export function gateNURef(x: Float64Array, rows: number, p: Record<string, Float64Array>, prefix: string, hidden: number, out: number, gamma: number): Float64Array {
  const h = linearRef(x, rows, p[`${prefix}fc1.weight`], hidden, p[`${prefix}fc1.bias`], relu);
  return linearRef(h, rows, p[`${prefix}fc2.weight`], out, p[`${prefix}fc2.bias`], (v) => gamma * sigmoid(v));
}

/**
 * MetaUnit: each sample's generator row G(z_b) split into layers [W_l (in×out) / √in, b_l],
 * applied to that sample's `rows` input rows (x is (B·rows, in)); the generator's parameters
 * under `prefix` (e.g. 'attention.').
 */
export function metaRef(x: Float64Array, z: Float64Array, p: Record<string, Float64Array>, B: number, shapes: [number, number][], bias: boolean, acts: Activation[], prefix = '', rows = 1): Float64Array {
  const total = shapes.reduce((s, [i, o]) => s + i * o + (bias ? o : 0), 0);
  const g = linearRef(z, B, p[`${prefix}generator.layers.0.weight`], total, p[`${prefix}generator.layers.0.bias`]);
  let h = x;
  let width = shapes[0][0];
  let at = 0;
  shapes.forEach(([inF, outF], l) => {
    const next = new Float64Array(B * rows * outF);
    for (let r = 0; r < B * rows; ++r) {
      const row = g.subarray(Math.floor(r / rows) * total, (Math.floor(r / rows) + 1) * total);
      for (let j = 0; j < outF; ++j) {
        let acc = bias ? row[at + inF * outF + j] : 0;
        for (let i = 0; i < inF; ++i) acc += (h[r * width + i] * row[at + i * outF + j]) / Math.sqrt(inF);
        next[r * outF + j] = actRef[acts[l]](acc);
      }
    }
    at += inF * outF + (bias ? outF : 0);
    h = next;
    width = outF;
  });
  return h;
}
