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

/// Home slot of a key in an index of `slots` (a power of two) slots.
GW_HD int64_t home_slot(int64_t key, int64_t slots) {
  return static_cast<int64_t>(mix64(static_cast<uint64_t>(key)) & static_cast<uint64_t>(slots - 1));
}

/// Column of `key` in row d of the admission sketch (width a power of two).
GW_HD int64_t sketch_col(int64_t key, int32_t d, int64_t width) {
  const uint64_t h = mix64(static_cast<uint64_t>(key) ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(d + 1)));
  return static_cast<int64_t>(h & static_cast<uint64_t>(width - 1));
}

/// Keys as unsigned numbers in the same order as the signed ones (for radix sorts).
GW_HD uint64_t key_order(int64_t key) { return static_cast<uint64_t>(key) ^ 0x8000000000000000ull; }

/// Whether rows can expire at all (else no lookup needs to read their metadata).
GW_HD bool has_ttl(const PolicyParams& p) { return p.ttl_steps > 0 || p.ttl_seconds > 0; }

GW_HD bool is_expired(const PolicyParams& p, const Clock& c, int64_t last_step, double last_time) {
  return (p.ttl_steps > 0 && c.step - last_step > p.ttl_steps) ||
         (p.ttl_seconds > 0 && c.now - last_time > p.ttl_seconds);
}

/// The feature score of a row at step `step`: score decays by 2^log2_decay per step since
/// last_step. After a lookup at step t with count n: score ← score · 2^(log2_decay·(t − last)) + n,
/// so score(t) = Σ over past lookups i of n_i · 2^(log2_decay·(t − t_i)): a frequency in which
/// each lookup's weight halves every −1/log2_decay steps (the half-life), so it weighs recency too.
GW_HD float decayed_score(float score, int64_t last_step, int64_t step, float log2_decay) {
  const int64_t age = step - last_step;
  return age <= 0 ? score : score * exp2f(log2_decay * static_cast<float>(age));
}

constexpr uint64_t kNotAVictim = ~0ull;

/// Eviction order of a row: lower goes first; ties are broken by key (the caller). Expired
/// rows come before every live one; then by policy: lru by last_step; lfu by freq, then
/// last_step; score by the decayed score at c.step, then last_step. Free rows and rows seen
/// at c.step are never victims.
GW_HD uint64_t victim_key(const TableView& t, int64_t row, const PolicyParams& p, const Clock& c) {
  const int64_t last = t.last_step[row];
  if (last == kFreeRow || last >= c.step) return kNotAVictim;
  const uint64_t step_bits = static_cast<uint64_t>(last) & 0x7fffffffull;  // 31 bits
  const uint64_t live_class = is_expired(p, c, last, t.last_time[row]) ? 0ull : 1ull << 62;
  uint64_t v;
  if (p.policy == EvictPolicy::kLru) {
    v = static_cast<uint64_t>(last) & ((1ull << 62) - 1);
  } else if (p.policy == EvictPolicy::kLfu) {
    const float f = fminf(t.freq[row], 2147483647.0f);  // 31 bits
    v = (static_cast<uint64_t>(f) << 31) | step_bits;
  } else {
    const float s = decayed_score(t.score[row], last, c.step, p.log2_decay);
    uint32_t bits;  // a non-negative float's bits order like the float: 31 bits
    memcpy(&bits, &s, 4);
    v = (static_cast<uint64_t>(bits & 0x7fffffffu) << 31) | step_bits;
  }
  return live_class | v;
}

/// A lookup of `row` with `count` occurrences at clock c.
GW_HD void touch_row(const TableView& t, int64_t row, float count, const PolicyParams& p, const Clock& c) {
  const int64_t last = t.last_step[row];
  t.score[row] = decayed_score(t.score[row], last, c.step, p.log2_decay) + count;
  t.freq[row] += count;
  t.last_step[row] = c.step > last ? c.step : last;
  t.last_time[row] = c.now;
}

/// Four initial values of a key, for columns 4q .. 4q+3: a pure function of (seed, key, q),
/// so a key gets the same start on every device and every time it is (re)inserted.
/// normal: Box–Muller on two pairs of uniforms; uniform: [−scale, scale).
GW_HD void init_quad(const InitParams& init, int64_t key, int64_t q, float out[4]) {
  if (init.kind == InitKind::kZeros) {
    out[0] = out[1] = out[2] = out[3] = 0.0f;
    return;
  }
  const uint64_t k = static_cast<uint64_t>(key);
  philox::U32x4 ctr{{static_cast<uint32_t>(q), static_cast<uint32_t>(q >> 32), static_cast<uint32_t>(k),
                     static_cast<uint32_t>(k >> 32)}};
  const philox::U32x4 r = philox::philox4x32_10(ctr, static_cast<uint32_t>(init.seed),
                                                static_cast<uint32_t>(init.seed >> 32));
  if (init.kind == InitKind::kUniform) {
    for (int i = 0; i < 4; ++i) out[i] = (2.0f * philox::to_uniform(r.v[i]) - 1.0f) * init.scale;
    return;
  }
  for (int i = 0; i < 4; i += 2) {
    const float u1 = 1.0f - philox::to_uniform(r.v[i]);  // (0, 1]
    const float u2 = philox::to_uniform(r.v[i + 1]);
    const float rad = sqrtf(-2.0f * logf(u1)) * init.scale;
    const float th = 6.283185307179586f * u2;
    out[i] = rad * cosf(th);
    out[i + 1] = rad * sinf(th);
  }
}

/// Resets a row's metadata for `key` newly placed (or re-placed) at clock c.
GW_HD void reset_meta(const TableView& t, int64_t row, int64_t key, const Clock& c) {
  t.row_key[row] = key;
  t.last_step[row] = c.step;
  t.last_time[row] = c.now;
  t.changed_step[row] = c.step;
  t.update_count[row] = 0;
  t.freq[row] = 0.0f;
  t.score[row] = 0.0f;
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
GW_HD void init_row(const TableView& t, const InitParams& init, int64_t row, int64_t key, const Clock& c, int lane,
                    int size) {
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
  if (lane == 0) reset_meta(t, row, key, c);
}

/// Import: row r's metadata ← entry i of the given arrays (row_key is set on insertion).
GW_HD void copy_meta(const TableView& t, int64_t r, int64_t i, const int64_t* last_step, const double* last_time,
                     const int64_t* changed_step, const int32_t* update_count, const float* freq,
                     const float* score) {
  t.last_step[r] = last_step[i];
  t.last_time[r] = last_time[i];
  t.changed_step[r] = changed_step[i];
  t.update_count[r] = update_count[i];
  t.freq[r] = freq[i];
  t.score[r] = score[i];
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
