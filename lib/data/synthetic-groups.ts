/**
 * A synthetic click data set with an imbalanced user group, for showing "submergence of
 * personalization": a small group (e.g. 5% "new users") whose clicks follow a different
 * function of the same features than the majority's.
 *
 * Each sample has `dense` features x ~ N(0, I), an `item` id (Zipf-distributed popularity)
 * and a group g ∈ {0 majority, 1 minority}. Its click probability is σ(f_g(x, item)):
 *   f_g = s · (α_g · tanh(R·x) + β_g[item]) + b_g
 * R (hidden × dense) is shared by both groups: they see the same features. The groups
 * differ in how they weigh them: α_1 = ρ·α_0 + √(1−ρ²)·α⊥ and β_1 = ρ·β_0 + √(1−ρ²)·β⊥,
 * with ρ = `similarity` (0: unrelated tastes; negative: opposite ones). Everything is drawn
 * from `seed`, so a seed gives the same data on every machine.
 */
import { Rng } from '../random';
import { checkInt, checkNumber, checkOptions, checkRange } from '../validate';

/** Options of {@link syntheticGroups}. */
export interface SyntheticGroupsOptions {
  /** Number of samples. */
  samples: number;
  /** Share of the minority group (default 0.05). */
  minorityShare?: number;
  /** Dense features per sample (default 16). */
  dense?: number;
  /** Hidden non-linear features of the true click function (default 16). */
  hidden?: number;
  /** Distinct items (default 200). */
  items?: number;
  /** ρ, the correlation between the groups' weights (default 0). */
  similarity?: number;
  /** s, the logits' scale: larger is less noisy labels (default 2). */
  signal?: number;
  /** Seed of the whole generator (the true function and the samples). */
  seed?: number;
  /** Seed of the samples only (default: seed); the true function stays that of `seed`. */
  sampleSeed?: number;
}

/** What {@link syntheticGroups} returns: the samples' features, items, groups and clicks. */
export interface SyntheticGroups {
  /** Number of samples n. */
  samples: number;
  /** Dense features per sample d. */
  denseFeatures: number;
  /** Distinct items. */
  items: number;
  /** (n × d) row-major. */
  dense: Float32Array;
  /** (n) item ids in [0, items). */
  item: Int32Array;
  /** (n) 0 = majority, 1 = minority. */
  group: Uint8Array;
  /** (n) 0/1 clicks. */
  label: Float32Array;
  /** (n) the true click probability σ(f_g). */
  probability: Float32Array;
}

/** Draws the data set (see the file comment). */
export function syntheticGroups(options: SyntheticGroupsOptions): SyntheticGroups {
  const o = checkOptions(options, 'options');
  const n = checkInt(o.samples, 'options.samples', 1);
  const share = checkRange(o.minorityShare ?? 0.05, 'options.minorityShare', 0, 1);
  const d = checkInt(o.dense ?? 16, 'options.dense', 1);
  const h = checkInt(o.hidden ?? 16, 'options.hidden', 1);
  const items = checkInt(o.items ?? 200, 'options.items', 1);
  const rho = checkRange(o.similarity ?? 0, 'options.similarity', -1, 1);
  const s = checkNumber(o.signal ?? 2, 'options.signal');
  const seed = checkInt(o.seed ?? 1, 'options.seed', 0);
  const fn = new Rng(seed);
  const normals = (k: number, scale = 1) => Float64Array.from({ length: k }, () => fn.normal() * scale);
  const mix = (a: Float64Array, b: Float64Array) => a.map((v, i) => rho * v + Math.sqrt(1 - rho * rho) * b[i]);
  const r = normals(h * d, 1 / Math.sqrt(d) * 2);
  const alpha0 = normals(h, 1 / Math.sqrt(h) * 1.5);
  const alpha1 = mix(alpha0, normals(h, 1 / Math.sqrt(h) * 1.5));
  const beta0 = normals(items);
  const beta1 = mix(beta0, normals(items));
  const bias = [fn.normal() * 0.5 - 0.5, fn.normal() * 0.5 - 0.5];
  // Zipf(1) item popularity: cumulative weights for inverse-CDF draws.
  const cdf = new Float64Array(items);
  for (let i = 0, acc = 0; i < items; ++i) cdf[i] = acc += 1 / (i + 1);
  const total = cdf[items - 1];

  const rng = new Rng(checkInt(o.sampleSeed ?? seed + 0x9e37, 'options.sampleSeed', 0));
  const out: SyntheticGroups = {
    samples: n,
    denseFeatures: d,
    items,
    dense: new Float32Array(n * d),
    item: new Int32Array(n),
    group: new Uint8Array(n),
    label: new Float32Array(n),
    probability: new Float32Array(n),
  };
  const x = new Float64Array(d);
  for (let i = 0; i < n; ++i) {
    for (let k = 0; k < d; ++k) out.dense[i * d + k] = x[k] = Math.fround(rng.normal());
    const u = rng.uniform() * total;
    let lo = 0;
    for (let hi = items - 1; lo < hi; ) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    const g = rng.uniform() < share ? 1 : 0;
    const alpha = g ? alpha1 : alpha0;
    let f = (g ? beta1 : beta0)[lo];
    for (let j = 0; j < h; ++j) {
      let z = 0;
      for (let k = 0; k < d; ++k) z += r[j * d + k] * x[k];
      f += alpha[j] * Math.tanh(z);
    }
    const p = 1 / (1 + Math.exp(-(s * f + bias[g])));
    out.item[i] = lo;
    out.group[i] = g;
    out.probability[i] = p;
    out.label[i] = rng.uniform() < p ? 1 : 0;
  }
  return out;
}
