/**
 * The float64 reference of POSO attention for the tests: out = C·Σ_i g_i·softmax(σ·q(gk⊙k)ᵀ)·V⁽ⁱ⁾
 * per head over the valid keys, written directly from the formula (no shared code with the op).
 */
export interface AttentionCfg {
  B: number;
  Lq: number; // 0: q is 2-D (B, D)
  L: number;
  H: number;
  dh: number;
  N: number;
  G: number; // 0: no fold gates; 1: (B, N); H: (B, N, H)
  gk: boolean;
  lengths?: number[];
  mask?: number[]; // (B·L) 0/1
  scale?: number;
}

export const D = (c: AttentionCfg) => c.H * c.dh;
export const qShape = (c: AttentionCfg) => (c.Lq ? [c.B, c.Lq, D(c)] : [c.B, D(c)]);
export const gvShape = (c: AttentionCfg) => (c.G === 1 ? [c.B, c.N] : [c.B, c.N, c.G]);

function valid(c: AttentionCfg, b: number, l: number): boolean {
  if (c.lengths) return l < c.lengths[b];
  if (c.mask) return c.mask[b * c.L + l] !== 0;
  return true;
}

/** out in float64: C·Σ_i g_i·softmax(σ·q(gk⊙k)ᵀ)·V⁽ⁱ⁾ per head, 0 for rows without valid keys. */
export function attentionRef(c: AttentionCfg, q: Float64Array, k: Float64Array, v: Float64Array, gk: Float64Array | null, gv: Float64Array | null): Float64Array {
  const Dm = D(c);
  const Lq = c.Lq || 1;
  const sig = Math.fround(1 / Math.sqrt(c.dh));
  const out = new Float64Array(c.B * Lq * Dm);
  for (let b = 0; b < c.B; ++b)
    for (let h = 0; h < c.H; ++h)
      for (let qi = 0; qi < Lq; ++qi) {
        const s: number[] = [];
        let m = -Infinity;
        for (let l = 0; l < c.L; ++l) {
          let x = 0;
          for (let d = 0; d < c.dh; ++d) x += q[(b * Lq + qi) * Dm + h * c.dh + d] * (gk ? gk[b * Dm + h * c.dh + d] : 1) * k[(b * c.L + l) * Dm + h * c.dh + d];
          s.push(sig * x);
          if (valid(c, b, l)) m = Math.max(m, sig * x);
        }
        if (m === -Infinity) continue;
        let z = 0;
        const p = s.map((x, l) => (valid(c, b, l) ? Math.exp(x - m) : 0));
        p.forEach((x) => (z += x));
        for (let i = 0; i < c.N; ++i) {
          const g = gv ? gv[(b * c.N + i) * (c.G === c.H ? c.H : 1) + (c.G === c.H ? h : 0)] : 1;
          for (let d = 0; d < c.dh; ++d) {
            let o = 0;
            for (let l = 0; l < c.L; ++l) o += (p[l] / z) * v[((b * c.L + l) * c.N + i) * Dm + h * c.dh + d];
            out[(b * Lq + qi) * Dm + h * c.dh + d] += (c.scale ?? 1) * g * o;
          }
        }
      }
  return out;
}

