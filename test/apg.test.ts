/**
 * The dynamic-weight kernel and APG: sampleLinear against float64 finite differences (every
 * activation, with and without bias, gradients to x, W and bias); ApgLinear's decomposed
 * forward ((x·U)·S(z))·V + b against the MATERIALIZED per-sample W = U·S(z)·V in float64, with
 * every parameter's gradient, for the 'self' and 'group' conditions and over-parameterized;
 * merge() folding U_l·U_r and V_l·V_r without changing the outputs; materialize(); errors
 * naming the bad option; and the CUDA kernel against the CPU twin (skipped, saying why,
 * without a GPU; GATEWISE_PARITY_DEVICE=cpu runs it CPU against CPU).
 */
import { describe, expect, it } from 'vitest';
import { add, ApgLinear, ApgMLP, backend, hasCuda, matmul, noGrad, Rng, sampleLinear, sum, tanh, tensor, Tensor } from '../lib';
import type { Activation, Device } from '../lib';
import { actRef, expectAllClose, gradcheck, GradcheckInput, numel, poison, rand } from './gradcheck';
import { linearRef, moduleGradcheck } from './module-gradcheck';

const rng = new Rng(71);
const TOL = { fwdTol: { atol: 1e-5, rtol: 1e-5 }, gradTol: { atol: 3e-5, rtol: 1e-4 } };

/** y[b] = act(x[b]·W[b] + bias[b]). */
function sampleRef(x: Float64Array, w: Float64Array, b: Float64Array | null, B: number, inF: number, outF: number, act: Activation): Float64Array {
  const y = new Float64Array(B * outF);
  for (let s = 0; s < B; ++s)
    for (let j = 0; j < outF; ++j) {
      let acc = b ? b[s * outF + j] : 0;
      for (let i = 0; i < inF; ++i) acc += x[s * inF + i] * w[(s * inF + i) * outF + j];
      y[s * outF + j] = actRef[act](acc);
    }
  return y;
}

/** (rows×inner)·(inner×cols) for row-major arrays. */
function mm(a: Float64Array, b: Float64Array, rows: number, inner: number, cols: number): Float64Array {
  const c = new Float64Array(rows * cols);
  for (let r = 0; r < rows; ++r) for (let k = 0; k < inner; ++k) for (let j = 0; j < cols; ++j) c[r * cols + j] += a[r * inner + k] * b[k * cols + j];
  return c;
}

/** Wᵀ of a (out, in) Linear weight as an (in × out) matrix. */
function t(w: Float64Array, out: number, inF: number): Float64Array {
  const r = new Float64Array(w.length);
  for (let o = 0; o < out; ++o) for (let i = 0; i < inF; ++i) r[i * out + o] = w[o * inF + i];
  return r;
}

describe('sampleLinear (a weight per sample; gradcheck)', () => {
  for (const [B, inF, outF, act, withBias] of [[4, 3, 5, 'identity', true], [3, 6, 2, 'relu', true], [2, 4, 4, 'gelu', false], [5, 1, 7, 'tanh', true], [3, 5, 3, 'sigmoid', false], [2, 3, 3, 'leaky_relu', true]] as [number, number, number, Activation, boolean][]) {
    it(`B ${B}, ${inF} → ${outF}, ${act}, bias ${withBias}`, () => {
      const inputs: GradcheckInput[] = [
        { data: rand(rng, B * inF), shape: [B, inF] },
        { data: rand(rng, B * inF * outF), shape: [B, inF, outF] },
      ];
      if (withBias) inputs.push({ data: rand(rng, B * outF), shape: [B, outF] });
      gradcheck({
        name: `sampleLinear ${B} ${inF} ${outF} ${act}`,
        inputs,
        op: ([x, w, b]) => sampleLinear(x, w, b ?? null, act),
        ref: ([x, w, b]) => sampleRef(x, w, b ?? null, B, inF, outF, act),
        outShape: [B, outF],
        ...TOL,
      });
    });
  }

  it('refuses bad shapes, naming the argument', () => {
    const x = tensor(new Float32Array(6), { shape: [2, 3] });
    expect(() => sampleLinear(x, tensor(new Float32Array(12), { shape: [3, 4] }))).toThrow('Expected shape [2, 3, out] for weight but received [3,4]');
    expect(() => sampleLinear(x, tensor(new Float32Array(24), { shape: [2, 3, 4] }), tensor(new Float32Array(4), { shape: [4] }))).toThrow('Expected shape [2, 4] for bias but received [4]');
  });
});

/** The APG layer in float64 from the MATERIALIZED per-sample W = U·S(z)·V (never what the module runs). */
function apgRef(x: Float64Array, z: Float64Array, p: Record<string, Float64Array>, B: number, N: number, M: number, K: number, P: number, act: Activation): Float64Array {
  const U = P ? mm(t(p['u.0.weight'], P, N), t(p['u.1.weight'], K, P), N, P, K) : t(p['u.0.weight'], K, N); // N×K
  const V = P ? mm(t(p['v.0.weight'], P, K), t(p['v.1.weight'], M, P), K, P, M) : t(p['v.0.weight'], M, K); // K×M
  const S = linearRef(z, B, p['generator.layers.0.weight'], K * K, p['generator.layers.0.bias']); // (B, K·K)
  const bias = p[P ? 'v.1.bias' : 'v.0.bias'];
  const y = new Float64Array(B * M);
  for (let b = 0; b < B; ++b) {
    const W = mm(mm(U, S.subarray(b * K * K, (b + 1) * K * K), N, K, K), V, N, K, M); // N×M
    for (let m = 0; m < M; ++m) {
      let acc = bias[m];
      for (let n = 0; n < N; ++n) acc += x[b * N + n] * W[n * M + m];
      y[b * M + m] = actRef[act](acc);
    }
  }
  return y;
}

describe('ApgLinear', () => {
  const [B, N, M, K] = [3, 5, 4, 3];
  for (const [condition, P, act] of [['self', 0, 'identity'], ['group', 0, 'tanh'], ['self', 4, 'identity'], ['group', 5, 'sigmoid']] as ['self' | 'group', number, Activation][]) {
    it(`decomposed forward = x·(U·S(z)·V) + b materialized, every gradient (${condition}, over-parameterization P ${P}, ${act})`, () => {
      const r = new Rng(5 + P);
      const Z = 4;
      const m = new ApgLinear(N, M, { rank: K, condition, condFeatures: Z, overParam: P, activation: act, rng: r });
      const inputs = [{ data: rand(r, B * N), shape: [B, N] }];
      if (condition === 'group') inputs.push({ data: rand(r, B * Z), shape: [B, Z] });
      moduleGradcheck({
        name: `ApgLinear ${condition} P ${P}`,
        module: m,
        inputs,
        forward: (mod, [x, z]) => (mod as ApgLinear).forward(x, z),
        ref: ([x, z], p) => apgRef(x, condition === 'self' ? x : z, p, B, N, M, K, P, act),
      });
    });
  }

  it('merge() folds U_l·U_r and V_l·V_r: the same outputs, fewer parameters; materialize() gives W(z)', () => {
    const r = new Rng(9);
    const m = new ApgLinear(6, 5, { rank: 4, overParam: 8, condition: 'group', condFeatures: 3, activation: 'relu', rng: r });
    const x = tensor(Float32Array.from(rand(r, 7 * 6)), { shape: [7, 6] });
    const z = tensor(Float32Array.from(rand(r, 7 * 3)), { shape: [7, 3] });
    m.eval();
    const before = noGrad(() => m.forward(x, z)).values();
    const W = m.materialize(z).toArraySync() as Float32Array;
    const params = m.parameters().reduce((s, p) => s + p.size, 0);
    expect(m.merge()).toBe(m);
    expect(m.overParameterized).toBe(false);
    expect(m.parameters().reduce((s, p) => s + p.size, 0)).toBeLessThan(params);
    expectAllClose(noGrad(() => m.forward(x, z)).values(), before, { atol: 1e-5, rtol: 1e-5 }, 'outputs after merge()');
    expectAllClose(m.materialize(z).toArraySync() as Float32Array, W, { atol: 1e-5, rtol: 1e-5 }, 'W(z) after merge()');
    // materialize(): relu(x·W(z) + b) is the layer's output
    const xs = x.toArraySync() as Float32Array;
    const b = m.v[0].bias!.toArraySync() as Float32Array;
    const manual = Array.from({ length: 7 * 5 }, (_, k) => {
      const [s, j] = [Math.floor(k / 5), k % 5];
      let acc = b[j];
      for (let n = 0; n < 6; ++n) acc += xs[s * 6 + n] * W[(s * 6 + n) * 5 + j];
      return Math.max(acc, 0);
    });
    expectAllClose(before, manual, { atol: 1e-5, rtol: 1e-5 }, 'materialized W(z) reproduces the decomposed layer');
  });

  it('refuses bad options and inputs, naming them', () => {
    expect(() => new ApgLinear(4, 3, { rank: 0 })).toThrow('options.rank');
    expect(() => new ApgLinear(4, 3, { rank: 4, overParam: 2 })).toThrow('Expected 0 or a width ≥ the rank 4 for options.overParam but received 2');
    expect(() => new ApgLinear(4, 3, { condition: 'group' })).toThrow("options.condFeatures");
    expect(() => new ApgLinear(4, 3, { condition: 'scene' as never })).toThrow("Expected one of 'self', 'group' for options.condition");
    const g = new ApgLinear(4, 3, { condition: 'group', condFeatures: 2 });
    const x = tensor(new Float32Array(8), { shape: [2, 4] });
    expect(() => g.forward(x, tensor(new Float32Array(6), { shape: [2, 3] }))).toThrow('Expected shape [2, 2] for z but received [2,3]');
  });
});

describe('ApgMLP', () => {
  for (const condition of ['self', 'group'] as const) {
    it(`each layer is an ApgLinear with its own W_l(z) (${condition}); merge() keeps the outputs; every parameter learns`, () => {
      const r = new Rng(31);
      const [B, IN, Z] = [5, 6, 3];
      const mlp = new ApgMLP(IN, { hidden: [8, 4], outFeatures: 1, rank: 6, condition, condFeatures: Z, overParam: 8, activation: 'tanh', rng: r });
      expect(mlp.layers.map((l) => l.rank)).toEqual([6, 4, 1]); // capped at each layer's smaller side
      const x = tensor(Float32Array.from(rand(r, B * IN)), { shape: [B, IN] });
      const z = condition === 'group' ? tensor(Float32Array.from(rand(r, B * Z)), { shape: [B, Z] }) : undefined;
      const y = mlp.forward(x, z);
      sum(y).backward();
      for (const [name, p] of mlp.namedParameters()) expect(Math.max(...(p.grad?.toArraySync() as Float32Array).map(Math.abs)), name).toBeGreaterThan(0);
      mlp.eval();
      const before = noGrad(() => mlp.forward(x, z)).values();
      // the same stack by hand, each layer through its materialized per-sample W(z)
      const manual = noGrad(() => {
        let h = x;
        mlp.layers.forEach((layer, l) => {
          const W = layer.materialize(condition === 'self' ? h : (z as Tensor)); // (B, in, out)
          const pre = matmul(h.reshape(B, 1, layer.inFeatures), W).reshape(B, layer.outFeatures);
          const biased = add(pre, layer.v[layer.v.length - 1].bias as Tensor);
          h = l < 2 ? tanh(biased) : biased;
        });
        return h.values();
      });
      expectAllClose(before, manual, { atol: 1e-5, rtol: 1e-4 }, 'ApgMLP vs materialized layers');
      mlp.merge();
      expect(mlp.layers.every((l) => !l.overParameterized)).toBe(true);
      expectAllClose(noGrad(() => mlp.forward(x, z)).values(), before, { atol: 1e-5, rtol: 1e-5 }, 'outputs after merge()');
    });
  }

  it('refuses bad options, naming them', () => {
    expect(() => new ApgMLP(4, { hidden: [] })).toThrow('at least one layer');
    expect(() => new ApgMLP(4, { hidden: [3], rank: 4, overParam: 2 })).toThrow('options.overParam');
    expect(() => new ApgMLP(4, { hidden: [3], condition: 'group' })).toThrow('options.condFeatures');
  });
});

const DEV: Device = process.env.GATEWISE_PARITY_DEVICE === 'cpu' ? 'cpu' : 'cuda';
const enabled = DEV === 'cpu' || hasCuda();
if (!enabled) console.log('sampleLinear CUDA parity tests skipped: ' + backend().cudaUnavailableReason);

describe.skipIf(!enabled)(`sampleLinear: ${DEV} against the CPU twin`, () => {
  it('values and every gradient at APG and M2M sizes, out below and above a warp', () => {
    for (const [B, inF, outF, act] of [[4096, 32, 32, 'identity'], [1024, 64, 16, 'relu'], [300, 7, 70, 'gelu']] as [number, number, number, Activation][]) {
      const data = [rand(rng, B * inF), rand(rng, B * inF * outF), rand(rng, B * outF)];
      const shapes = [[B, inF], [B, inF, outF], [B, outF]];
      const r = Float32Array.from(rand(rng, B * outF));
      const run = (device: Device) => {
        const ts = data.map((d, k) => tensor(Float32Array.from(d), { shape: shapes[k], device, requiresGrad: true }));
        if (device !== 'cpu') poison(shapes.map((s) => 2 * numel(s)), device);
        const y = sampleLinear(ts[0], ts[1], ts[2], act);
        const values = Float64Array.from(y.toArraySync() as Float32Array);
        y.backward(tensor(r, { shape: y.shape, device }));
        return { values, grads: ts.map((t: Tensor) => Float64Array.from(t.grad!.toArraySync() as Float32Array)) };
      };
      const want = run('cpu');
      const got = run(DEV);
      expectAllClose(got.values, want.values, { atol: 2e-5, rtol: 1e-4 }, `sampleLinear ${B} ${inF} ${outF} forward`);
      got.grads.forEach((g, i) => expectAllClose(g, want.grads[i], { atol: 2e-5, rtol: 1e-4 }, `sampleLinear grad ${i}`));
    }
  });
});
