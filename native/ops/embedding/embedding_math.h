// embedding_math — the per-key and per-row formulas of the embedding table, one definition
// for the CPU twin and the CUDA kernels (GW_HD): hashing, the eviction order, the feature
// score, row initialization and the sparse optimizer step.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../../core/hd.h"
#include "../dropout/philox.h"
#include "embedding.h"

namespace gw::emb {

/// MurmurHash3's 64-bit finalizer: every key bit affects every hash bit.
GW_HD uint64_t mix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

/// The bucket of a key with hash h: the high 32 bits pick a slot in [0, capacity), and the key
/// lives in that slot's bucket, so each bucket draws keys in proportion to its slots (the last,
/// smaller one too).
GW_HD int64_t bucket_of(const TableView& t, uint64_t h) {
  return static_cast<int64_t>(((h >> 32) * static_cast<uint64_t>(t.capacity)) >> 32) / t.bucket_size;
}

/// A key's digest: 8 low bits of its hash, never kEmptySlot.
GW_HD uint8_t digest_of(uint64_t h) {
  const uint8_t d = static_cast<uint8_t>(h);
  return d == kEmptySlot ? uint8_t{1} : d;
}

/// The slots [*lo, *hi) of bucket b.
GW_HD void bucket_range(const TableView& t, int64_t b, int64_t* lo, int64_t* hi) {
  *lo = b * t.bucket_size;
  const int64_t end = *lo + t.bucket_size;
  *hi = end < t.capacity ? end : t.capacity;
}

/// Column of `key` in row d of the admission sketch (width a power of two).
GW_HD int64_t sketch_col(int64_t key, int32_t d, int64_t width) {
  const uint64_t h = mix64(static_cast<uint64_t>(key) ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(d + 1)));
  return static_cast<int64_t>(h & static_cast<uint64_t>(width - 1));
}

/// Keys as unsigned numbers in the same order as the signed ones (for radix sorts).
GW_HD uint64_t key_order(int64_t key) { return static_cast<uint64_t>(key) ^ 0x8000000000000000ull; }

/// A step as RowMeta keeps it.
GW_HD uint32_t step32(int64_t step) { return static_cast<uint32_t>(step); }

/// Steps since a RowMeta step (exact below 2^32).
GW_HD int64_t age_of(const Clock& c, uint32_t step) { return static_cast<int64_t>(step32(c.step) - step); }

/// Whether rows can expire at all (else no lookup needs to read their metadata).
GW_HD bool has_ttl(const PolicyParams& p) { return p.ttl_steps > 0 || p.ttl_seconds > 0; }

GW_HD bool is_expired(const PolicyParams& p, const Clock& c, const RowMeta& m) {
  return (p.ttl_steps > 0 && age_of(c, m.last_step) > p.ttl_steps) ||
         (p.ttl_seconds > 0 && c.now - m.last_time > p.ttl_seconds);
}

/// The feature score `age` steps after it was last updated: it decays by 2^log2_decay per step.
/// After a lookup at step t with count n: score ← score · 2^(log2_decay·(t − last)) + n, so
/// score(t) = Σ over past lookups i of n_i · 2^(log2_decay·(t − t_i)): a frequency in which each
/// lookup's weight halves every −1/log2_decay steps (the half-life), so it weighs recency too.
GW_HD float decayed_score(float score, int64_t age, float log2_decay) {
  return age <= 0 ? score : score * exp2f(log2_decay * static_cast<float>(age));
}

// ---- the eviction order

constexpr int kValueStepBits = 24;  ///< low bits of a slot's value: its last step, mod 2^24
constexpr uint64_t kValueStepMask = (uint64_t{1} << kValueStepBits) - 1;
constexpr uint64_t kValueMax = (uint64_t{1} << (64 - kValueStepBits)) - 1;  ///< 40 bits

/// A slot's eviction value, lower evicted first, from the row's state right after a lookup at
/// `last_step`: (policy value << 24) | (last_step mod 2^24), the policy value in 40 bits:
///   lru    last_step
///   lfu    floor(freq)
///   score  the top 40 of the 63 low bits of the double max(0, log2(score) − log2_decay·last_step):
///          the decayed score at any later step t is 2^(that − t/half-life), so this orders rows
///          as their decayed scores do, without rewriting any row as time passes.
/// The value does not change until the row is looked up again: a victim is chosen by reading
/// the bucket's values alone.
GW_HD uint64_t eviction_value(const PolicyParams& p, int64_t last_step, float freq, float score) {
  uint64_t v;
  if (p.policy == EvictPolicy::kLru) {
    v = static_cast<uint64_t>(last_step) & kValueMax;
  } else if (p.policy == EvictPolicy::kLfu) {
    v = freq >= static_cast<float>(kValueMax) ? kValueMax : freq > 0.0f ? static_cast<uint64_t>(freq) : 0;
  } else {
    double x = log2(static_cast<double>(score)) - static_cast<double>(p.log2_decay) * static_cast<double>(last_step);
    if (!(x > 0.0)) x = 0.0;  // also NaN, −inf (a zero score)
    uint64_t bits;
    memcpy(&bits, &x, 8);  // a non-negative double's bits order like the double
    v = bits >> (64 - 1 - 40);
  }
  return (v << kValueStepBits) | (static_cast<uint64_t>(last_step) & kValueStepMask);
}

/// A slot as a victim candidate. rank: kRankEmpty (an empty slot: taken first), kRankExpired,
/// kRankLive, or kRankNone (seen at the current step: never a victim).
enum : uint32_t { kRankEmpty = 0, kRankExpired = 1, kRankLive = 2, kRankNone = 3 };
struct Victim {
  uint32_t rank = kRankNone;
  uint64_t value = 0;
  int64_t slot = -1;
};

/// The slot as a candidate at clock c. Without expiry only the digest and the value are read
/// (the value's low bits say whether the row was seen at c.step, modulo 2^24 steps); with
/// expiry the row's metadata decides.
GW_HD Victim candidate(const TableView& t, int64_t slot, const PolicyParams& p, const Clock& c) {
  Victim v;
  v.slot = slot;
  if (t.digest[slot] == kEmptySlot) {
    v.rank = kRankEmpty;
    return v;
  }
  v.value = t.value[slot];
  if (has_ttl(p)) {
    const RowMeta& m = t.meta[slot];
    v.rank = m.last_step == step32(c.step) ? kRankNone : is_expired(p, c, m) ? kRankExpired : kRankLive;
  } else {
    v.rank = (v.value & kValueStepMask) == (static_cast<uint64_t>(c.step) & kValueStepMask) ? kRankNone : kRankLive;
  }
  return v;
}

/// The eviction order: by rank, then value, then slot. (Slots, not keys, break ties, so a
/// bucket's victim is found from its digests and values alone.)
GW_HD bool victim_less(const Victim& a, const Victim& b) {
  if (a.rank != b.rank) return a.rank < b.rank;
  if (a.rank != kRankEmpty && a.rank != kRankNone && a.value != b.value) return a.value < b.value;
  return a.slot < b.slot;
}

/// Whether slot r holds `key`.
GW_HD bool slot_holds(const TableView& t, int64_t r, int64_t key) {
  return t.digest[r] != kEmptySlot && t.meta[r].key == key;
}

/// A lookup of `row` with `count` occurrences at clock c.
GW_HD void touch_row(const TableView& t, int64_t row, float count, const PolicyParams& p, const Clock& c) {
  RowMeta& m = t.meta[row];
  m.score = decayed_score(m.score, age_of(c, m.last_step), p.log2_decay) + count;
  m.freq += count;
  m.last_step = step32(c.step);
  m.last_time = c.now;
  t.value[row] = eviction_value(p, c.step, m.freq, m.score);
}

/// ln x for x in (0, 1], within about 1e-7: x = m·2^e with m in [√½, √2), ln m = 2·atanh(t),
/// t = (m − 1)/(m + 1), |t| ≤ 0.172, by its series to t^9. Arithmetic only, so the CPU twin
/// and the CUDA kernels compute the same values, and a row's start costs no libm call.
GW_HD float init_log(float x) {
  uint32_t b;
  memcpy(&b, &x, 4);
  int e = static_cast<int>((b >> 23) & 255u) - 127;
  b = (b & 0x007fffffu) | 0x3f800000u;  // m in [1, 2)
  float m;
  memcpy(&m, &b, 4);
  const bool high = m > 1.41421356f;  // selects, not branches: the inputs are random
  m = high ? 0.5f * m : m;
  e += high;
  const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  const float series = t * (2.0f + t2 * (0.66666667f + t2 * (0.4f + t2 * (0.28571429f + t2 * 0.22222222f))));
  return series + static_cast<float>(e) * 0.69314718f;
}

/// sin and cos of 2π·u for u in [0, 1), within about 1e-7: the quadrant q = round(4u), then
/// Taylor series on x = 2π·(u − q/4) ∈ [−π/4, π/4], rotated by q quarter turns.
GW_HD void init_sincos_2pi(float u, float* s, float* c) {
  const int q = static_cast<int>(4.0f * u + 0.5f);
  const float x = (u - 0.25f * static_cast<float>(q)) * 6.28318531f, x2 = x * x;
  const float sn = x * (1.0f + x2 * (-1.6666667e-1f + x2 * (8.3333333e-3f + x2 * (-1.9841270e-4f + x2 * 2.7557319e-6f))));
  const float cs = 1.0f + x2 * (-0.5f + x2 * (4.1666667e-2f + x2 * (-1.3888889e-3f + x2 * 2.4801587e-5f)));
  // sin(x + q·π/2), cos(x + q·π/2): odd q swaps them; q = 2, 3 negate sin; q = 1, 2 negate cos.
  const bool swap = q & 1;
  const float a = swap ? cs : sn, b = swap ? sn : cs;
  *s = (q & 2) ? -a : a;
  *c = ((q + 1) & 2) ? -b : b;
}

/// Four initial values of a key, for columns 4q .. 4q+3: a pure function of (seed, key, q),
/// so a key gets the same start on every device and every time it is (re)inserted.
/// normal: Box–Muller on two pairs of uniforms; uniform: [−scale, scale).
/// The four Philox words behind columns 4q .. 4q+3 of a key's start.
GW_HD philox::U32x4 init_bits(const InitParams& init, int64_t key, int64_t q) {
  const uint64_t k = static_cast<uint64_t>(key);
  philox::U32x4 ctr{{static_cast<uint32_t>(q), static_cast<uint32_t>(q >> 32), static_cast<uint32_t>(k),
                     static_cast<uint32_t>(k >> 32)}};
  return philox::philox4x32_10(ctr, static_cast<uint32_t>(init.seed), static_cast<uint32_t>(init.seed >> 32));
}

/// A uniform start in [−scale, scale) from one word.
GW_HD float uniform_start(uint32_t bits, float scale) { return (2.0f * philox::to_uniform(bits) - 1.0f) * scale; }

/// Two normal starts (std scale) from two words by Box–Muller: r·cos θ and r·sin θ.
GW_HD void normal_pair(uint32_t a, uint32_t b, float scale, float* x, float* y) {
  const float u1 = 1.0f - philox::to_uniform(a);  // (0, 1]
  const float u2 = philox::to_uniform(b);
  const float rad = sqrtf(-2.0f * init_log(u1)) * scale;
  float sn, cs;
  init_sincos_2pi(u2, &sn, &cs);
  *x = rad * cs;
  *y = rad * sn;
}

GW_HD void init_quad(const InitParams& init, int64_t key, int64_t q, float out[4]) {
  if (init.kind == InitKind::kZeros) {
    out[0] = out[1] = out[2] = out[3] = 0.0f;
    return;
  }
  const philox::U32x4 r = init_bits(init, key, q);
  if (init.kind == InitKind::kUniform) {
    for (int i = 0; i < 4; ++i) out[i] = uniform_start(r.v[i], init.scale);
    return;
  }
  normal_pair(r.v[0], r.v[1], init.scale, &out[0], &out[1]);
  normal_pair(r.v[2], r.v[3], init.scale, &out[2], &out[3]);
}

/// Resets a row's metadata for `key` newly placed (or re-placed) at clock c and looked up
/// `count` times there: a fresh row, then touch_row (score = freq = count).
GW_HD void reset_meta(const TableView& t, const PolicyParams& p, int64_t row, int64_t key, float count,
                      const Clock& c) {
  RowMeta& m = t.meta[row];
  m.key = key;
  m.last_time = c.now;
  m.last_step = step32(c.step);
  m.changed_step = step32(c.step);
  m.freq = count;
  m.score = count;
  t.update_count[row] = 0;
  t.value[row] = eviction_value(p, c.step, count, count);
}

/// The row a lookup position p reads: its table row, else default_row (null: zeros).
GW_HD const float* row_of(const float* weight, int64_t dim, const int32_t* urow, const int32_t* inverse, int64_t p,
                          const float* default_row) {
  const int32_t r = urow[inverse[p]];
  return r >= 0 ? weight + static_cast<int64_t>(r) * dim : default_row;
}

/// The bag holding position p: the last b with offsets[b] ≤ p (offsets ascending from 0).
GW_HD int64_t bag_of(const int64_t* offsets, int64_t bags, int64_t p) {
  int64_t lo = 0, hi = bags;  // the first b with offsets[b] > p lies in [lo, hi]
  while (lo < hi) {
    const int64_t mid = (lo + hi) >> 1;
    if (offsets[mid] <= p) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/// Positions in bag b (the last bag runs to n).
GW_HD int64_t bag_len(const int64_t* offsets, int64_t bags, int64_t n, int64_t b) {
  return (b + 1 < bags ? offsets[b + 1] : n) - offsets[b];
}

/// Initializes a row for `key` at clock c, shared by `size` lanes (lane = 0..size−1; the CPU
/// passes 0, 1): weight from init_quad; state: AdaGrad's accumulator (state_width == dim)
/// starts at state_init, Adam's moments (state_width == 2·dim) at 0; metadata by reset_meta.
GW_HD void init_row(const TableView& t, const PolicyParams& p, const InitParams& init, int64_t row, int64_t key,
                    float count, const Clock& c, int lane, int size) {
  float* w = t.weight + row * t.dim;
  for (int64_t q = lane; q * 4 < t.dim; q += size) {
    float v[4];
    init_quad(init, key, q, v);
    for (int k = 0; k < 4 && q * 4 + k < t.dim; ++k) w[q * 4 + k] = v[k];
  }
  if (t.state_width > 0) {
    const float s0 = t.state_width == t.dim ? init.state_init : 0.0f;
    float* st = t.state + row * t.state_width;
    for (int64_t j = lane; j < t.state_width; j += size) st[j] = s0;
  }
  if (lane == 0) reset_meta(t, p, row, key, count, c);
}

/// Import: row r's metadata ← entry i of the given arrays (the key is set on insertion).
GW_HD void copy_meta(const TableView& t, const PolicyParams& p, int64_t r, int64_t i, const int64_t* last_step,
                     const double* last_time, const int64_t* changed_step, const int32_t* update_count,
                     const float* freq, const float* score) {
  RowMeta& m = t.meta[r];
  m.last_step = step32(last_step[i]);
  m.last_time = last_time[i];
  m.changed_step = step32(changed_step[i]);
  m.freq = freq[i];
  m.score = score[i];
  t.update_count[r] = update_count[i];
  t.value[r] = eviction_value(p, last_step[i], freq[i], score[i]);
}

/// One optimizer step of element j of a row, given its reduced gradient g.
///   sgd:     w ← w − lr·g
///   adagrad: a ← a + g²;  w ← w − lr·g / (√a + eps)                    (state: a)
///   adam:    m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  t = the row's update count + 1;
///            w ← w − lr·(m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + eps)          (state: m then v)
/// g includes weight_decay·w when weight_decay > 0. bc1 = 1−β1ᵗ and bc2 = 1−β2ᵗ come from the caller.
GW_HD void sparse_update_elem(const SparseOptParams& o, float* w, float* st, int64_t dim, int64_t j, float g,
                              float bc1, float bc2) {
  if (o.weight_decay != 0.0f) g += o.weight_decay * w[j];
  if (o.kind == SparseOpt::kSgd) {
    w[j] -= o.lr * g;
  } else if (o.kind == SparseOpt::kAdagrad) {
    const float a = st[j] + g * g;
    st[j] = a;
    w[j] -= o.lr * g / (sqrtf(a) + o.eps);
  } else {
    const float m = o.beta1 * st[j] + (1.0f - o.beta1) * g;
    const float v = o.beta2 * st[dim + j] + (1.0f - o.beta2) * g * g;
    st[j] = m;
    st[dim + j] = v;
    w[j] -= o.lr * (m / bc1) / (sqrtf(v / bc2) + o.eps);
  }
}

/// Adam's bias corrections for a row updated `count` times before this step.
GW_HD void adam_corrections(const SparseOptParams& o, int32_t count, float* bc1, float* bc2) {
  const float t = static_cast<float>(count + 1);
  *bc1 = 1.0f - powf(o.beta1, t);
  *bc2 = 1.0f - powf(o.beta2, t);
}

}  // namespace gw::emb
