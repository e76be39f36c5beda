/**
 * posoAttention (native/ops/poso_attention): forward and gradients of q, k, v and both gates
 * against a float64 reference with finite differences; equivalence with the naive formula
 * (N separate attentions summed, posoAttentionReference) on random input; key masking
 * (padded positions change nothing and get zero gradients; lengths ≡ mask ≡ truncation);
 * errors naming the argument; CUDA against the CPU twin (skipped, saying why, without a GPU;
 * GATEWISE_PARITY_DEVICE=cpu runs those cases CPU against CPU).
 */
import { describe, expect, it } from 'vitest';
import { backend, hasCuda, noGrad, posoAttention, posoAttentionReference, Rng, tensor, Tensor } from '../lib';
import type { Device, PosoAttentionOptions } from '../lib';
import { attentionRef as ref, AttentionCfg as Cfg, D, gvShape, qShape } from './attention-reference';
import { expectAllClose, gradcheck, GradcheckInput, numel, poison, rand } from './gradcheck';

const rng = new Rng(2024);

function inputs(c: Cfg): GradcheckInput[] {
  const list: GradcheckInput[] = [
    { data: rand(rng, numel(qShape(c)), { lo: -1.5, hi: 1.5 }), shape: qShape(c) },
    { data: rand(rng, c.B * c.L * D(c), { lo: -1.5, hi: 1.5 }), shape: [c.B, c.L, D(c)] },
    { data: rand(rng, c.B * c.L * c.N * D(c)), shape: [c.B, c.L, c.N * D(c)] },
  ];
  if (c.gk) list.push({ data: rand(rng, c.B * D(c), { lo: 0.2, hi: 2 }), shape: [c.B, D(c)] });
  if (c.G) list.push({ data: rand(rng, numel(gvShape(c)), { lo: 0.2, hi: 2 }), shape: gvShape(c) });
  return list;
}

function options(c: Cfg, gk: Tensor | null, gv: Tensor | null, device: Device = 'cpu'): PosoAttentionOptions {
  return {
    heads: c.H,
    keyGate: gk,
    valueGate: gv,
    lengths: c.lengths ?? null,
    mask: c.mask ? tensor(Uint8Array.from(c.mask), { shape: [c.B, c.L], device }) : null,
    scale: c.scale,
  };
}

/** Splits the tensors of inputs(c) into q, k, v, gk, gv. */
function unpack<T>(c: Cfg, ts: T[]): [T, T, T, T | null, T | null] {
  const gk = c.gk ? ts[3] : null;
  const gv = c.G ? ts[c.gk ? 4 : 3] : null;
  return [ts[0], ts[1], ts[2], gk, gv];
}

function check(name: string, c: Cfg): void {
  gradcheck({
    name,
    inputs: inputs(c),
    op: (ts) => {
      const [q, k, v, gk, gv] = unpack(c, ts);
      return posoAttention(q, k, v, options(c, gk, gv));
    },
    ref: (xs) => {
      const [q, k, v, gk, gv] = unpack(c, xs);
      return ref(c, q, k, v, gk, gv);
    },
    fwdTol: { atol: 1e-5, rtol: 1e-5 },
    gradTol: { atol: 3e-5, rtol: 2e-4 },
    maxFdElements: 48,
  });
}

describe('posoAttention', () => {
  it('gradients of q, k, v and both gates match float64 finite differences', () => {
    check('one query (2-D q), per-head fold gates, lengths with an empty sample', { B: 3, Lq: 0, L: 5, H: 2, dh: 3, N: 3, G: 2, gk: true, lengths: [5, 0, 3], scale: 2 });
    check('three queries, fold gates shared by the heads, key mask', { B: 2, Lq: 3, L: 6, H: 2, dh: 4, N: 2, G: 1, gk: true, mask: [1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0] });
    check('plain attention: one fold, no gates, every key valid', { B: 2, Lq: 2, L: 7, H: 1, dh: 5, N: 1, G: 0, gk: false });
    check('K gate only; gate on one fold', { B: 2, Lq: 1, L: 4, H: 3, dh: 2, N: 1, G: 1, gk: true, lengths: [4, 2] });
  });

  it('equals the naive formula (N separate attentions summed) on random input, forward and every gradient', () => {
    for (const c of [
      { B: 5, Lq: 2, L: 37, H: 2, dh: 16, N: 4, G: 2, gk: true, lengths: [37, 0, 12, 1, 30], scale: 2 },
      { B: 4, Lq: 1, L: 70, H: 4, dh: 8, N: 3, G: 1, gk: true, mask: Array.from({ length: 280 }, (_, i) => (i % 7 === 3 ? 0 : 1)) },
      { B: 3, Lq: 40, L: 20, H: 1, dh: 64, N: 1, G: 0, gk: false },
    ] as Cfg[]) {
      const data = inputs(c);
      const r = Float32Array.from(rand(rng, c.B * (c.Lq || 1) * D(c)));
      const run = (f: typeof posoAttention) => {
        const ts = data.map((i) => tensor(Float32Array.from(i.data), { shape: i.shape, requiresGrad: true }));
        const [q, k, v, gk, gv] = unpack(c, ts);
        const y = f(q, k, v, options(c, gk, gv));
        y.backward(tensor(r, { shape: y.shape }));
        return { y: Float64Array.from(y.values()), grads: ts.map((t) => Float64Array.from(t.grad!.values())) };
      };
      const fused = run(posoAttention);
      const naive = run(posoAttentionReference);
      const what = `B${c.B} Lq${c.Lq} L${c.L} H${c.H} dh${c.dh} N${c.N}`;
      expectAllClose(fused.y, naive.y, { atol: 1e-5, rtol: 1e-4 }, `${what}: out`);
      naive.grads.forEach((g, i) => expectAllClose(fused.grads[i], g, { atol: 1e-5, rtol: 1e-3 }, `${what}: gradient of input ${i}`));
    }
  });

  it('padded keys have no effect on the output or the other gradients, and get zero gradients', () => {
    const c: Cfg = { B: 3, Lq: 2, L: 9, H: 2, dh: 4, N: 2, G: 2, gk: true, lengths: [4, 9, 0] };
    const base = inputs(c);
    const r = Float32Array.from(rand(rng, c.B * c.Lq * D(c)));
    const run = (data: GradcheckInput[], o: (gk: Tensor | null, gv: Tensor | null) => PosoAttentionOptions) => {
      const ts = data.map((i) => tensor(Float32Array.from(i.data), { shape: i.shape, requiresGrad: true }));
      const [q, k, v, gk, gv] = unpack(c, ts);
      const y = posoAttention(q, k, v, o(gk, gv));
      y.backward(tensor(r, { shape: y.shape }));
      return { y: Float32Array.from(y.values()), grads: ts.map((t) => Float32Array.from(t.grad!.values())) };
    };
    const a = run(base, (gk, gv) => options(c, gk, gv));
    // Scramble k and v at every padded position: nothing may change.
    const scrambled = base.map((inp, i) => {
      if (i !== 1 && i !== 2) return inp;
      const width = inp.shape[2];
      const data = Float64Array.from(inp.data);
      for (let b = 0; b < c.B; ++b)
        for (let l = c.lengths![b]; l < c.L; ++l)
          for (let j = 0; j < width; ++j) data[(b * c.L + l) * width + j] = 100 * (rng.uniform() - 0.5);
      return { ...inp, data };
    });
    const b = run(scrambled, (gk, gv) => options(c, gk, gv));
    expect(b.y).toEqual(a.y);
    for (const i of [0, 3, 4]) expect(b.grads[i]).toEqual(a.grads[i]);
    for (const i of [1, 2]) {
      const width = base[i].shape[2];
      for (let s = 0; s < c.B; ++s)
        for (let l = 0; l < c.L; ++l) {
          const row = a.grads[i].subarray((s * c.L + l) * width, (s * c.L + l + 1) * width);
          if (l >= c.lengths![s]) expect(Array.from(row).every((x) => x === 0)).toBe(true);
          else expect(b.grads[i].subarray((s * c.L + l) * width, (s * c.L + l + 1) * width)).toEqual(row);
        }
    }
    // The sample without keys: zero output, zero gradients for its q and gates.
    const rows = c.Lq * D(c);
    expect(Array.from(a.y.subarray(2 * rows, 3 * rows)).every((x) => x === 0)).toBe(true);
    expect(Array.from(a.grads[0].subarray(2 * rows, 3 * rows)).every((x) => x === 0)).toBe(true);
    // The same lengths as a prefix mask give the same values.
    const mask = Array.from({ length: c.B * c.L }, (_, i) => (i % c.L < c.lengths![Math.floor(i / c.L)] ? 1 : 0));
    const m = run(base, (gk, gv) => options({ ...c, lengths: undefined, mask }, gk, gv));
    expectAllClose(m.y, a.y, { atol: 0, rtol: 1e-6 }, 'mask vs lengths: out');
    m.grads.forEach((g, i) => expectAllClose(g, a.grads[i], { atol: 1e-7, rtol: 1e-5 }, `mask vs lengths: gradient ${i}`));
  });

  it('lengths equal to a shorter sequence give the same output as that sequence', () => {
    const c: Cfg = { B: 2, Lq: 1, L: 12, H: 2, dh: 8, N: 3, G: 1, gk: true };
    const [q, k, v, gk, gv] = unpack(c, inputs(c).map((i) => tensor(Float32Array.from(i.data), { shape: i.shape })));
    const full = posoAttention(q, k, v, { ...options(c, gk, gv), lengths: [7, 7] });
    const cut = (t: Tensor) => tensor(Float32Array.from(t.values()).filter((_, i) => Math.floor(i / t.shape[2]) % c.L < 7), { shape: [c.B, 7, t.shape[2]] });
    const short = posoAttention(q, cut(k), cut(v), options({ ...c, L: 7 }, gk, gv));
    expectAllClose(full.values(), short.values(), { atol: 1e-7, rtol: 1e-6 }, 'lengths 7 vs L = 7');
  });

  it('under noGrad: the same values and no graph', () => {
    const c: Cfg = { B: 3, Lq: 2, L: 6, H: 2, dh: 4, N: 2, G: 2, gk: true, lengths: [6, 2, 4] };
    const data = inputs(c);
    const ts = data.map((i) => tensor(Float32Array.from(i.data), { shape: i.shape, requiresGrad: true }));
    const [q, k, v, gk, gv] = unpack(c, ts);
    const y = noGrad(() => posoAttention(q, k, v, options(c, gk, gv)));
    expect(y.requiresGrad).toBe(false);
    const [qd, kd, vd, gkd, gvd] = unpack(c, data.map((i) => Float64Array.from(i.data)));
    expectAllClose(y.values(), ref(c, qd, kd, vd, gkd, gvd), { atol: 1e-5, rtol: 1e-5 }, 'noGrad');
  });

  it('refuses bad arguments, naming them', () => {
    const f = (shape: number[]) => tensor(new Float32Array(numel(shape)), { shape });
    const q = f([2, 1, 8]);
    const k = f([2, 5, 8]);
    const v = f([2, 5, 16]);
    const gv = f([2, 2]);
    expect(() => posoAttention(f([2, 1, 1, 8]), k, v)).toThrow('Expected a 2-D (batch, dim) or 3-D (batch, queries, dim) tensor for q but received shape [2,1,1,8]');
    expect(() => posoAttention(q, f([2, 5, 4]), v)).toThrow('Expected shape [2, keys, 8] for k but received [2,5,4]');
    expect(() => posoAttention(q, k, f([2, 5, 12]), { valueGate: gv })).toThrow('Expected shape [2, 5, folds·8] for v but received [2,5,12]');
    expect(() => posoAttention(q, k, v)).toThrow('for options.valueGate');
    expect(() => posoAttention(q, k, v, { valueGate: f([2, 3]) })).toThrow('Expected shape [2, 2] or [2, 2, 1] for options.valueGate but received [2,3]');
    expect(() => posoAttention(q, k, v, { valueGate: gv, heads: 3 })).toThrow("Expected options.heads to divide q's last dim 8 but received 3");
    expect(() => posoAttention(q, k, v, { valueGate: gv, keyGate: f([2, 4]) })).toThrow('Expected shape [2, 8] for options.keyGate but received [2,4]');
    expect(() => posoAttention(q, k, v, { valueGate: gv, lengths: [5, 6] })).toThrow('options.lengths[1]');
    expect(() => posoAttention(q, k, v, { valueGate: gv, lengths: [5] })).toThrow('Expected shape [2] for options.lengths but received [1]');
    expect(() => posoAttention(q, k, v, { valueGate: gv, mask: tensor(new Uint8Array(10), { shape: [2, 5] }), lengths: [1, 1] })).toThrow('options.lengths');
    expect(() => posoAttention(q, k, v, { valueGate: gv, mask: f([2, 5]) })).toThrow('for options.mask');
    expect(() => posoAttention(q, k, v, { valueGate: gv, scale: NaN })).toThrow('Expected a finite number for options.scale but received NaN of type number');
    expect(() => posoAttention(tensor(new Int32Array(16), { shape: [2, 1, 8] }), k, v)).toThrow('Expected a float32 tensor for q but received int32');
    expect(() => posoAttention(q, k, f([2, 5, 8 * 17]), { valueGate: f([2, 17]) })).toThrow('Expected at most 16 value folds but v holds 17');
  });
});

// ---- CUDA against the CPU twin

const DEV: Device = process.env.GATEWISE_PARITY_DEVICE === 'cpu' ? 'cpu' : 'cuda';
const enabled = DEV === 'cpu' || hasCuda();
if (!enabled) console.log('posoAttention CUDA parity tests skipped: ' + backend().cudaUnavailableReason);

describe.skipIf(!enabled)(`posoAttention: ${DEV} against the CPU twin`, () => {
  function parity(c: Cfg): void {
    const data = inputs(c);
    const r = Float32Array.from(rand(rng, c.B * (c.Lq || 1) * D(c)));
    const run = (device: Device) => {
      const ts = data.map((i) => tensor(Float32Array.from(i.data), { shape: i.shape, device, requiresGrad: true }));
      const [q, k, v, gk, gv] = unpack(c, ts);
      if (device !== 'cpu') poison([...data.map((i) => numel(i.shape)), r.length, 4 * r.length], device);
      const y = posoAttention(q, k, v, options(c, gk, gv, device));
      const values = Float64Array.from(y.toArraySync() as Float32Array);
      if (device !== 'cpu') poison(data.map((i) => numel(i.shape)), device);
      y.backward(tensor(r, { shape: y.shape, device }));
      return { values, grads: ts.map((t) => Float64Array.from(t.grad!.toArraySync() as Float32Array)) };
    };
    const cpu = run('cpu');
    const dev = run(DEV);
    const what = `posoAttention B${c.B} Lq${c.Lq} L${c.L} H${c.H} dh${c.dh} N${c.N} G${c.G}`;
    expectAllClose(dev.values, cpu.values, { atol: 2e-5, rtol: 1e-4 }, `${what}: out`);
    cpu.grads.forEach((g, i) => expectAllClose(dev.grads[i], g, { atol: 1e-4, rtol: 1e-3 }, `${what}: gradient of input ${i}`));
  }

  it('target attention and many queries; lengths and masks; head dims 16–128; per-head and shared gates', () => {
    const lengths = (B: number, L: number) => Array.from({ length: B }, (_, b) => (b === 1 ? 0 : (b * 37) % (L + 1)));
    parity({ B: 64, Lq: 0, L: 200, H: 4, dh: 16, N: 4, G: 4, gk: true, lengths: lengths(64, 200) });
    parity({ B: 16, Lq: 1, L: 1000, H: 2, dh: 64, N: 4, G: 1, gk: true, lengths: lengths(16, 1000) });
    parity({ B: 8, Lq: 50, L: 50, H: 2, dh: 32, N: 2, G: 2, gk: false, mask: Array.from({ length: 400 }, (_, i) => (i % 5 === 2 ? 0 : 1)) });
    parity({ B: 4, Lq: 3, L: 77, H: 1, dh: 128, N: 1, G: 0, gk: true });
  });
});
