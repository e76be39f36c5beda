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
#include "embedding.h"
#include "embedding_math.h"

namespace gw::cpu {
namespace {

constexpr int64_t kGrainKeys = 2048;  ///< keys or rows per parallel chunk
constexpr int64_t kGrainElems = 1 << 14;  ///< floats per parallel chunk

/// Rows-per-chunk grain for row-wise loops of `dim` floats.
int64_t row_grain(int64_t dim) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(dim, 1)); }

/// The slot of `key` in the index, or −1.
int64_t probe(const TableView& t, int64_t key) {
  const int64_t mask = t.slots - 1;
  for (int64_t s = emb::home_slot(key, t.slots), i = 0; i < t.slots; ++i, s = (s + 1) & mask) {
    const int32_t r = t.slot_row[s];
    if (r == kSlotEmpty) return -1;
    if (r >= 0 && t.slot_key[s] == key) return s;
  }
  return -1;
}

/// Puts (key, row) in the first empty or tombstone slot from key's home. Returns whether it
/// took a tombstone.
bool place(const TableView& t, int64_t key, int32_t row) {
  const int64_t mask = t.slots - 1;
  for (int64_t s = emb::home_slot(key, t.slots);; s = (s + 1) & mask) {
    const int32_t r = t.slot_row[s];
    if (r == kSlotEmpty || r == kSlotTomb) {
      t.slot_row[s] = row;
      t.slot_key[s] = key;
      return r == kSlotTomb;
    }
  }
}

void init_row(const TableView& t, const InitParams& init, int64_t row, int64_t key, const Clock& c) {
  emb::reset_meta(t, row, key, c);
  float* w = t.weight + row * t.dim;
  float q[4];
  for (int64_t j = 0; j < t.dim; j += 4) {
    emb::init_quad(init, key, j / 4, q);
    for (int64_t k = 0; k < 4 && j + k < t.dim; ++k) w[j + k] = q[k];
  }
  // AdaGrad's accumulator starts at state_init; Adam's moments (state_width = 2·dim) at 0.
  const float s0 = t.state_width == t.dim ? init.state_init : 0.0f;
  std::fill(t.state + row * t.state_width, t.state + (row + 1) * t.state_width, s0);
}

/// The row read at position p: the table's, the default row, or null for zeros.
const float* row_of(const float* weight, int64_t dim, const int32_t* urow, const int32_t* inverse, int64_t p,
                    const float* default_row) {
  const int32_t r = urow[inverse[p]];
  return r >= 0 ? weight + static_cast<int64_t>(r) * dim : default_row;
}

/// End of bag b (exclusive).
int64_t bag_end(const int64_t* offsets, int64_t bags, int64_t n, int64_t b) {
  return b + 1 < bags ? offsets[b + 1] : n;
}

/// The bag holding position p (offsets ascending, offsets[0] = 0).
int64_t bag_of(const int64_t* offsets, int64_t bags, int64_t p) {
  return (std::upper_bound(offsets, offsets + bags, p) - offsets) - 1;
}

}  // namespace

int64_t emb_unique(const int64_t* keys, int64_t n, int64_t* ukeys, int32_t* inverse, int32_t* perm,
                   int32_t* seg) {
  std::vector<std::pair<int64_t, int32_t>> kp(static_cast<size_t>(n));
  for (int64_t p = 0; p < n; ++p) kp[p] = {keys[p], static_cast<int32_t>(p)};
  std::sort(kp.begin(), kp.end());
  int64_t u = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (i == 0 || kp[i].first != kp[i - 1].first) {
      ++u;
      ukeys[u] = kp[i].first;
      seg[u] = static_cast<int32_t>(i);
    }
    perm[i] = kp[i].second;
    inverse[kp[i].second] = static_cast<int32_t>(u);
  }
  seg[u + 1] = static_cast<int32_t>(n);
  return u + 1;
}

int64_t emb_find(const TableView& t, const int64_t* ukeys, const int32_t* seg, int64_t U, int64_t admit_after,
                 bool train, const PolicyParams& p, const Clock& c, int32_t* urow, uint8_t* status) {
  parallel_for(0, U, kGrainKeys, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t s = probe(t, ukeys[u]);
      const int32_t r = s >= 0 ? t.slot_row[s] : -1;
      const bool expired = r >= 0 && emb::is_expired(p, c, t.last_step[r], t.last_time[r]);
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
  struct Cand {
    uint64_t v, k;
    int32_t row;
    bool operator<(const Cand& o) const { return v != o.v ? v < o.v : k < o.k; }
  };
  std::vector<uint64_t> vk(static_cast<size_t>(t.capacity));
  parallel_for(0, t.capacity, kGrainKeys, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) vk[r] = emb::victim_key(t, r, p, c);
  });
  std::vector<Cand> cands;
  for (int64_t r = 0; r < t.capacity; ++r)
    if (vk[r] != emb::kNotAVictim) cands.push_back({vk[r], emb::key_order(t.row_key[r]), static_cast<int32_t>(r)});
  const int64_t k = std::min<int64_t>(count, static_cast<int64_t>(cands.size()));
  if (k < static_cast<int64_t>(cands.size())) std::nth_element(cands.begin(), cands.begin() + k, cands.end());
  std::sort(cands.begin(), cands.begin() + k);
  for (int64_t i = 0; i < k; ++i) victims[i] = cands[i].row;
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
    if (s >= 0) t.slot_row[s] = kSlotTomb;
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
      if (status[u] == kNew || status[u] == kReinit) init_row(t, init, urow[u], ukeys[u], c);
  });
  *tombs_reused = tombs;
  return inserted;
}

void emb_rehash(const TableView& t) {
  std::fill(t.slot_row, t.slot_row + t.slots, kSlotEmpty);
  for (int64_t r = 0; r < t.capacity; ++r)
    if (t.last_step[r] != kFreeRow) place(t, t.row_key[r], static_cast<int32_t>(r));
}

void emb_gather(const float* weight, int64_t dim, const int32_t* urow, const int32_t* inverse, int64_t n,
                const float* default_row, float* out) {
  parallel_for(0, n, row_grain(dim), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const float* src = row_of(weight, dim, urow, inverse, p, default_row);
      float* dst = out + p * dim;
      if (src) std::memcpy(dst, src, dim * sizeof(float));
      else std::fill(dst, dst + dim, 0.0f);
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
      const int64_t begin = offsets[b], end = bag_end(offsets, bags, n, b);
      for (int64_t p = begin; p < end; ++p) {
        const float* src = row_of(weight, dim, urow, inverse, p, default_row);
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
    *bag = bag_of(offsets, bags, p);
    return mean ? 1.0f / static_cast<float>(bag_end(offsets, bags, n, *bag) - offsets[*bag]) : 1.0f;
  };
  parallel_for(0, U, row_grain(dim), [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      float* g = grad_unique + u * dim;
      std::fill(g, g + dim, 0.0f);
      for (int32_t i = seg[u]; i < seg[u + 1]; ++i) {
        int64_t b;
        const int64_t p = perm[i];
        const float cf = bag_scale(p, &b) * (pos_weight ? pos_weight[p] : 1.0f);
        const float* src = gout + b * dim;
        for (int64_t j = 0; j < dim; ++j) g[j] += cf * src[j];
      }
    }
  });
  if (!grad_pos_weight) return;
  parallel_for(0, n, row_grain(dim), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      int64_t b;
      const float scale = bag_scale(p, &b);
      const float* row = row_of(weight, dim, urow, inverse, p, default_row);
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
  parallel_for(0, nseg, row_grain(dim), [&](int64_t lo, int64_t hi) {
    std::vector<float> g(static_cast<size_t>(dim));
    for (int64_t s = lo; s < hi; ++s) {
      const int64_t first = perm ? seg[s] : s, last = perm ? seg[s + 1] : s + 1;
      const int64_t j0 = perm ? perm[first] : first;
      const int32_t r = rows[j0];
      if (r < 0 || t.last_step[r] == kFreeRow || t.row_key[r] != keys[j0]) continue;
      std::fill(g.begin(), g.end(), 0.0f);
      for (int64_t i = first; i < last; ++i) {
        const float* src = grads + (perm ? perm[i] : i) * dim;
        for (int64_t j = 0; j < dim; ++j) g[j] += src[j];
      }
      float bc1 = 1.0f, bc2 = 1.0f;
      if (o.kind == SparseOpt::kAdam) emb::adam_corrections(o, t.update_count[r], &bc1, &bc2);
      float* w = t.weight + static_cast<int64_t>(r) * dim;
      float* st = t.state ? t.state + static_cast<int64_t>(r) * t.state_width : nullptr;
      for (int64_t j = 0; j < dim; ++j) emb::sparse_update_elem(o, w, st, dim, j, g[j], bc1, bc2);
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
      t.last_step[r] = last_step[i];
      t.last_time[r] = last_time[i];
      t.changed_step[r] = changed_step[i];
      t.update_count[r] = update_count[i];
      t.freq[r] = freq[i];
      t.score[r] = score[i];
    }
  });
}

}  // namespace gw::cpu
