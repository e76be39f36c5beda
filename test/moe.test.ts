/**
 * MoE ops (native/ops/moe and the batched GEMM): expertLinear, moeGate and moeCombine against
 * float64 references with finite differences (every input, shared and per-expert x, with and
 * without bias and the personal gate, several activations); the gate-dropout rule (dropped
 * share ≈ p, renormalized over survivors, never all dropped, one mask per task in 'batch'
 * mode, the same mask for the same seed); errors that name the bad argument; and the CUDA
 * kernels against the CPU twin (skipped, saying why, without a GPU;
 * GATEWISE_PARITY_DEVICE=cpu runs the parity cases CPU against CPU).
 */
import { describe, expect, it } from 'vitest';
import { backend, expertLinear, hasCuda, moeCombine, moeGate, Rng, softmax, tensor, Tensor } from '../lib';
import type { Activation, Device } from '../lib';
import { actRef, expectAllClose, gradcheck, GradcheckInput, numel, poison, rand } from './gradcheck';

const rng = new Rng(61);
const TOL = { fwdTol: { atol: 1e-5, rtol: 1e-5 }, gradTol: { atol: 3e-5, rtol: 1e-4 } };
/** y[e, b, o] = act(Σ_i x[(e,)b, i]·W[e, o, i] + bias[e, o]). */
function expertRef(x: Float64Array, w: Float64Array, b: Float64Array | null, E: number, B: number, inF: number, outF: number, shared: boolean, act: Activation): Float64Array {
  const y = new Float64Array(E * B * outF);
  for (let e = 0; e < E; ++e)
    for (let r = 0; r < B; ++r)
      for (let o = 0; o < outF; ++o) {
        let s = b ? b[e * outF + o] : 0;
        for (let i = 0; i < inF; ++i) s += x[(shared ? 0 : e * B * inF) + r * inF + i] * w[(e * outF + o) * inF + i];
        y[(e * B + r) * outF + o] = actRef[act](s);
      }
  return y;
}

/** out[t, b, h] = C·Σ_e g[b, t, e]·pg[b, e]·x[e, b, h]. */
function combineRef(x: Float64Array, g: Float64Array, pg: Float64Array | null, E: number, B: number, T: number, H: number, C: number): Float64Array {
  const out = new Float64Array(T * B * H);
  for (let t = 0; t < T; ++t)
    for (let b = 0; b < B; ++b)
      for (let e = 0; e < E; ++e) {
        const w = C * g[(b * T + t) * E + e] * (pg ? pg[b * E + e] : 1);
        for (let h = 0; h < H; ++h) out[(t * B + b) * H + h] += w * x[(e * B + b) * H + h];
      }
  return out;
}

/** (E, B, H) ↔ (B, E, H): swaps the first two axes. */
function swap01(x: Float64Array, P: number, Q: number, H: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let p = 0; p < P; ++p) for (let q = 0; q < Q; ++q) for (let h = 0; h < H; ++h) y[(q * P + p) * H + h] = x[(p * Q + q) * H + h];
  return y;
}

/** Softmax over each row of E restricted to keep (1 = survived). */
function gateRef(z: Float64Array, keep: Uint8Array, E: number): Float64Array {
  const y = new Float64Array(z.length);
  for (let r = 0; r < z.length / E; ++r) {
    let m = -Infinity;
    for (let j = 0; j < E; ++j) if (keep[r * E + j]) m = Math.max(m, z[r * E + j]);
    let s = 0;
    for (let j = 0; j < E; ++j) s += keep[r * E + j] ? Math.exp(z[r * E + j] - m) : 0;
    for (let j = 0; j < E; ++j) y[r * E + j] = keep[r * E + j] ? Math.exp(z[r * E + j] - m) / s : 0;
  }
  return y;
}

/** The survivors of a gate call: where the gate is non-zero (softmax outputs of kept experts are > 0 here). */
function survivors(gates: Tensor): Uint8Array {
  return Uint8Array.from(gates.toArraySync() as Float32Array, (v) => (v > 0 ? 1 : 0));
}

describe('expertLinear (one batched GEMM for every expert; gradcheck)', () => {
  const cases: [number, number, number, number, boolean, Activation, boolean][] = [
    [4, 5, 6, 3, true, 'relu', true],
    [3, 7, 4, 5, false, 'tanh', true],
    [2, 3, 5, 2, true, 'gelu', false],
    [5, 2, 3, 4, false, 'identity', true],
    [3, 6, 2, 7, true, 'sigmoid', true], // out ≤ 4 and in ≤ 4: the skinny GEMM paths
  ];
  for (const [E, B, inF, outF, shared, act, withBias] of cases) {
    it(`E ${E}, B ${B}, ${inF} → ${outF}, x ${shared ? 'shared' : 'per expert'}, ${act}, bias ${withBias}`, () => {
      const inputs: GradcheckInput[] = [
        { data: rand(rng, (shared ? 1 : E) * B * inF), shape: shared ? [B, inF] : [E, B, inF] },
        { data: rand(rng, E * outF * inF), shape: [E, outF, inF] },
      ];
      if (withBias) inputs.push({ data: rand(rng, E * outF), shape: [E, outF] });
      gradcheck({
        name: `expertLinear ${E} ${B} ${inF} ${outF} ${shared} ${act}`,
        inputs,
        op: ([x, w, b]) => expertLinear(x, w, b ?? null, act),
        ref: ([x, w, b]) => expertRef(x, w, b ?? null, E, B, inF, outF, shared, act),
        outShape: [E, B, outF],
        ...TOL,
      });
    });
  }

  it('larger experts through the packed GEMM (sampled finite differences)', () => {
    const [E, B, inF, outF] = [6, 70, 40, 33];
    gradcheck({
      name: 'expertLinear large',
      inputs: [
        { data: rand(rng, B * inF), shape: [B, inF] },
        { data: rand(rng, E * outF * inF), shape: [E, outF, inF] },
        { data: rand(rng, E * outF), shape: [E, outF] },
      ],
      op: ([x, w, b]) => expertLinear(x, w, b, 'leaky_relu'),
      ref: ([x, w, b]) => expertRef(x, w, b, E, B, inF, outF, true, 'leaky_relu'),
      fwdTol: { atol: 3e-5, rtol: 1e-5 },
      gradTol: { atol: 2e-4, rtol: 1e-4 },
      maxFdElements: 16,
    });
  });

  for (const act of ['relu', 'gelu'] as Activation[]) {
    it(`batch-major output (B, E, out) from a shared x, ${act}: the same values, permuted; gradients alike`, () => {
      const [E, B, inF, outF] = [3, 5, 4, 6];
      gradcheck({
        name: `expertLinear batch-major ${act}`,
        inputs: [
          { data: rand(rng, B * inF), shape: [B, inF] },
          { data: rand(rng, E * outF * inF), shape: [E, outF, inF] },
          { data: rand(rng, E * outF), shape: [E, outF] },
        ],
        op: ([x, w, b]) => expertLinear(x, w, b, act, { batchMajor: true }),
        ref: ([x, w, b]) => swap01(expertRef(x, w, b, E, B, inF, outF, true, act), E, B, outF),
        outShape: [B, E, outF],
        ...TOL,
      });
    });
  }

  it('refuses bad shapes, naming the argument', () => {
    const x = tensor(new Float32Array(6), { shape: [2, 3] });
    const w = tensor(new Float32Array(24), { shape: [2, 4, 3] });
    expect(() => expertLinear(tensor(new Float32Array(12), { shape: [2, 2, 3] }), w, null, 'relu', { batchMajor: true })).toThrow('options.batchMajor needs a shared x [batch, 3], not [2,2,3]');
    expect(() => expertLinear(x, w, null, 'relu', { batchMajor: 1 as never })).toThrow('options.batchMajor');
    expect(() => expertLinear(x, tensor(new Float32Array(12), { shape: [4, 3] }))).toThrow('Expected shape [experts, out, in] for weight but received [4,3]');
    expect(() => expertLinear(tensor(new Float32Array(8), { shape: [2, 4] }), w)).toThrow('Expected shape [batch, 3] or [2, batch, 3] for x but received [2,4]');
    expect(() => expertLinear(x, w, tensor(new Float32Array(4), { shape: [4] }))).toThrow('Expected shape [2, 4] for bias but received [4]');
  });
});

describe('moeCombine (fused gate-weighted sum over experts; gradcheck)', () => {
  for (const [E, B, T, H, withPg, C] of [[4, 5, 2, 6, false, 1], [3, 4, 3, 5, true, 2], [2, 3, 5, 1, true, 0.5], [5, 2, 1, 9, false, 1.5]] as [number, number, number, number, boolean, number][]) {
    it(`E ${E}, B ${B}, T ${T}, H ${H}, personal gate ${withPg}, C ${C}`, () => {
      const inputs: GradcheckInput[] = [
        { data: rand(rng, E * B * H), shape: [E, B, H] },
        { data: rand(rng, B * T * E, { lo: 0, hi: 1 }), shape: [B, T, E] },
      ];
      if (withPg) inputs.push({ data: rand(rng, B * E, { lo: 0, hi: 2 }), shape: [B, E] });
      gradcheck({
        name: `moeCombine ${E} ${B} ${T} ${H} ${withPg}`,
        inputs,
        op: ([x, g, pg]) => moeCombine(x, g, { personalGate: pg ?? null, scale: C }),
        ref: ([x, g, pg]) => combineRef(x, g, pg ?? null, E, B, T, H, C),
        outShape: [T, B, H],
        ...TOL,
      });
    });
  }

  it('batch-major experts (B, E, H): the same combination and gradients', () => {
    const [E, B, T, H, C] = [4, 3, 2, 5, 1.5];
    gradcheck({
      name: 'moeCombine batch-major',
      inputs: [
        { data: rand(rng, B * E * H), shape: [B, E, H] },
        { data: rand(rng, B * T * E, { lo: 0, hi: 1 }), shape: [B, T, E] },
        { data: rand(rng, B * E, { lo: 0, hi: 2 }), shape: [B, E] },
      ],
      op: ([x, g, pg]) => moeCombine(x, g, { personalGate: pg, scale: C, batchMajor: true }),
      ref: ([x, g, pg]) => combineRef(swap01(x, B, E, H), g, pg, E, B, T, H, C),
      outShape: [T, B, H],
      ...TOL,
    });
  });

  it('refuses bad shapes, naming the argument', () => {
    const x = tensor(new Float32Array(24), { shape: [2, 3, 4] });
    expect(() => moeCombine(x, tensor(new Float32Array(6), { shape: [3, 2, 1] }), { batchMajor: true })).toThrow('Expected shape [2, tasks, 3] for gates but received [3,2,1]');
    expect(() => moeCombine(x, tensor(new Float32Array(6), { shape: [3, 2, 1] }))).toThrow('Expected shape [3, tasks, 2] for gates but received [3,2,1]');
    expect(() => moeCombine(x, tensor(new Float32Array(12), { shape: [3, 2, 2] }), { personalGate: tensor(new Float32Array(3), { shape: [3, 1] }) })).toThrow('Expected shape [3, 2] for options.personalGate but received [3,1]');
    expect(() => moeCombine(x, tensor(new Float32Array(12), { shape: [3, 2, 2] }), { scale: NaN })).toThrow('Expected a finite number for options.scale but received NaN');
  });
});

describe('moeGate (softmax with gate dropout)', () => {
  it('p = 0 is the plain softmax, with its gradient', () => {
    const [B, T, E] = [5, 2, 4];
    gradcheck({
      name: 'moeGate p=0',
      inputs: [{ data: rand(rng, B * T * E, { lo: -3, hi: 3 }), shape: [B, T, E] }],
      op: ([z]) => moeGate(z),
      ref: ([z]) => gateRef(z, new Uint8Array(z.length).fill(1), E),
      ...TOL,
    });
    const z = tensor(Float32Array.from(rand(rng, 24)), { shape: [3, 2, 4] });
    expectAllClose(moeGate(z).values(), softmax(z).values(), { atol: 1e-7, rtol: 1e-6 }, 'moeGate p=0 vs softmax');
  });

  it('p > 0: a fixed seed gives a fixed mask; values and gradients match the softmax over the survivors', () => {
    const [B, T, E] = [8, 3, 5];
    const data = rand(rng, B * T * E, { lo: -3, hi: 3 });
    const opts = { p: 0.4, seed: 99, offset: 3 };
    const keep = survivors(moeGate(tensor(Float32Array.from(data), { shape: [B, T, E] }), opts));
    expect(keep.some((k) => k === 0)).toBe(true);
    gradcheck({
      name: 'moeGate p=0.4',
      inputs: [{ data, shape: [B, T, E] }],
      op: ([z]) => moeGate(z, opts),
      ref: ([z]) => gateRef(z, keep, E),
      ...TOL,
    });
  });

  it('drops each gate with probability p, renormalizes over the survivors and never drops a whole row', () => {
    const [B, T, E] = [4000, 2, 8];
    const z = tensor(Float32Array.from(rand(rng, B * T * E)), { shape: [B, T, E] });
    const g = moeGate(z, { p: 0.1, seed: 5 }).toArraySync() as Float32Array;
    let dropped = 0;
    for (let r = 0; r < B * T; ++r) {
      let s = 0;
      let kept = 0;
      for (let j = 0; j < E; ++j) (s += g[r * E + j]), (kept += g[r * E + j] > 0 ? 1 : 0);
      expect(Math.abs(s - 1)).toBeLessThan(1e-5);
      expect(kept).toBeGreaterThan(0);
      dropped += E - kept;
    }
    expect(dropped / (B * T * E)).toBeCloseTo(0.1, 2);
    const rescue = moeGate(tensor(new Float32Array(3000 * 2), { shape: [3000, 1, 2] }), { p: 0.9, seed: 8 }).toArraySync() as Float32Array;
    for (let r = 0; r < 3000; ++r) expect(rescue[2 * r] + rescue[2 * r + 1]).toBeCloseTo(1, 6);
  });

  it("'batch' mode: one mask per task for every sample; a new seed gives a new mask", () => {
    const [B, T, E] = [50, 3, 6];
    const z = tensor(Float32Array.from(rand(rng, B * T * E)), { shape: [B, T, E] });
    const k1 = survivors(moeGate(z, { p: 0.5, mode: 'batch', seed: 1 }));
    for (let b = 1; b < B; ++b) expect([...k1.subarray(b * T * E, (b + 1) * T * E)]).toEqual([...k1.subarray(0, T * E)]);
    const k2 = survivors(moeGate(z, { p: 0.5, mode: 'batch', seed: 2 }));
    expect([...k2.subarray(0, T * E)]).not.toEqual([...k1.subarray(0, T * E)]);
    const perSample = survivors(moeGate(z, { p: 0.5, seed: 1 }));
    expect([...perSample.subarray(T * E, 2 * T * E)]).not.toEqual([...perSample.subarray(0, T * E)]);
  });

  it('refuses bad arguments, naming them', () => {
    const z = tensor(new Float32Array(12), { shape: [2, 2, 3] });
    expect(() => moeGate(z.reshape(4, 3))).toThrow('Expected shape [batch, tasks, experts] for logits but received [4,3]');
    expect(() => moeGate(z, { p: 1 })).toThrow('Expected a probability in [0, 1) for options.p but received 1');
    expect(() => moeGate(z, { mode: 'token' as never })).toThrow("Expected one of 'sample', 'batch' for options.mode but received 'token' of type string");
  });
});

const DEV: Device = process.env.GATEWISE_PARITY_DEVICE === 'cpu' ? 'cpu' : 'cuda';
const enabled = DEV === 'cpu' || hasCuda();
if (!enabled) console.log('MoE CUDA parity tests skipped: ' + backend().cudaUnavailableReason);

describe.skipIf(!enabled)(`MoE ops: ${DEV} against the CPU twin`, () => {
  /** Runs f on 'cpu' and DEV with the same inputs; compares the output and every gradient. */
  function parity(name: string, inputs: GradcheckInput[], f: (ts: Tensor[]) => Tensor, tol = { atol: 2e-5, rtol: 1e-4 }): void {
    const run = (device: Device) => {
      const ts = inputs.map((i) => tensor(Float32Array.from(i.data), { shape: i.shape, device, requiresGrad: true }));
      if (device !== 'cpu') poison(inputs.map((i) => 2 * numel(i.shape)), device);
      const y = f(ts);
      const r = tensor(Float32Array.from(rand(new Rng(3), numel(y.shape))), { shape: y.shape, device });
      const values = Float64Array.from(y.toArraySync() as Float32Array);
      y.backward(r);
      return { values, grads: ts.map((t) => Float64Array.from(t.grad!.toArraySync() as Float32Array)) };
    };
    const want = run('cpu');
    const got = run(DEV);
    expectAllClose(got.values, want.values, tol, `${name} forward`);
    got.grads.forEach((g, i) => expectAllClose(g, want.grads[i], tol, `${name} grad ${i}`));
  }

  it('expertLinear, shared and per-expert x, at MMoE sizes', () => {
    for (const [E, B, inF, outF, shared] of [[8, 1024, 64, 32, true], [4, 300, 33, 17, false], [16, 64, 3, 5, true]] as [number, number, number, number, boolean][]) {
      parity(
        `expertLinear ${E} ${B} ${inF} ${outF}`,
        [
          { data: rand(rng, (shared ? 1 : E) * B * inF), shape: shared ? [B, inF] : [E, B, inF] },
          { data: rand(rng, E * outF * inF), shape: [E, outF, inF] },
          { data: rand(rng, E * outF), shape: [E, outF] },
        ],
        ([x, w, b]) => expertLinear(x, w, b, 'relu'),
        { atol: 1e-4, rtol: 1e-4 },
      );
    }
  });

  it('moeGate with and without dropout, both modes: the same masks and gates', () => {
    for (const opts of [{}, { p: 0.1, seed: 4 }, { p: 0.5, seed: 9, mode: 'batch' as const }, { p: 0.9, seed: 2 }]) {
      parity(`moeGate ${JSON.stringify(opts)}`, [{ data: rand(rng, 2000 * 2 * 8, { lo: -3, hi: 3 }), shape: [2000, 2, 8] }], ([z]) => moeGate(z, opts));
    }
    parity('moeGate 70 experts', [{ data: rand(rng, 40 * 3 * 70), shape: [40, 3, 70] }], ([z]) => moeGate(z, { p: 0.2, seed: 1 }));
  });

  it('moeCombine with and without the personal gate, T across the register chunk', () => {
    for (const [E, B, T, H, withPg] of [[8, 2048, 2, 64, false], [16, 512, 5, 33, true], [3, 100, 1, 256, true]] as [number, number, number, number, boolean][]) {
      const inputs: GradcheckInput[] = [
        { data: rand(rng, E * B * H), shape: [E, B, H] },
        { data: rand(rng, B * T * E, { lo: 0, hi: 1 }), shape: [B, T, E] },
      ];
      if (withPg) inputs.push({ data: rand(rng, B * E, { lo: 0, hi: 2 }), shape: [B, E] });
      parity(`moeCombine ${E} ${B} ${T} ${H} ${withPg}`, inputs, ([x, g, pg]) => moeCombine(x, g, { personalGate: pg ?? null, scale: 2 }));
      parity(`moeCombine batch-major ${E} ${B} ${T} ${H} ${withPg}`, inputs, ([x, g, pg]) => moeCombine(x.reshape(B, E, H), g, { personalGate: pg ?? null, scale: 2, batchMajor: true }));
    }
  });

  it('expertLinear batch-major (one GEMM, no permute) with its backward', () => {
    const [E, B, inF, outF] = [8, 512, 263, 64];
    const inputs: GradcheckInput[] = [
      { data: rand(rng, B * inF), shape: [B, inF] },
      { data: rand(rng, E * outF * inF), shape: [E, outF, inF] },
      { data: rand(rng, E * outF), shape: [E, outF] },
    ];
    parity('expertLinear batch-major relu', inputs, ([x, w, b]) => expertLinear(x, w, b, 'relu', { batchMajor: true }), { atol: 1e-4, rtol: 1e-4 });
  });
});
