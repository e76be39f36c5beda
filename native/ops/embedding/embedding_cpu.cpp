// embedding — CPU twin and readable spec of the table phases (contract in embedding.h).
// Phases that decide (unique, find's admission, victim choice, insert order) run in one
// fixed order; the per-row work around them (probing, initialization, gathers, reductions,
// optimizer steps) runs on the thread pool, each row or position owned by one chunk.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "embedding.h"
#include "embedding_math.h"

namespace gw::cpu {
namespace {

constexpr int64_t kGrainKeys = 2048;  ///< keys or rows per parallel chunk
constexpr int64_t kGrainElems = 1 << 14;  ///< floats per parallel chunk

/// Rows-per-chunk grain for row-wise loops of `dim` floats.
int64_t row_grain(int64_t dim) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(dim, 1)); }

constexpr int64_t kPrefetch = 8;  ///< keys ahead whose home slot is prefetched

/// Starts loading the home slot of ukeys[u] when u < end: probes are cache misses, and
/// overlapping them is most of the speed of a lookup.
GW_ALWAYS_INLINE void prefetch_home(const TableView& t, const int64_t* ukeys, int64_t u, int64_t end) {
  if (u < end) __builtin_prefetch(&t.slot[emb::home_slot(ukeys[u], t.slots)]);
}

/// The slot of `key` in the index, or −1.
int64_t probe(const TableView& t, int64_t key) {
  const int64_t mask = t.slots - 1;
  for (int64_t s = emb::home_slot(key, t.slots), i = 0; i < t.slots; ++i, s = (s + 1) & mask) {
    const int32_t r = t.slot[s].row;
    if (r == kSlotEmpty) return -1;
    if (r >= 0 && t.slot[s].key == key) return s;
  }
  return -1;
}

/// Puts (key, row) in the first empty or tombstone slot from key's home. Returns whether it
/// took a tombstone.
bool place(const TableView& t, int64_t key, int32_t row) {
  const int64_t mask = t.slots - 1;
  for (int64_t s = emb::home_slot(key, t.slots);; s = (s + 1) & mask) {
    const int32_t r = t.slot[s].row;
    if (r == kSlotEmpty || r == kSlotTomb) {
      t.slot[s].row = row;
      t.slot[s].key = key;
      return r == kSlotTomb;
    }
  }
}

struct KeyPos {
  uint64_t k;  ///< emb::key_order of the key
  int32_t p;   ///< its position
};

/// Stable LSD radix sort by k, 11 bits a pass; passes where every k shares the digit are skipped.
void radix_sort(std::vector<KeyPos>& a) {
  constexpr int kBits = 11;
  constexpr size_t kBuckets = size_t{1} << kBits;
  std::vector<KeyPos> tmp(a.size());
  std::vector<size_t> count(kBuckets);
  for (int shift = 0; shift < 64; shift += kBits) {
    std::fill(count.begin(), count.end(), 0);
    for (const KeyPos& x : a) ++count[(x.k >> shift) & (kBuckets - 1)];
    if (std::find(count.begin(), count.end(), a.size()) != count.end()) continue;  // one digit: nothing moves
    size_t sum = 0;
    for (size_t& c : count) sum += std::exchange(c, sum);
    for (const KeyPos& x : a) tmp[count[(x.k >> shift) & (kBuckets - 1)]++] = x;
    a.swap(tmp);
  }
}

/// g[0..dim) += cf · src[0..dim)
GW_CPU_CLONES void axpy_row(float* GW_RESTRICT g, const float* GW_RESTRICT src, float cf, int64_t dim) {
  for (int64_t j = 0; j < dim; ++j) g[j] += cf * src[j];
}

/// One row's optimizer step from its reduced gradient g. `o` is a by-value copy, so each
/// case below compiles to its own vectorized loop.
GW_CPU_CLONES void update_row(const SparseOptParams o, float* GW_RESTRICT w, float* GW_RESTRICT st,
                              const float* GW_RESTRICT g, int64_t dim, float bc1, float bc2) {
  switch (o.kind) {
    case SparseOpt::kSgd:
      for (int64_t j = 0; j < dim; ++j) emb::sparse_update_elem(o, w, st, dim, j, g[j], bc1, bc2);
      break;
    case SparseOpt::kAdagrad:
      for (int64_t j = 0; j < dim; ++j) emb::sparse_update_elem(o, w, st, dim, j, g[j], bc1, bc2);
      break;
    case SparseOpt::kAdam:
      for (int64_t j = 0; j < dim; ++j) emb::sparse_update_elem(o, w, st, dim, j, g[j], bc1, bc2);
      break;
  }
}

}  // namespace

int64_t emb_unique(const int64_t* keys, int64_t n, int64_t* ukeys, int32_t* inverse, int32_t* perm,
                   int32_t* seg) {
  // (key order, position) pairs sorted by key with an LSD radix sort: stable, so positions
  // stay ascending within a key.
  std::vector<KeyPos> kp(static_cast<size_t>(n));
  for (int64_t p = 0; p < n; ++p) kp[p] = {emb::key_order(keys[p]), static_cast<int32_t>(p)};
  radix_sort(kp);
  int64_t u = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (i == 0 || kp[i].k != kp[i - 1].k) {
      ++u;
      ukeys[u] = keys[kp[i].p];
      seg[u] = static_cast<int32_t>(i);
    }
    perm[i] = kp[i].p;
    inverse[kp[i].p] = static_cast<int32_t>(u);
  }
  seg[u + 1] = static_cast<int32_t>(n);
  return u + 1;
}

int64_t emb_find(const TableView& t, const int64_t* ukeys, const int32_t* seg, int64_t U, int64_t admit_after,
                 bool train, const PolicyParams& p, const Clock& c, int32_t* urow, uint8_t* status) {
  const bool ttl = emb::has_ttl(p);
  parallel_for(0, U, kGrainKeys, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < lo + kPrefetch; ++u) prefetch_home(t, ukeys, u, hi);
    for (int64_t u = lo; u < hi; ++u) {
      prefetch_home(t, ukeys, u + kPrefetch, hi);
      const int64_t s = probe(t, ukeys[u]);
      const int32_t r = s >= 0 ? t.slot[s].row : -1;
      const bool expired = r >= 0 && ttl && emb::is_expired(p, c, t.last_step[r], t.last_time[r]);
      if (!train) {
        urow[u] = r >= 0 && !expired ? r : -1;
        status[u] = urow[u] >= 0 ? kHit : kReject;
      } else {
        urow[u] = r;
        status[u] = r < 0 ? kNew : expired ? kReinit : kHit;
      }
    }
  });
  if (!train) return 0;
  const bool admission = admit_after > 1 && t.sketch != nullptr;
  if (admission) {
    // All adds, then all reads: a key's verdict counts every occurrence in this batch.
    for (int64_t u = 0; u < U; ++u) {
      if (status[u] != kNew) continue;
      const uint64_t cnt = static_cast<uint64_t>(seg[u + 1] - seg[u]);
      for (int32_t d = 0; d < t.sketch_depth; ++d) {
        uint32_t& x = t.sketch[d * t.sketch_width + emb::sketch_col(ukeys[u], d, t.sketch_width)];
        x = static_cast<uint32_t>(std::min<uint64_t>(0xffffffffull, x + cnt));
      }
    }
  }
  int64_t fresh = 0;
  for (int64_t u = 0; u < U; ++u) {
    if (status[u] != kNew) continue;
    if (admission) {
      uint32_t est = 0xffffffffu;
      for (int32_t d = 0; d < t.sketch_depth; ++d)
        est = std::min(est, t.sketch[d * t.sketch_width + emb::sketch_col(ukeys[u], d, t.sketch_width)]);
      if (est < static_cast<uint64_t>(admit_after)) {
        status[u] = kReject;
        continue;
      }
    }
    ++fresh;
  }
  return fresh;
}

void emb_touch(const TableView& t, const int32_t* urow, const uint8_t* status, const int32_t* seg, int64_t U,
               uint32_t mask, const PolicyParams& p, const Clock& c) {
  parallel_for(0, U, kGrainKeys, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u)
      if ((mask >> status[u] & 1u) && urow[u] >= 0)
        emb::touch_row(t, urow[u], static_cast<float>(seg[u + 1] - seg[u]), p, c);
  });
}

int64_t emb_select_victims(const TableView& t, const PolicyParams& p, const Clock& c, int64_t count,
                           int32_t* victims) {
  if (count <= 0) return 0;
  // Victim keys of every row, and their range among candidates.
  std::vector<uint64_t> vk(static_cast<size_t>(t.capacity));
  parallel_for(0, t.capacity, kGrainKeys, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) vk[r] = emb::victim_key(t, r, p, c);
  });
  uint64_t lo = emb::kNotAVictim, hi = 0;
  int64_t candidates = 0;
  for (uint64_t v : vk) {
    if (v == emb::kNotAVictim) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    ++candidates;
  }
  const int64_t k = std::min(count, candidates);
  if (k == 0) return 0;
  // Radix select: a histogram of (v − lo) >> shift over at most 2^16 buckets finds the
  // bucket holding the k-th smallest; rows below it are all victims, and that bucket's rows
  // are ordered by (victim key, key) to take the rest.
  int shift = 0;
  while (((hi - lo) >> shift) >= (uint64_t{1} << 16)) ++shift;
  std::vector<int64_t> hist((((hi - lo) >> shift) + 1), 0);
  for (uint64_t v : vk)
    if (v != emb::kNotAVictim) ++hist[(v - lo) >> shift];
  size_t boundary = 0;
  int64_t below = 0;
  while (below + hist[boundary] < k) below += hist[boundary++];
  struct Cand {
    uint64_t v, key;
    int32_t row;
    bool operator<(const Cand& o) const { return v != o.v ? v < o.v : key < o.key; }
  };
  std::vector<Cand> edge;
  int64_t out = 0;
  for (int64_t r = 0; r < t.capacity; ++r) {
    if (vk[r] == emb::kNotAVictim) continue;
    const size_t b = (vk[r] - lo) >> shift;
    if (b < boundary) victims[out++] = static_cast<int32_t>(r);
    else if (b == boundary) edge.push_back({vk[r], emb::key_order(t.row_key[r]), static_cast<int32_t>(r)});
  }
  const auto take = static_cast<std::ptrdiff_t>(k - out);
  std::nth_element(edge.begin(), edge.begin() + take - 1, edge.end());
  for (std::ptrdiff_t i = 0; i < take; ++i) victims[out++] = edge[i].row;
  return k;
}

int64_t emb_sweep(const TableView& t, const PolicyParams& p, const Clock& c, bool expired, int32_t min_updates,
                  int32_t* victims) {
  int64_t n = 0;
  for (int64_t r = 0; r < t.capacity; ++r) {
    if (t.last_step[r] == kFreeRow) continue;
    if ((expired && emb::is_expired(p, c, t.last_step[r], t.last_time[r])) ||
        (min_updates > 0 && t.update_count[r] < min_updates))
      victims[n++] = static_cast<int32_t>(r);
  }
  return n;
}

void emb_remove(const TableView& t, const int32_t* rows, int64_t n, int64_t free_top) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t r = rows[i];
    const int64_t s = probe(t, t.row_key[r]);
    if (s >= 0) t.slot[s].row = kSlotTomb;
    t.last_step[r] = kFreeRow;
    t.free_rows[free_top + i] = r;
  }
}

int64_t emb_insert(const TableView& t, const int64_t* ukeys, int64_t U, uint8_t* status, int32_t* urow,
                   int64_t free_top, int64_t avail, const InitParams& init, const Clock& c,
                   int64_t* tombs_reused) {
  int64_t inserted = 0, tombs = 0;
  for (int64_t u = 0; u < U; ++u) {
    if (status[u] != kNew) continue;
    if (inserted == avail) {
      status[u] = kDropped;
      continue;
    }
    const int32_t r = t.free_rows[free_top - 1 - inserted++];
    tombs += place(t, ukeys[u], r);
    urow[u] = r;
  }
  parallel_for(0, U, row_grain(t.dim + t.state_width), [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u)
      if (status[u] == kNew || status[u] == kReinit) emb::init_row(t, init, urow[u], ukeys[u], c, 0, 1);
  });
  *tombs_reused = tombs;
  return inserted;
}

void emb_rehash(const TableView& t) {
  std::memset(static_cast<void*>(t.slot), 0xff, t.slots * sizeof(Slot));  // every row kSlotEmpty (−1)
  for (int64_t r = 0; r < t.capacity; ++r)
    if (t.last_step[r] != kFreeRow) place(t, t.row_key[r], static_cast<int32_t>(r));
}

void emb_gather(const float* weight, int64_t dim, const int32_t* urow, const int32_t* inverse, int64_t n,
                const float* default_row, float* out) {
  parallel_for(0, n, row_grain(dim), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      if (p + kPrefetch < hi) {
        const int32_t r = urow[inverse[p + kPrefetch]];
        if (r >= 0) __builtin_prefetch(weight + static_cast<int64_t>(r) * dim);
      }
      const float* GW_RESTRICT src = emb::row_of(weight, dim, urow, inverse, p, default_row);
      float* GW_RESTRICT dst = out + p * dim;
      for (int64_t j = 0; j < dim; ++j) dst[j] = src ? src[j] : 0.0f;
    }
  });
}

void emb_bag_forward(const float* weight, int64_t dim, const int32_t* urow, const int32_t* inverse, int64_t n,
                     const int64_t* offsets, int64_t bags, const float* pos_weight, bool mean,
                     const float* default_row, float* out) {
  parallel_for(0, bags, std::max<int64_t>(1, row_grain(dim) / 8), [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      float* dst = out + b * dim;
      std::fill(dst, dst + dim, 0.0f);
      const int64_t begin = offsets[b], end = begin + emb::bag_len(offsets, bags, n, b);
      for (int64_t p = begin; p < end; ++p) {
        const float* src = emb::row_of(weight, dim, urow, inverse, p, default_row);
        if (!src) continue;
        const float w = pos_weight ? pos_weight[p] : 1.0f;
        for (int64_t j = 0; j < dim; ++j) dst[j] += w * src[j];
      }
      if (mean && end > begin) {
        const float inv = 1.0f / static_cast<float>(end - begin);
        for (int64_t j = 0; j < dim; ++j) dst[j] *= inv;
      }
    }
  });
}

void emb_bag_backward(const float* gout, int64_t dim, const int32_t* perm, const int32_t* seg, int64_t U, int64_t n,
                      const int64_t* offsets, int64_t bags, const float* pos_weight, bool mean, float* grad_unique,
                      const float* weight, const int32_t* urow, const int32_t* inverse, const float* default_row,
                      float* grad_pos_weight) {
  // bag(p) of position p, and the pooling's scale there (1 / len under mean, else 1).
  auto bag_scale = [&](int64_t p, int64_t* bag) {
    if (!offsets) {
      *bag = p;
      return 1.0f;
    }
    *bag = emb::bag_of(offsets, bags, p);
    return mean ? 1.0f / static_cast<float>(emb::bag_len(offsets, bags, n, *bag)) : 1.0f;
  };
  parallel_for(0, U, row_grain(dim), [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      float* g = grad_unique + u * dim;
      std::fill(g, g + dim, 0.0f);
      for (int32_t i = seg[u]; i < seg[u + 1]; ++i) {
        int64_t b;
        const int64_t p = perm[i];
        const float cf = bag_scale(p, &b) * (pos_weight ? pos_weight[p] : 1.0f);
        axpy_row(g, gout + b * dim, cf, dim);
      }
    }
  });
  if (!grad_pos_weight) return;
  parallel_for(0, n, row_grain(dim), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      int64_t b;
      const float scale = bag_scale(p, &b);
      const float* row = emb::row_of(weight, dim, urow, inverse, p, default_row);
      float dot = 0.0f;
      if (row)
        for (int64_t j = 0; j < dim; ++j) dot += gout[b * dim + j] * row[j];
      grad_pos_weight[p] = dot * scale;
    }
  });
}

void emb_sparse_update(const TableView& t, const SparseOptParams& o, int64_t step, const int32_t* rows,
                       const int64_t* keys, const float* grads, const int32_t* perm, const int32_t* seg,
                       int64_t nseg) {
  const int64_t dim = t.dim;
  auto row_of_group = [&](int64_t s) { return rows[perm ? perm[seg[s]] : s]; };
  parallel_for(0, nseg, row_grain(dim), [&](int64_t lo, int64_t hi) {
    std::vector<float> g(static_cast<size_t>(dim));
    for (int64_t s = lo; s < hi; ++s) {
      if (s + kPrefetch < hi) {  // the rows are scattered: start loading a later group's
        const int32_t ahead = row_of_group(s + kPrefetch);
        if (ahead >= 0) {
          __builtin_prefetch(t.weight + static_cast<int64_t>(ahead) * dim, 1);
          if (t.state) __builtin_prefetch(t.state + static_cast<int64_t>(ahead) * t.state_width, 1);
        }
      }
      const int64_t first = perm ? seg[s] : s, last = perm ? seg[s + 1] : s + 1;
      const int64_t j0 = perm ? perm[first] : first;
      const int32_t r = rows[j0];
      if (r < 0 || t.last_step[r] == kFreeRow || t.row_key[r] != keys[j0]) continue;
      std::fill(g.begin(), g.end(), 0.0f);
      for (int64_t i = first; i < last; ++i) axpy_row(g.data(), grads + (perm ? perm[i] : i) * dim, 1.0f, dim);
      float bc1 = 1.0f, bc2 = 1.0f;
      if (o.kind == SparseOpt::kAdam) emb::adam_corrections(o, t.update_count[r], &bc1, &bc2);
      float* w = t.weight + static_cast<int64_t>(r) * dim;
      float* st = t.state ? t.state + static_cast<int64_t>(r) * t.state_width : nullptr;
      update_row(o, w, st, g.data(), dim, bc1, bc2);
      t.update_count[r] += 1;
      t.changed_step[r] = step;
    }
  });
}

void emb_write_rows(const TableView& t, const int32_t* rows, int64_t n, const float* weight, const float* state,
                    const int64_t* last_step, const double* last_time, const int64_t* changed_step,
                    const int32_t* update_count, const float* freq, const float* score) {
  parallel_for(0, n, row_grain(t.dim + t.state_width), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t r = rows[i];
      std::memcpy(t.weight + r * t.dim, weight + i * t.dim, t.dim * sizeof(float));
      if (t.state_width)
        std::memcpy(t.state + r * t.state_width, state + i * t.state_width, t.state_width * sizeof(float));
      emb::copy_meta(t, r, i, last_step, last_time, changed_step, update_count, freq, score);
    }
  });
}

}  // namespace gw::cpu
