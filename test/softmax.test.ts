import { describe, expect, it } from 'vitest';
import { countNonFinite, logSoftmax, Rng, ShapeError, softmax, tensor, DTypeError, setBackend } from '../lib';
import { gradcheck, input, numel } from './gradcheck';

// These are CPU checks (float64 references, host memory statistics, the CPU table's export);
// they pin the CPU backend so that a machine whose default is CUDA runs them unchanged.
setBackend('cpu');

const rng = new Rng(51);

/**
 * Reference (log-)softmax over the last dim: z = scale·x where mask ≠ 0, excluded elsewhere;
 * excluded entries give 0 (softmax) or −∞ (log); a fully excluded row likewise.
 */
function softmaxRef(x: Float64Array, shape: readonly number[], scale: number, log: boolean, mask: Uint8Array | null = null): Float64Array {
  const cols = shape[shape.length - 1];
  const rows = cols === 0 ? 0 : x.length / cols;
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; ++r) {
    const keep = (j: number) => !mask || mask[mask.length === cols ? j : r * cols + j] !== 0;
    let m = -Infinity;
    for (let j = 0; j < cols; ++j) if (keep(j)) m = Math.max(m, scale * x[r * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; ++j) if (keep(j)) s += Math.exp(scale * x[r * cols + j] - m);
    for (let j = 0; j < cols; ++j) {
      const z = scale * x[r * cols + j];
      if (!keep(j) || s === 0) out[r * cols + j] = log ? -Infinity : 0;
      else out[r * cols + j] = log ? z - m - Math.log(s) : Math.exp(z - m) / s;
    }
  }
  return out;
}

/** A random 0/1 mask with roughly `keep` of its entries 1. */
const randMask = (n: number, keep = 0.7) => Uint8Array.from({ length: n }, () => (rng.uniform() < keep ? 1 : 0));

const SHAPES = [[1], [7], [4, 5], [3, 1], [2, 3, 9], [2, 64], [3, 1025]];
const SCALES = [1, 0.5, 2.5, -1, 1 / Math.sqrt(8)];

describe('softmax and logSoftmax (gradcheck)', () => {
  for (const log of [false, true]) {
    const fn = log ? 'logSoftmax' : 'softmax';
    it(`${fn} with scales ${SCALES.map((s) => s.toFixed(3)).join(', ')}`, () => {
      for (const s of SHAPES) {
        for (const scale of numel(s) > 1000 ? SCALES.slice(0, 2) : SCALES) {
          const sc = Math.fround(scale);
          gradcheck({
            name: `${fn}(scale ${scale}) [${s}]`,
            inputs: [input(rng, s, { lo: -3, hi: 3, minAbs: 0 })],
            op: ([x]) => (log ? logSoftmax(x, { scale }) : softmax(x, { scale })),
            ref: ([x]) => softmaxRef(x, s, sc, log),
            outShape: s,
          });
        }
      }
    });

    it(`${fn} with a full-shape mask`, () => {
      for (const s of [[4, 5], [2, 3, 9], [3, 1025]]) {
        const m = randMask(numel(s));
        // keep one entry per row so no row is fully masked here
        for (let r = 0; r < numel(s) / s[s.length - 1]; ++r) m[r * s[s.length - 1] + (r % s[s.length - 1])] = 1;
        m[0] = 2; // any non-zero value keeps
        for (const scale of [1, 0.7]) {
          gradcheck({
            name: `${fn} mask [${s}] scale ${scale}`,
            inputs: [input(rng, s, { lo: -3, hi: 3, minAbs: 0 })],
            op: ([x]) => softmax(x, { mask: tensor(m, { shape: s }), scale, log }),
            ref: ([x]) => softmaxRef(x, s, Math.fround(scale), log, m),
          });
        }
      }
    });

    it(`${fn} with a (cols) mask shared by every row`, () => {
      for (const s of [[6], [4, 5], [2, 3, 9], [3, 1025]]) {
        const cols = s[s.length - 1];
        const m = randMask(cols, 0.6);
        m[cols - 1] = 1;
        gradcheck({
          name: `${fn} cols mask [${s}]`,
          inputs: [input(rng, s, { lo: -3, hi: 3, minAbs: 0 })],
          op: ([x]) => softmax(x, { mask: tensor(m), scale: 1.5, log }),
          ref: ([x]) => softmaxRef(x, s, 1.5, log, m),
        });
      }
    });

    it(`${fn}: a fully masked row gives ${log ? '−∞' : 'zeros'} and zero, finite gradients`, () => {
      const s = [3, 4];
      const m = Uint8Array.from([1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0]);
      // the check with r = 0 on the −∞ entries (finite differences cannot see them)
      gradcheck({
        name: `${fn} with a fully masked row`,
        inputs: [input(rng, s, { lo: -2, hi: 2, minAbs: 0 })],
        op: ([x]) => softmax(x, { mask: tensor(m, { shape: s }), log }),
        ref: ([x]) => softmaxRef(x, s, 1, log, m),
      });
      // and an upstream gradient that is non-zero everywhere, also on excluded entries
      const x = tensor(input(rng, s).data as Float64Array, { shape: s, requiresGrad: true });
      const y = softmax(x, { mask: tensor(m, { shape: s }), log });
      const v = Array.from(y.toArraySync() as Float32Array);
      expect(v.slice(4, 8)).toEqual(log ? [-Infinity, -Infinity, -Infinity, -Infinity] : [0, 0, 0, 0]);
      expect(v.filter((_, i) => m[i] === 0).every((e) => e === (log ? -Infinity : 0))).toBe(true);
      expect(v.some(Number.isNaN)).toBe(false);
      y.backward(tensor(Float32Array.from({ length: 12 }, (_, i) => i - 5.5), { shape: s }));
      const g = x.grad!.toArraySync() as Float32Array;
      expect(countNonFinite(x.grad!)).toBe(0);
      expect(Array.from(g).filter((_, i) => m[i] === 0).every((e) => e === 0)).toBe(true);
      // the fully masked row gets no gradient at all
      expect(Array.from(g.slice(4, 8)).every((e) => e === 0)).toBe(true);
    });
  }

  it('stays finite for large logits and a scale that overflows naive exp', () => {
    const x = tensor([[1000, 0, -1000], [88, 89, 90]], { requiresGrad: true });
    const y = softmax(x, { scale: 2 });
    const v = Array.from(y.toArraySync() as Float32Array);
    expect(v.slice(0, 3)).toEqual([1, 0, 0]);
    const want = softmaxRef(Float64Array.from([88, 89, 90]), [3], 2, false);
    v.slice(3).forEach((e, i) => expect(e).toBeCloseTo(want[i], 6));
    y.backward(tensor([[1, 2, 3], [1, 2, 3]]));
    expect(countNonFinite(x.grad!)).toBe(0);
    expect(Array.from(logSoftmax(tensor([[1000, 0]])).toArraySync() as Float32Array)).toEqual([0, -1000]);
  });

  it('each softmax row sums to 1 and exp(logSoftmax) = softmax', () => {
    const s = [5, 37];
    const x = tensor(input(rng, s, { lo: -4, hi: 4 }).data as Float64Array, { shape: s });
    const p = softmax(x).toArraySync() as Float32Array;
    const lp = logSoftmax(x).toArraySync() as Float32Array;
    for (let r = 0; r < 5; ++r) {
      let t = 0;
      for (let j = 0; j < 37; ++j) {
        t += p[r * 37 + j];
        expect(Math.abs(Math.exp(lp[r * 37 + j]) - p[r * 37 + j])).toBeLessThan(1e-6);
      }
      expect(Math.abs(t - 1)).toBeLessThan(1e-5);
    }
  });

  it('refuses bad masks and options, naming them', () => {
    const x = tensor(new Float32Array(12), { shape: [3, 4] });
    expect(() => softmax(x, { mask: tensor(new Uint8Array(3)) })).toThrow('Expected shape [3,4] or [4] for options.mask but received [3]');
    expect(() => softmax(x, { mask: tensor(new Uint8Array(8), { shape: [2, 4] }) })).toThrow(ShapeError);
    expect(() => softmax(x, { mask: tensor(new Float32Array(4)) })).toThrow(DTypeError);
    expect(() => softmax(x, { scale: NaN })).toThrow('Expected a finite number for options.scale but received NaN of type number');
    expect(() => logSoftmax(tensor(1))).toThrow('softmax needs at least one dimension');
  });
});
