/**
 * gatedLinear (native/ops/gated_fc): forward and gradients against a float64 reference with
 * finite differences (gradcheck) for x, gate, weight and bias, both placements, every
 * activation, scale ≠ 1, leading dims and the skinny GEMM paths; errors that name the bad
 * argument; and the CUDA kernels against the CPU twin (skipped, saying why, without a GPU;
 * GATEWISE_PARITY_DEVICE=cpu runs the parity cases CPU against CPU).
 */
import { describe, expect, it } from 'vitest';
import { backend, gatedLinear, hasCuda, noGrad, Rng, tensor, Tensor } from '../lib';
import type { Activation, Device, GatePlacement } from '../lib';
import { actRef, expectAllClose, gradcheck, GradcheckInput, numel, poison, rand } from './gradcheck';

const rng = new Rng(97);
/** Float32 dot products of length K: allow K·ε-sized absolute error. */
const TOL = { fwdTol: { atol: 1e-5, rtol: 1e-5 }, gradTol: { atol: 2e-5, rtol: 1e-4 } };

const ACTS: Activation[] = ['identity', 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu'];
const PLACEMENTS: GatePlacement[] = ['lazy', 'eager'];
interface Layer {
  inF: number;
  outF: number;
  act: Activation;
  scale: number;
  placement: GatePlacement;
}

/** The pre-activation z over the rows of x (..., in), in float64. */
function preRef(x: Float64Array, g: Float64Array, w: Float64Array, b: Float64Array | null, l: Layer): Float64Array {
  const rows = x.length / l.inF;
  const z = new Float64Array(rows * l.outF);
  for (let r = 0; r < rows; ++r)
    for (let o = 0; o < l.outF; ++o) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < l.inF; ++i) {
        const xi = x[r * l.inF + i] * (l.placement === 'eager' ? l.scale * g[r * l.inF + i] : 1);
        s += xi * w[o * l.inF + i];
      }
      z[r * l.outF + o] = s;
    }
  return z;
}

/** lazy: C·gate ⊙ act(x·Wᵀ + b);  eager: act((C·gate ⊙ x)·Wᵀ + b). */
function gatedRef(x: Float64Array, g: Float64Array, w: Float64Array, b: Float64Array | null, l: Layer): Float64Array {
  const z = preRef(x, g, w, b, l);
  return z.map((v, k) => actRef[l.act](v) * (l.placement === 'lazy' ? l.scale * g[k] : 1));
}

/**
 * Inputs x (xs), gate, W (out, in) and bias whose pre-activations stay away from relu's kink
 * (rejection sampling for small shapes; larger ones, checked at a few sampled elements, only
 * need the finite-difference step to stay clear of it).
 */
function layerInputs(xs: number[], l: Layer, withBias: boolean): GradcheckInput[] {
  const lead = xs.slice(0, -1);
  const gs = [...lead, l.placement === 'lazy' ? l.outF : l.inF];
  const margin = numel(xs) * l.outF > 1000 ? 1e-4 : 0.02;
  for (let tries = 0; tries < 1000; ++tries) {
    const x = rand(rng, numel(xs));
    const g = rand(rng, numel(gs));
    const w = rand(rng, l.outF * l.inF);
    const b = withBias ? rand(rng, l.outF) : null;
    const z = preRef(x, g, w, b, l);
    if (z.every((v) => Math.abs(v) > margin)) {
      const inputs: GradcheckInput[] = [
        { data: x, shape: xs },
        { data: g, shape: gs },
        { data: w, shape: [l.outF, l.inF] },
      ];
      if (b) inputs.push({ data: b, shape: [l.outF] });
      return inputs;
    }
  }
  throw new Error('layerInputs: no kink-free draw');
}

function check(name: string, xs: number[], l: Layer, withBias: boolean, extra: Partial<Parameters<typeof gradcheck>[0]> = {}) {
  return gradcheck({
    name,
    inputs: layerInputs(xs, l, withBias),
    op: ([x, g, w, b]) => gatedLinear(x, g, w, b ?? null, { activation: l.act, scale: l.scale, placement: l.placement }),
    ref: ([x, g, w, b]) => gatedRef(x, g, w, b ?? null, l),
    outShape: [...xs.slice(0, -1), l.outF],
    ...TOL,
    ...extra,
  });
}

describe('gatedLinear (gradcheck against float64 finite differences)', () => {
  for (const placement of PLACEMENTS) {
    for (const act of ACTS) {
      it(`${placement}, act '${act}': x, gate, weight, bias; with and without bias; x of rank 1, 2 and 3; scale 1.5`, () => {
        for (const [xs, outF] of [[[5, 3], 4], [[1, 6], 1], [[2, 3, 4], 5], [[3, 1, 7], 2], [[4], 3], [[9, 17], 6], [[6, 2], 7]] as [number[], number][]) {
          for (const withBias of [true, false]) {
            const l: Layer = { inF: xs[xs.length - 1], outF, act, scale: 1.5, placement };
            check(`gatedLinear ${placement} ${act} x [${xs}] W [${outF}, ${l.inF}] bias ${withBias}`, xs, l, withBias);
          }
        }
      });
    }

    it(`${placement}: larger shapes through the packed GEMM, its epilogue and the skinny paths (sampled finite differences)`, () => {
      const cases: [number[], number, Activation, number][] = [
        [[3, 37, 65], 70, 'gelu', -0.75],
        [[130, 33], 45, 'leaky_relu', 2],
        [[3, 40], 30, 'sigmoid', 1.25], // rows ≤ 4: skinny forward and dx
        [[50, 20], 3, 'tanh', 0.5], // out ≤ 4: skinny forward, dW
        [[60, 2], 40, 'relu', 3], // in ≤ 4: skinny dx and dW
      ];
      for (const [xs, outF, act, scale] of cases) {
        const l: Layer = { inF: xs[xs.length - 1], outF, act, scale, placement };
        check(`gatedLinear ${placement} ${act} x [${xs}] W [${outF}, ${l.inF}] scale ${scale}`, xs, l, true, {
          fwdTol: { atol: 3e-5, rtol: 1e-5 },
          gradTol: { atol: 1e-4, rtol: 1e-4 },
          maxFdElements: 12,
        });
      }
    });

    it(`${placement}: gradients to some inputs only (constant gate, constant weight and bias, x alone)`, () => {
      const l: Layer = { inF: 5, outF: 4, act: 'tanh', scale: 0.8, placement };
      const [x, g, w, b] = layerInputs([6, 5], l, true);
      const run = (inputs: GradcheckInput[]) =>
        gradcheck({
          name: `gatedLinear ${placement} grads ${inputs.map((i) => i.grad !== false)}`,
          inputs,
          op: ([xt, gt, wt, bt]) => gatedLinear(xt, gt, wt, bt, { activation: l.act, scale: l.scale, placement }),
          ref: ([xv, gv, wv, bv]) => gatedRef(xv, gv, wv, bv, l),
          ...TOL,
        });
      run([x, { ...g, grad: false }, w, b]);
      run([{ ...x, grad: false }, g, { ...w, grad: false }, { ...b, grad: false }]);
      run([x, { ...g, grad: false }, { ...w, grad: false }, { ...b, grad: false }]);
      run([{ ...x, grad: false }, { ...g, grad: false }, w, { ...b, grad: false }]);
    });
  }

  it('defaults: identity, scale 1, lazy', () => {
    const l: Layer = { inF: 4, outF: 3, act: 'identity', scale: 1, placement: 'lazy' };
    const inputs = layerInputs([5, 4], l, true);
    gradcheck({ name: 'gatedLinear defaults', inputs, op: ([x, g, w, b]) => gatedLinear(x, g, w, b), ref: ([x, g, w, b]) => gatedRef(x, g, w, b, l), ...TOL });
    gradcheck({ name: 'gatedLinear no bias, no options', inputs: inputs.slice(0, 3), op: ([x, g, w]) => gatedLinear(x, g, w), ref: ([x, g, w]) => gatedRef(x, g, w, null, l), ...TOL });
  });

  it('the gate may be x itself (eager): both gradients reach it; parameter gradients accumulate over two backward passes', () => {
    const l: Layer = { inF: 4, outF: 3, act: 'sigmoid', scale: 1.5, placement: 'eager' };
    const [x, , w, b] = layerInputs([5, 4], l, true);
    gradcheck({
      name: 'gatedLinear(x, x, …)',
      inputs: [x, w, b],
      op: ([xt, wt, bt]) => gatedLinear(xt, xt, wt, bt, { activation: 'sigmoid', scale: 1.5, placement: 'eager' }),
      ref: ([xv, wv, bv]) => gatedRef(xv, xv, wv, bv, l),
      ...TOL,
    });
    const xt = tensor(Float32Array.from(x.data), { shape: x.shape });
    const gt = tensor(Float32Array.from(rand(rng, 20)), { shape: [5, 4] });
    const wt = tensor(Float32Array.from(w.data), { shape: w.shape, requiresGrad: true });
    const bt = tensor(Float32Array.from(b.data), { shape: b.shape, requiresGrad: true });
    gatedLinear(xt, gt, wt, bt, { placement: 'eager', activation: 'gelu' }).sum().backward();
    const once = [wt.grad!.values(), bt.grad!.values()];
    gatedLinear(xt, gt, wt, bt, { placement: 'eager', activation: 'gelu' }).sum().backward();
    expectAllClose(wt.grad!.values(), once[0].map((v) => 2 * v), { atol: 1e-6, rtol: 1e-6 }, 'dW after two passes');
    expectAllClose(bt.grad!.values(), once[1].map((v) => 2 * v), { atol: 1e-6, rtol: 1e-6 }, 'db after two passes');
  });

  it('under noGrad: the same values and no graph', () => {
    for (const placement of PLACEMENTS) {
      const l: Layer = { inF: 6, outF: 5, act: 'gelu', scale: 2, placement };
      const [x, g, w, b] = layerInputs([3, 6], l, true);
      const ts = [x, g, w, b].map((i) => tensor(Float32Array.from(i.data), { shape: i.shape, requiresGrad: true }));
      const y = noGrad(() => gatedLinear(ts[0], ts[1], ts[2], ts[3], { activation: 'gelu', scale: 2, placement }));
      expect(y.requiresGrad).toBe(false);
      expectAllClose(y.values(), gatedRef(Float64Array.from(x.data), Float64Array.from(g.data), Float64Array.from(w.data), Float64Array.from(b.data), l), { atol: 1e-5, rtol: 1e-5 }, `noGrad ${placement}`);
    }
  });

  it('refuses bad arguments, naming them', () => {
    const x = tensor(new Float32Array(6), { shape: [2, 3] });
    const w = tensor(new Float32Array(12), { shape: [4, 3] });
    const gLazy = tensor(new Float32Array(8), { shape: [2, 4] });
    const gEager = tensor(new Float32Array(6), { shape: [2, 3] });
    expect(() => gatedLinear(x, gLazy, tensor(new Float32Array(3)))).toThrow('Expected a 2-D tensor (out, in) for weight but received shape [3]');
    expect(() => gatedLinear(tensor(new Float32Array(8), { shape: [2, 4] }), gLazy, w)).toThrow('Expected shape [..., 3] for x but received [2,4]');
    expect(() => gatedLinear(x, gEager, w)).toThrow('Expected shape [2,4] for gate but received [2,3]');
    expect(() => gatedLinear(x, gLazy, w, null, { placement: 'eager' })).toThrow('Expected shape [2,3] for gate but received [2,4]');
    expect(() => gatedLinear(x, gLazy, w, tensor(new Float32Array(3)))).toThrow('Expected shape [4] for bias but received [3]');
    expect(() => gatedLinear(x, gLazy, w, null, { activation: 'swish' as never })).toThrow(
      "Expected one of 'identity', 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu' for options.activation but received 'swish' of type string",
    );
    expect(() => gatedLinear(x, gLazy, w, null, { placement: 'middle' as never })).toThrow("Expected one of 'lazy', 'eager' for options.placement but received 'middle' of type string");
    expect(() => gatedLinear(x, gLazy, w, null, { scale: NaN })).toThrow('Expected a finite number for options.scale but received NaN of type number');
    expect(() => gatedLinear(x, gLazy, w, null, 3 as never)).toThrow('Expected an options object for options but received 3 of type number');
    expect(() => gatedLinear(tensor(new Int32Array(6), { shape: [2, 3] }), gLazy, w)).toThrow('Expected a float32 tensor for x but received int32');
    expect(() => gatedLinear(x, tensor(new Int32Array(8), { shape: [2, 4] }), w)).toThrow('Expected a float32 tensor for gate but received int32');
    expect(() => gatedLinear(x, gLazy, w, tensor(new Int32Array(4)))).toThrow('Expected a float32 tensor for bias but received int32');
  });
});

// ---- CUDA against the CPU twin

const DEV: Device = process.env.GATEWISE_PARITY_DEVICE === 'cpu' ? 'cpu' : 'cuda';
const enabled = DEV === 'cpu' || hasCuda();
if (!enabled) console.log('gatedLinear CUDA parity tests skipped: ' + backend().cudaUnavailableReason);

describe.skipIf(!enabled)(`gatedLinear: ${DEV} against the CPU twin`, () => {
  /** Runs gatedLinear on 'cpu' and DEV on the same inputs; compares y and every gradient. */
  function parity(xs: number[], l: Layer, withBias: boolean): void {
    const inputs = layerInputs(xs, l, withBias);
    const r = Float32Array.from(rand(rng, numel([...xs.slice(0, -1), l.outF])));
    const run = (device: Device) => {
      const ts = inputs.map((i) => tensor(Float32Array.from(i.data), { shape: i.shape, device, requiresGrad: true }));
      if (device !== 'cpu') poison([...inputs.map((i) => numel(i.shape)), r.length, 2 * r.length], device);
      const y = gatedLinear(ts[0], ts[1], ts[2], ts[3] ?? null, { activation: l.act, scale: l.scale, placement: l.placement });
      const values = Float64Array.from(y.toArraySync() as Float32Array);
      if (device !== 'cpu') poison(inputs.map((i) => numel(i.shape)), device);
      y.backward(tensor(r, { shape: y.shape, device }));
      return { values, grads: ts.map((t: Tensor) => Float64Array.from(t.grad!.toArraySync() as Float32Array)) };
    };
    const cpu = run('cpu');
    const dev = run(DEV);
    const what = `gatedLinear ${l.placement} ${l.act} x [${xs}] out ${l.outF}`;
    expectAllClose(dev.values, cpu.values, { atol: 1e-4, rtol: 1e-5 }, `${what}: output`);
    cpu.grads.forEach((g, k) => expectAllClose(dev.grads[k], g, { atol: 2e-4, rtol: 1e-4 }, `${what}: gradient of input ${k}`));
  }

  for (const placement of PLACEMENTS) {
    it(`${placement}: every activation, float4 and ragged widths, leading dims, skinny rows`, () => {
      for (const act of ACTS) {
        parity([257, 128], { inF: 128, outF: 96, act, scale: 1.5, placement }, true);
        parity([4, 33, 65], { inF: 65, outF: 70, act, scale: -0.5, placement }, act !== 'relu');
        parity([3, 40], { inF: 40, outF: 30, act, scale: 2, placement }, true);
      }
    });
  }
});
