/**
 * CUDA against its CPU twin: every op on fresh random inputs (never zeros), created once on
 * 'cpu' and once on 'cuda', outputs and gradients compared. The allocator's cached device
 * blocks are poisoned with NaN before each CUDA run, so elements a kernel forgets to write
 * show. Sizes are chosen to reach the fast paths (float4 tails, bias rows, warp- and
 * block-per-row softmax, tiled transposes, multi-block reductions).
 *
 * Skipped, saying why, where no CUDA device can be used. GATEWISE_PARITY_DEVICE=cpu runs the
 * same comparisons CPU against CPU, to check this file itself on a machine without a GPU.
 */
import { describe, expect, it } from 'vitest';
import {
  backend,
  bceWithLogits,
  bernoulliMask,
  concat,
  countNonFinite,
  dropout,
  GatewiseError,
  hasCuda,
  indexSelect,
  linear,
  matmul,
  mse,
  permute,
  philoxUniform,
  Rng,
  slice,
  softmax,
  sum,
  mean,
  max,
  min,
  tensor,
  Tensor,
  activation,
  add,
  sub,
  mul,
  div,
  maximum,
  minimum,
  pow,
  neg,
  exp,
  log,
  sqrt,
  rsqrt,
  abs,
  square,
  reciprocal,
  sin,
  cos,
  affine,
  powScalar,
  clamp,
  transpose,
} from '../lib';
import type { Activation, AnyTypedArray, DType, Device } from '../lib';
import { distinct, expectAllClose, numel, poison, rand, RandOptions, Tolerance } from './gradcheck';
import { logMaxError } from './parity-log';

const DEV: Device = process.env.GATEWISE_PARITY_DEVICE === 'cpu' ? 'cpu' : 'cuda';
const enabled = DEV === 'cpu' || hasCuda();
if (!enabled) console.log('CUDA parity tests skipped: ' + backend().cudaUnavailableReason);

const rng = new Rng(91);

interface ParityInput {
  /** Values: float data, or a typed array of another dtype. */
  data: ArrayLike<number> | AnyTypedArray;
  shape: readonly number[];
  dtype?: DType;
  /** Float inputs get requiresGrad unless false. */
  grad?: boolean;
}

interface ParityCase {
  name: string;
  inputs: ParityInput[];
  op: (ts: Tensor[]) => Tensor;
  /** Output tolerance (default atol 1e-6, rtol 1e-5). exact: bit-identical. */
  tol?: Partial<Tolerance> | 'exact';
  /** Gradient tolerance (default: the output's). */
  gradTol?: Partial<Tolerance> | 'exact';
}

const f = (inp: ParityInput, grad = true): ParityInput => ({ ...inp, grad });
const F = (shape: readonly number[], o?: RandOptions): ParityInput => ({ data: rand(rng, numel(shape), o), shape });

function toNumbers(t: Tensor): Float64Array {
  return Float64Array.from(Array.from(t.toArraySync() as ArrayLike<number | bigint>, Number));
}

function compare(got: Float64Array, want: Float64Array, tol: Partial<Tolerance> | 'exact', what: string, shape: readonly number[]): void {
  if (tol === 'exact') {
    // bit-identical values (±0 and any NaN count as equal)
    const i = want.findIndex((w, k) => w !== got[k] && !(Number.isNaN(w) && Number.isNaN(got[k])));
    logMaxError(what, got, want, 'exact');
    if (i >= 0) throw new Error(`${what}: element ${i} differs: ${DEV} ${got[i]}, cpu ${want[i]}`);
    return;
  }
  expectAllClose(got, want, { atol: 1e-6, rtol: 1e-5, ...tol }, what, shape);
}

/** Runs c on 'cpu' and on DEV; compares outputs and, when gradients flow, every input's gradient. */
function parity(c: ParityCase): void {
  const run = (device: Device) => {
    const ts = c.inputs.map((inp) => {
      const isFloat = (inp.dtype ?? 'float32') === 'float32';
      const data = isFloat && !(inp.data instanceof Float32Array) ? Float32Array.from(inp.data as ArrayLike<number>) : inp.data;
      return tensor(data as AnyTypedArray, { shape: inp.shape, dtype: inp.dtype, device, requiresGrad: isFloat && inp.grad !== false });
    });
    if (device !== 'cpu') poison([...c.inputs.map((i) => numel(i.shape)), ...c.inputs.map((i) => 2 * numel(i.shape))], device);
    return { ts, y: c.op(ts) };
  };
  const cpu = run('cpu');
  const dev = run(DEV);
  expect(dev.y.device, c.name).toBe(DEV);
  expect(dev.y.shape, c.name).toEqual(cpu.y.shape);
  expect(dev.y.dtype, c.name).toBe(cpu.y.dtype);
  compare(toNumbers(dev.y), toNumbers(cpu.y), c.tol ?? {}, `${c.name}: output`, cpu.y.shape);
  if (!cpu.y.requiresGrad) return;
  const r = Float32Array.from({ length: cpu.y.size }, () => rng.uniform() * 2 - 1);
  cpu.y.backward(tensor(r, { shape: cpu.y.shape, device: 'cpu' }));
  const seed = tensor(r, { shape: cpu.y.shape, device: DEV });
  if (DEV !== 'cpu') poison(c.inputs.map((i) => numel(i.shape)), DEV);
  dev.y.backward(seed);
  cpu.ts.forEach((t, k) => {
    if (!t.requiresGrad) return;
    const gc = t.grad;
    const gd = dev.ts[k].grad;
    expect(gd === null, `${c.name}: input ${k} gradient present on ${DEV}`).toBe(gc === null);
    if (!gc || !gd) return;
    expect(gd.device).toBe(DEV);
    compare(toNumbers(gd), toNumbers(gc), c.gradTol ?? c.tol ?? {}, `${c.name}: gradient of input ${k}`, t.shape);
  });
}

/** a − b never within 0.01 of 0, for maximum/minimum. */
const tieFree = (shape: readonly number[], off: number): ParityInput => ({
  data: Float64Array.from({ length: numel(shape) }, () => (rng.int(201) - 100) * 0.02 + off),
  shape,
});

describe.skipIf(!enabled)(`${DEV} against the CPU twin`, () => {
  describe('element-wise', () => {
    const pairs: [number[], number[]][] = [
      [[100003], [100003]],
      [[257, 129], [257, 129]],
      [[257, 129], [129]],
      [[129], [257, 129]],
      [[257, 129], [257, 1]],
      [[64, 33], []],
      [[], [64, 33]],
      [[7, 1, 33], [5, 1]],
      [[3, 4, 5, 6], [4, 1, 6]],
    ];
    const BIN = { add, sub, mul, div, maximum, minimum, pow };
    for (const [name, fn] of Object.entries(BIN)) {
      it(`${name} with broadcasting`, () => {
        for (const [sa, sb] of pairs) {
          const a =
            name === 'maximum' || name === 'minimum' ? tieFree(sa, 0.005) : name === 'pow' ? F(sa, { lo: 0.3, hi: 2 }) : F(sa, { lo: -2, hi: 2 });
          const b =
            name === 'maximum' || name === 'minimum' ? tieFree(sb, 0.015) : name === 'div' ? F(sb, { lo: -2, hi: 2, minAbs: 0.5 }) : F(sb, { lo: -2, hi: 2 });
          parity({ name: `${name} [${sa}] [${sb}]`, inputs: [a, b], op: ([x, y]) => fn(x, y), tol: { atol: 1e-5, rtol: 1e-5 } });
        }
      });
    }

    it('unary ops and their parameter forms', () => {
      const pos = { lo: 0.2, hi: 3 };
      const cases: [string, (x: Tensor) => Tensor, RandOptions?][] = [
        ['neg', neg],
        ['exp', exp, { lo: -3, hi: 3 }],
        ['log', log, pos],
        ['sqrt', sqrt, pos],
        ['rsqrt', rsqrt, pos],
        ['abs', abs],
        ['square', square],
        ['reciprocal', reciprocal, { minAbs: 0.3 }],
        ['sin', sin, { lo: -4, hi: 4 }],
        ['cos', cos, { lo: -4, hi: 4 }],
        ['affine', (x) => affine(x, -1.5, 0.25)],
        ['powScalar 3', (x) => powScalar(x, 3)],
        ['powScalar -1.5', (x) => powScalar(x, -1.5), pos],
        ['clamp', (x) => clamp(x, -0.4, 0.6)],
        ['clamp lo only', (x) => clamp(x, -0.4, null)],
      ];
      for (const [name, op, o] of cases) {
        for (const s of [[1001], [1000, 37]]) parity({ name: `${name} [${s}]`, inputs: [F(s, o)], op: ([x]) => op(x) });
      }
    });

    it('countNonFinite over a million elements', () => {
      const n = 1_000_003;
      const a = new Float32Array(n);
      let want = 0;
      for (let i = 0; i < n; ++i) {
        const u = rng.uniform();
        a[i] = u < 1e-4 ? NaN : u < 2e-4 ? -Infinity : u;
        if (!Number.isFinite(a[i])) ++want;
      }
      expect(countNonFinite(tensor(a, { device: DEV }))).toBe(want);
      expect(countNonFinite(tensor(a, { device: 'cpu' }))).toBe(want);
    });
  });

  describe('activations', () => {
    const ACTS: Activation[] = ['relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu'];
    for (const act of ACTS) {
      it(act, () => {
        for (const s of [[513, 65], [7]]) {
          parity({ name: `${act} [${s}]`, inputs: [F(s, { lo: -5, hi: 5 })], op: ([x]) => activation(x, act, 0.05) });
        }
      });
    }
  });

  describe('reductions', () => {
    it('sum, mean, max, min over each axis', () => {
      for (const s of [[37, 129, 5], [64, 1000], [3, 100003]]) {
        for (let axis = 0; axis < s.length; ++axis) {
          for (const keep of [false, true]) {
            parity({ name: `sum axis ${axis} [${s}]`, inputs: [F(s)], op: ([x]) => sum(x, axis, keep), tol: { atol: 1e-5, rtol: 1e-5 } });
            parity({ name: `mean axis ${axis} [${s}]`, inputs: [F(s)], op: ([x]) => mean(x, axis, keep), tol: { atol: 1e-6, rtol: 1e-5 } });
          }
          const d = { data: distinct(rng, numel(s), 1e-4), shape: s };
          parity({ name: `max axis ${axis} [${s}]`, inputs: [d], op: ([x]) => max(x, axis), tol: 'exact' });
          parity({ name: `min axis ${axis} [${s}]`, inputs: [d], op: ([x]) => min(x, axis, true), tol: 'exact' });
        }
      }
    });

    it('sum and mean over everything, up to a million elements', () => {
      for (const n of [1, 33, 4097, 1_000_003]) {
        parity({ name: `sum [${n}]`, inputs: [F([n])], op: ([x]) => sum(x), tol: { atol: 1e-5, rtol: 1e-6 } });
        parity({ name: `mean [${n}]`, inputs: [F([n])], op: ([x]) => mean(x), tol: { atol: 1e-7, rtol: 1e-6 } });
      }
    });
  });

  describe('matmul and linear', () => {
    const tol = { atol: 1e-4, rtol: 1e-5 };
    const stored = (r: number, c: number, t: boolean) => (t ? [c, r] : [r, c]);
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as [boolean, boolean][]) {
      it(`matmul transA ${ta} transB ${tb}: 2-D, batched, shared operands`, () => {
        for (const [batch, m, k, n] of [[0, 257, 129, 65], [0, 1, 300, 1], [0, 128, 64, 128], [4, 65, 33, 17]]) {
          for (const [ra, rb] of batch ? [[3, 3], [3, 2], [2, 3]] : [[2, 2]]) {
            const as = [...(ra === 3 ? [batch] : []), ...stored(m, k, ta)];
            const bs = [...(rb === 3 ? [batch] : []), ...stored(k, n, tb)];
            parity({ name: `matmul [${as}] [${bs}] ta ${ta} tb ${tb}`, inputs: [F(as), F(bs)], op: ([a, b]) => matmul(a, b, { transA: ta, transB: tb }), tol });
          }
        }
      });
    }

    it('linear with bias and every activation, x of rank 2 and 3', () => {
      for (const act of ['identity', 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu'] as Activation[]) {
        for (const xs of [[129, 65], [8, 33, 65]]) {
          parity({ name: `linear ${act} [${xs}]`, inputs: [F(xs), F([70, 65]), F([70])], op: ([x, w, b]) => linear(x, w, b, act), tol });
          parity({ name: `linear ${act} [${xs}] no bias`, inputs: [F(xs), F([70, 65])], op: ([x, w]) => linear(x, w, null, act), tol });
        }
      }
    });
  });

  describe('layout', () => {
    it('permute and transpose (tiled, general, int dtypes)', () => {
      for (const [s, p] of [
        [[513, 257], [1, 0]],
        [[5, 129, 65], [0, 2, 1]],
        [[33, 65, 17], [2, 0, 1]],
        [[33, 65, 17], [1, 2, 0]],
        [[2, 3, 4, 5, 6], [4, 1, 3, 0, 2]],
        [[1, 70, 1, 3], [3, 2, 1, 0]],
      ] as [number[], number[]][]) {
        parity({ name: `permute [${s}] [${p}]`, inputs: [F(s)], op: ([x]) => permute(x, p), tol: 'exact' });
      }
      parity({ name: 'transpose(0, 2)', inputs: [F([17, 9, 33])], op: ([x]) => transpose(x, 0, 2), tol: 'exact' });
      const n = 24 * 35;
      parity({ name: 'permute int64', inputs: [{ data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 3n ** 30n), shape: [24, 35], dtype: 'int64' }], op: ([x]) => permute(x, [1, 0]), tol: 'exact' });
      parity({ name: 'permute uint8', inputs: [{ data: Uint8Array.from({ length: n }, (_, i) => i % 251), shape: [4, 6, 35], dtype: 'uint8' }], op: ([x]) => permute(x, [2, 0, 1]), tol: 'exact' });
    });

    it('concat and slice along each axis', () => {
      const shapes = [[6, 7, 5], [6, 3, 5], [6, 11, 5]];
      parity({ name: 'concat axis 1', inputs: shapes.map((s) => F(s)), op: (ts) => concat(ts, 1), tol: 'exact' });
      parity({ name: 'concat axis 0', inputs: [F([3, 65]), F([129, 65])], op: (ts) => concat(ts, 0), tol: 'exact' });
      parity({ name: 'concat axis 2', inputs: [F([4, 5, 1]), F([4, 5, 33]), F([4, 5, 2])], op: (ts) => concat(ts, 2), tol: 'exact' });
      for (let axis = 0; axis < 3; ++axis) {
        parity({ name: `slice axis ${axis}`, inputs: [F([9, 17, 33])], op: ([x]) => slice(x, axis, 2, 5), tol: 'exact' });
      }
      parity({ name: 'slice int32', inputs: [{ data: Int32Array.from({ length: 120 }, (_, i) => i * 7919), shape: [4, 30], dtype: 'int32' }], op: ([x]) => slice(x, 1, 3, 20), tol: 'exact' });
    });

    it('indexSelect with int32 and int64 ids, repeated ids accumulating', () => {
      for (const dtype of ['int32', 'int64'] as const) {
        const ids = Array.from({ length: 5000 }, () => rng.int(1000));
        const data = dtype === 'int32' ? Int32Array.from(ids) : BigInt64Array.from(ids.map(BigInt));
        // CUDA accumulates repeated rows with float atomics: not bit-reproducible, so a tolerance
        parity({
          name: `indexSelect ${dtype}`,
          inputs: [F([1000, 64]), { data, shape: [50, 100], dtype }],
          op: ([t, i]) => indexSelect(t, i),
          tol: 'exact',
          gradTol: { atol: 1e-5, rtol: 1e-5 },
        });
      }
    });

    it('out-of-range ids throw ERR_GATEWISE_ARGUMENT on the device too, and the device stays usable', () => {
      const table = tensor(rand(rng, 64), { shape: [16, 4], device: DEV });
      for (const idx of [Int32Array.of(0, 16, 3), Int32Array.of(-1), BigInt64Array.of(5n, 2n ** 40n)]) {
        let err: unknown;
        try {
          indexSelect(table, tensor(idx, { device: DEV })).toArraySync() as Float32Array;
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(GatewiseError);
        expect((err as GatewiseError).code).toBe('ERR_GATEWISE_ARGUMENT');
      }
      expect(Array.from(indexSelect(table, tensor(Int32Array.of(15), { device: DEV })).toArraySync() as Float32Array)).toEqual(Array.from(table.toArraySync() as Float32Array).slice(60));
    });
  });

  describe('softmax', () => {
    it('softmax and logSoftmax, warp- and block-per-row, with scale and masks', () => {
      for (const log of [false, true]) {
        for (const s of [[513, 33], [37, 1025], [4, 4096], [3, 5, 7]]) {
          const cols = s[s.length - 1];
          const full = Uint8Array.from({ length: numel(s) }, () => (rng.uniform() < 0.7 ? 1 : 0));
          full.fill(0, 0, cols); // a fully masked row
          const colMask = Uint8Array.from({ length: cols }, () => (rng.uniform() < 0.6 ? 1 : 0));
          colMask[0] = 1;
          const x = F(s, { lo: -4, hi: 4 });
          parity({ name: `softmax log ${log} [${s}]`, inputs: [x], op: ([t]) => softmax(t, { log, scale: 0.7 }) });
          parity({ name: `softmax log ${log} [${s}] mask`, inputs: [x, { data: full, shape: s, dtype: 'uint8' }], op: ([t, m]) => softmax(t, { log, mask: m }) });
          parity({ name: `softmax log ${log} [${s}] cols mask`, inputs: [x, { data: colMask, shape: [cols], dtype: 'uint8' }], op: ([t, m]) => softmax(t, { log, mask: m, scale: 2 }) });
        }
      }
    });
  });

  describe('dropout and Philox', () => {
    it('philoxUniform and bernoulliMask give identical bits on both devices', () => {
      for (const [n, seed, offset] of [[1, 0, 0], [1001, 7, 3], [1_000_003, 2n ** 40n + 5n, 12345]] as [number, number | bigint, number][]) {
        const a = philoxUniform([n], seed, { offset, device: 'cpu' }).toArraySync() as Float32Array;
        const b = philoxUniform([n], seed, { offset, device: DEV }).toArraySync() as Float32Array;
        compare(Float64Array.from(b), Float64Array.from(a), 'exact', `philoxUniform n ${n}`, [n]);
        const ma = bernoulliMask([n], 0.3, seed, { offset, device: 'cpu' }).toArraySync() as Uint8Array;
        const mb = bernoulliMask([n], 0.3, seed, { offset, device: DEV }).toArraySync() as Uint8Array;
        compare(Float64Array.from(mb), Float64Array.from(ma), 'exact', `bernoulliMask n ${n}`, [n]);
      }
    });

    it('dropout: the same seed gives the same mask and gradient on both devices', () => {
      for (const [s, p] of [[[100003], 0.5], [[257, 129], 0.1], [[7], 0.9]] as [number[], number][]) {
        parity({ name: `dropout p ${p} [${s}]`, inputs: [F(s)], op: ([x]) => dropout(x, p, { seed: 42, offset: 8 }), tol: 'exact' });
      }
    });
  });

  describe('losses', () => {
    it('bceWithLogits (weights, posWeight, reductions, extreme logits) and mse', () => {
      for (const n of [7, 100003]) {
        const z = F([n], { lo: -8, hi: 8 });
        (z.data as Float64Array)[0] = 50;
        (z.data as Float64Array)[n - 1] = -50;
        const y = { data: Float64Array.from({ length: n }, () => (rng.uniform() < 0.4 ? 1 : 0)), shape: [n], grad: false };
        const w = { data: Float64Array.from({ length: n }, () => (rng.uniform() < 0.8 ? 1 : 0)), shape: [n], grad: false };
        for (const reduction of ['mean', 'sum', 'none'] as const) {
          for (const posWeight of [1, 2.5]) {
            parity({ name: `bce ${reduction} pw ${posWeight} n ${n}`, inputs: [z, y], op: ([a, b]) => bceWithLogits(a, b, { reduction, posWeight }), tol: { atol: 1e-5, rtol: 1e-5 } });
            parity({ name: `bce ${reduction} pw ${posWeight} n ${n} weighted`, inputs: [z, y, w], op: ([a, b, c]) => bceWithLogits(a, b, { reduction, posWeight, weight: c }), tol: { atol: 1e-5, rtol: 1e-5 } });
          }
          parity({ name: `mse ${reduction} n ${n}`, inputs: [z, f(F([n]), false)], op: ([a, b]) => mse(a, b, { reduction }), tol: { atol: 1e-5, rtol: 1e-5 } });
          parity({ name: `mse ${reduction} n ${n} weighted`, inputs: [z, f(F([n]), false), w], op: ([a, b, c]) => mse(a, b, { reduction, weight: c }), tol: { atol: 1e-5, rtol: 1e-5 } });
        }
      }
    });
  });

  describe('devices', () => {
    it('gradients flow back across .to() copies', () => {
      const x = tensor(rand(rng, 12), { shape: [3, 4], requiresGrad: true });
      const y = x.to(DEV).mul(3).sum(1).to('cpu');
      expect(y.device).toBe('cpu');
      y.backward(tensor([1, 2, 3]));
      expect(x.grad!.device).toBe('cpu');
      expect(x.grad!.toNested()).toEqual([[3, 3, 3, 3], [6, 6, 6, 6], [9, 9, 9, 9]]);
    });

    it('toArray() resolves with the values of every op issued before it', async () => {
      const a = tensor(rand(rng, 512 * 512), { shape: [512, 512], device: DEV });
      const c = matmul(a, a);
      const pending = c.toArray();
      c.copyFrom(tensor(new Float32Array(512 * 512), { shape: [512, 512], device: DEV })); // queued after the read
      const got = (await pending) as Float32Array;
      const want = matmul(a.to('cpu'), a.to('cpu')).toArraySync() as Float32Array;
      expectAllClose(got, want, { atol: 1e-3, rtol: 1e-4 }, 'toArray');
      expect(Array.from((await c.toArray()) as Float32Array).every((v) => v === 0)).toBe(true);
    });
  });
});
