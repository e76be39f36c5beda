// embedding — CUDA. See embedding.h for the contract and embedding_math.h for the per-key and
// per-row formulas (shared with the CPU twin, so both devices compute the same values).
//   unique         radix sort of (key_order(key), position) — stable, so each group's positions
//                  stay ascending — then head flags, an inclusive scan for the unique ids and
//                  one scatter pass for ukeys / inverse / seg.
//   find           a thread per unique key: the digests of its bucket, the key of a matching slot;
//                  admission adds every miss to the sketch in one kernel and reads the estimates in
//                  a second, so no outcome depends on thread timing. Hit and new counts are summed
//                  per warp, then one atomic.
//   insert         the new keys' buckets, radix-sorted (stable: ascending key within a bucket); a
//                  warp per bucket run places its keys one after another, the lanes scanning the
//                  bucket's slots and a warp arg-min picking the victim (victim_less), so each
//                  bucket sees the CPU twin's order; then a warp per row initializes it.
//   select_victims two stable radix sorts over the slots in order (value, then rank: LSD, so the
//                  order is victim_less's); candidates form a prefix. Only evict({ toSize }).
//   sweep          flags and cub::DeviceSelect::Flagged over the slot indices (ascending).
//   gather / bags  a group of 1–32 lanes per output row (the smallest power of two covering the
//                  row's float4s / floats), float4 where dim % 4 == 0 and pointers allow.
//   backward       a group per unique key, summing its positions in perm order (deterministic,
//                  no atomics); grad_pos_weight a warp per position.
//   sparse update  a warp per group: reduced gradient, then sparse_update_elem per element.
// Temporaries (CUB storage included) come from DeviceScratch; counts read by the host go
// through cudart::memcpy_d2h, which waits for the stream.
#include <array>
#include <cstdint>
#include <initializer_list>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_select.cuh>
#include <thrust/iterator/counting_iterator.h>

#include "../../core/cuda_check.h"
#include "../../core/cuda_runtime.h"
#include "../../core/cuda_warp.cuh"
#include "../../core/launch.cuh"
#include "../reduce/scratch.h"
#include "embedding.h"
#include "embedding_math.h"

namespace {

constexpr int kBlock = gw::kPointwiseBlock;
constexpr uint64_t kSignBit = 0x8000000000000000ull;

/// A group of `size` lanes (a power of two ≤ 32) sharing one item of a grid-stride loop.
struct Group {
  int64_t first, stride;
  int lane, size;
};

__device__ __forceinline__ Group group_of(int size) {
  const int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  return {tid / size, static_cast<int64_t>(gridDim.x) * blockDim.x / size, static_cast<int>(threadIdx.x) & (size - 1),
          size};
}

/// V consecutive floats (V = 4: one 16-byte access).
template <int V>
struct Vec {
  float v[V];
};

template <int V>
__device__ __forceinline__ Vec<V> vload(const float* p) {
  if constexpr (V == 4) {
    const float4 f = *reinterpret_cast<const float4*>(p);
    return {{f.x, f.y, f.z, f.w}};
  } else {
    return {{*p}};
  }
}

template <int V>
__device__ __forceinline__ void vstore(float* p, const Vec<V>& a) {
  if constexpr (V == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(a.v[0], a.v[1], a.v[2], a.v[3]);
  } else {
    *p = a.v[0];
  }
}

template <int V>
__device__ __forceinline__ Vec<V> vzero() {
  Vec<V> a;
#pragma unroll
  for (int i = 0; i < V; ++i) a.v[i] = 0.0f;
  return a;
}

/// acc += w · x
template <int V>
__device__ __forceinline__ void vaxpy(Vec<V>& acc, float w, const Vec<V>& x) {
#pragma unroll
  for (int i = 0; i < V; ++i) acc.v[i] += w * x.v[i];
}

/// Counts the calling threads with pred set, one atomic per warp.
__device__ __forceinline__ void count_if(bool pred, unsigned long long* counter) {
  const unsigned active = __activemask();
  const unsigned votes = __ballot_sync(active, pred);
  if (votes && static_cast<int>(threadIdx.x & 31) == __ffs(active) - 1) atomicAdd(counter, __popc(votes));
}

}  // namespace

// ---- kernels

namespace {

using gw::Clock;
using gw::InitParams;
using gw::PolicyParams;
using gw::SparseOptParams;
using gw::TableView;
namespace emb = gw::emb;

__global__ void unique_prep_kernel(const int64_t* __restrict__ keys, int64_t n, uint64_t* __restrict__ ord,
                                   int32_t* __restrict__ pos) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    ord[i] = emb::key_order(keys[i]);
    pos[i] = static_cast<int32_t>(i);
  }
}

/// heads[i] = 1 where sorted[i] starts a run of equal values.
__global__ void heads_kernel(const uint64_t* __restrict__ sorted, int64_t n, int32_t* __restrict__ heads) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride)
    heads[i] = i == 0 || sorted[i] != sorted[i - 1];
}

/// ids = inclusive scan of the heads: position i of the sorted order belongs to unique id ids[i] − 1.
__global__ void unique_write_kernel(const uint64_t* __restrict__ sorted, const int32_t* __restrict__ perm,
                                    const int32_t* __restrict__ ids, int64_t n, int64_t* __restrict__ ukeys,
                                    int32_t* __restrict__ inverse, int32_t* __restrict__ seg) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    const int32_t u = ids[i] - 1;
    inverse[perm[i]] = u;
    if (i == 0 || sorted[i] != sorted[i - 1]) {
      ukeys[u] = static_cast<int64_t>(sorted[i] ^ kSignBit);  // key_order is its own inverse
      seg[u] = static_cast<int32_t>(i);
    }
    if (i == n - 1) seg[u + 1] = static_cast<int32_t>(n);
  }
}

/// Pass 1 of emb_find: probe. Misses under admission are left kReject for pass 2 and counted
/// into the sketch here; without admission a training miss is kNew. counters[0] += #kNew,
/// counters[1] += the positions of kHit keys. The loop is uniform per warp (u0 is the warp's
/// first key), so every lane reaches the warp sums.
__global__ void find_kernel(TableView t, const int64_t* __restrict__ ukeys, const int32_t* __restrict__ seg,
                            int64_t U, bool admission, bool train, PolicyParams p, Clock c, int32_t* __restrict__ urow,
                            uint8_t* __restrict__ status, unsigned long long* counters) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int lane = static_cast<int>(threadIdx.x & 31);
  unsigned long long news = 0, hits = 0;
  for (int64_t u0 = blockIdx.x * static_cast<int64_t>(blockDim.x) + (threadIdx.x & ~31u); u0 < U; u0 += stride) {
    const int64_t u = u0 + lane;
    if (u >= U) continue;
    const int64_t key = ukeys[u];
    const uint64_t h = emb::mix64(static_cast<uint64_t>(key));
    const uint8_t d = emb::digest_of(h);
    int64_t lo, hi;
    emb::bucket_range(t, emb::bucket_of(t, h), &lo, &hi);
    int32_t row = -1;
    for (int64_t s = lo; s < hi; ++s)
      if (t.digest[s] == d && t.meta[s].key == key) {
        row = static_cast<int32_t>(s);
        break;
      }
    uint8_t st;
    if (row >= 0) {
      const bool expired = emb::has_ttl(p) && emb::is_expired(p, c, t.meta[row]);
      st = expired ? (train ? gw::kReinit : gw::kReject) : gw::kHit;
      if (!train && expired) row = -1;
    } else if (!train) {
      st = gw::kReject;
    } else if (admission) {
      const uint32_t cnt = static_cast<uint32_t>(seg[u + 1] - seg[u]);
      for (int32_t dd = 0; dd < t.sketch_depth; ++dd) {
        uint32_t* cell = t.sketch + dd * t.sketch_width + emb::sketch_col(key, dd, t.sketch_width);
        uint32_t old = *cell, want;
        do {  // saturating add
          want = old > 0xffffffffu - cnt ? 0xffffffffu : old + cnt;
          const uint32_t seen = atomicCAS(cell, old, want);
          if (seen == old) break;
          old = seen;
        } while (true);
      }
      st = gw::kReject;  // decided by admit_kernel
    } else {
      st = gw::kNew;
    }
    urow[u] = row;
    status[u] = st;
    news += st == gw::kNew;
    if (st == gw::kHit) hits += static_cast<unsigned long long>(seg[u + 1] - seg[u]);
  }
  news = gw::warp_sum(news);
  hits = gw::warp_sum(hits);
  if (lane == 0 && (news || hits)) {
    atomicAdd(counters, news);
    atomicAdd(counters + 1, hits);
  }
}

/// Pass 2 of emb_find under admission: a miss is kNew once its sketch estimate ≥ admit_after.
__global__ void admit_kernel(TableView t, const int64_t* __restrict__ ukeys, int64_t U, int64_t admit_after,
                             const int32_t* __restrict__ urow, uint8_t* __restrict__ status,
                             unsigned long long* new_count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t u = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; u < U; u += stride) {
    bool admit = false;
    if (urow[u] < 0) {  // training: only misses have no row
      const int64_t key = ukeys[u];
      uint32_t est = 0xffffffffu;
      for (int32_t d = 0; d < t.sketch_depth; ++d) {
        const uint32_t v = t.sketch[d * t.sketch_width + emb::sketch_col(key, d, t.sketch_width)];
        est = v < est ? v : est;
      }
      admit = static_cast<int64_t>(est) >= admit_after;
      if (admit) status[u] = gw::kNew;
    }
    count_if(admit, new_count);
  }
}

__global__ void touch_kernel(TableView t, const int32_t* __restrict__ urow, const uint8_t* __restrict__ status,
                             const int32_t* __restrict__ seg, int64_t U, uint32_t mask, PolicyParams p, Clock c) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t u = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; u < U; u += stride) {
    const int32_t r = urow[u];
    if (((mask >> status[u]) & 1u) && r >= 0)
      emb::touch_row(t, r, static_cast<float>(seg[u + 1] - seg[u]), p, c);
  }
}

/// bucket[u] ← the bucket of a kNew key, else `buckets` (sorts after every real one); pos[u] ← u.
__global__ void new_buckets_kernel(TableView t, const int64_t* __restrict__ ukeys, const uint8_t* __restrict__ status,
                                   int64_t U, uint32_t* __restrict__ bucket, int32_t* __restrict__ pos) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t u = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; u < U; u += stride) {
    bucket[u] = static_cast<uint32_t>(
        status[u] == gw::kNew ? emb::bucket_of(t, emb::mix64(static_cast<uint64_t>(ukeys[u]))) : t.buckets);
    pos[u] = static_cast<int32_t>(u);
  }
}

/// The warp's arg-min of its lanes' candidates by victim_less: every lane ends with it.
__device__ emb::Victim warp_min_victim(const TableView& t, emb::Victim v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    emb::Victim w;
    w.rank = __shfl_xor_sync(gw::kFullWarp, v.rank, o);
    w.value = __shfl_xor_sync(gw::kFullWarp, v.value, o);
    w.slot = __shfl_xor_sync(gw::kFullWarp, v.slot, o);
    if (emb::victim_less(w, v)) v = w;
  }
  return v;
}

/// A warp per run of equal buckets in the sorted new keys (the warp of the run's first entry):
/// the run's keys, in order, each take the bucket's lowest candidate (see emb_insert).
/// counters[0] += placed, counters[1] += of those, evictions.
__global__ void place_kernel(TableView t, PolicyParams p, Clock c, const int64_t* __restrict__ ukeys,
                             const uint32_t* __restrict__ bucket, const int32_t* __restrict__ pos, int64_t U,
                             uint8_t* __restrict__ status, int32_t* __restrict__ urow, unsigned long long* counters) {
  const Group g = group_of(32);
  for (int64_t i = g.first; i < U; i += g.stride) {  // uniform per warp
    const uint32_t b = bucket[i];
    if (b >= static_cast<uint64_t>(t.buckets) || (i > 0 && bucket[i - 1] == b)) continue;
    int64_t lo, hi;
    emb::bucket_range(t, b, &lo, &hi);
    for (int64_t j = i; j < U && bucket[j] == b; ++j) {
      const int32_t u = pos[j];
      emb::Victim best;
      for (int64_t s = lo + g.lane; s < hi; s += 32) {
        const emb::Victim v = emb::candidate(t, s, p, c);
        if (emb::victim_less(v, best)) best = v;
      }
      best = warp_min_victim(t, best);
      if (g.lane == 0) {
        if (best.rank == emb::kRankNone) {
          status[u] = gw::kDropped;
        } else {
          const int64_t key = ukeys[u];
          // Claimed now, as seen at c.step, so the run's later keys cannot take it.
          t.digest[best.slot] = emb::digest_of(emb::mix64(static_cast<uint64_t>(key)));
          t.meta[best.slot].key = key;
          t.meta[best.slot].last_step = emb::step32(c.step);
          t.value[best.slot] = emb::eviction_value(p, c.step, 0.0f, 0.0f);
          urow[u] = static_cast<int32_t>(best.slot);
          atomicAdd(counters, 1ull);
          if (best.rank != emb::kRankEmpty) atomicAdd(counters + 1, 1ull);
        }
      }
      __syncwarp();  // the next key's scan sees this placement
    }
  }
}

/// A warp per unique key: initializes the rows of placed kNew and of kReinit keys, seen now.
__global__ void init_rows_kernel(TableView t, PolicyParams p, InitParams init, Clock c,
                                 const int64_t* __restrict__ ukeys, const int32_t* __restrict__ seg,
                                 const uint8_t* __restrict__ status, const int32_t* __restrict__ urow, int64_t U) {
  const Group g = group_of(32);
  for (int64_t u = g.first; u < U; u += g.stride) {
    const uint8_t st = status[u];
    if (st == gw::kNew || st == gw::kReinit)
      emb::init_row(t, p, init, urow[u], ukeys[u], static_cast<float>(seg[u + 1] - seg[u]), c, g.lane, g.size);
  }
}

/// The sort keys of the victim passes over slots in their current order (slots null: slot i):
/// the value (rank false) or the rank (rank true; kRankNone for a slot that is no candidate,
/// so it sorts last).
__global__ void victim_keys_kernel(TableView t, PolicyParams p, Clock c, const int32_t* __restrict__ slots, bool rank,
                                   uint64_t* __restrict__ out, int32_t* __restrict__ slot_ids) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < t.capacity; i += stride) {
    if (!slots) slot_ids[i] = static_cast<int32_t>(i);
    emb::Victim v = emb::candidate(t, slots ? slots[i] : i, p, c);
    if (v.rank == emb::kRankEmpty) v.rank = emb::kRankNone;
    out[i] = rank ? v.rank : v.value;
  }
}

/// The candidates (rank < kRankNone) are a prefix of the rank-sorted order: *count ← its length.
__global__ void prefix_end_kernel(const uint64_t* __restrict__ sorted, int64_t n, unsigned long long* count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride)
    if (sorted[i] != emb::kRankNone && (i + 1 == n || sorted[i + 1] == emb::kRankNone))
      *count = static_cast<unsigned long long>(i + 1);
}

__global__ void sweep_flags_kernel(TableView t, PolicyParams p, Clock c, bool expired, int32_t min_updates,
                                   uint8_t* __restrict__ flags) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < t.capacity; i += stride) {
    flags[i] = t.digest[i] != gw::kEmptySlot && ((expired && emb::is_expired(p, c, t.meta[i])) ||
                                                 (min_updates > 0 && t.update_count[i] < min_updates));
  }
}

__global__ void remove_kernel(TableView t, const int32_t* __restrict__ rows, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride)
    t.digest[rows[i]] = gw::kEmptySlot;
}

/// out[p, :] ← row(p): a group of lanes per position, in units of V floats.
template <int V>
__global__ void gather_kernel(const float* __restrict__ weight, int64_t dim, const int32_t* __restrict__ urow,
                              const int32_t* __restrict__ inverse, int64_t n, const float* __restrict__ default_row,
                              float* __restrict__ out, int size) {
  const Group g = group_of(size);
  for (int64_t p = g.first; p < n; p += g.stride) {
    const float* src = emb::row_of(weight, dim, urow, inverse, p, default_row);
    float* dst = out + p * dim;
    for (int64_t j = static_cast<int64_t>(g.lane) * V; j < dim; j += static_cast<int64_t>(size) * V)
      vstore<V>(dst + j, src ? vload<V>(src + j) : vzero<V>());
  }
}

/// out[b, :] ← Σ_p w_p · row(p) (mean: / len): a group of lanes per bag.
template <int V>
__global__ void bag_forward_kernel(const float* __restrict__ weight, int64_t dim, const int32_t* __restrict__ urow,
                                   const int32_t* __restrict__ inverse, int64_t n, const int64_t* __restrict__ offsets,
                                   int64_t bags, const float* __restrict__ pos_weight, bool mean,
                                   const float* __restrict__ default_row, float* __restrict__ out, int size) {
  const Group g = group_of(size);
  for (int64_t b = g.first; b < bags; b += g.stride) {
    const int64_t start = offsets[b], end = b + 1 < bags ? offsets[b + 1] : n;
    const float inv = 1.0f / static_cast<float>(end > start ? end - start : 1);
    for (int64_t j = static_cast<int64_t>(g.lane) * V; j < dim; j += static_cast<int64_t>(size) * V) {
      Vec<V> acc = vzero<V>();
      for (int64_t p = start; p < end; ++p) {
        const float* src = emb::row_of(weight, dim, urow, inverse, p, default_row);
        if (src) vaxpy<V>(acc, pos_weight ? pos_weight[p] : 1.0f, vload<V>(src + j));
      }
      if (mean && end > start) {
#pragma unroll
        for (int k = 0; k < V; ++k) acc.v[k] *= inv;
      }
      vstore<V>(out + b * dim + j, acc);
    }
  }
}

/// grad_unique[u, :] ← Σ coef_p · gout[bag(p), :] over perm[seg[u]..seg[u+1]), in that order.
template <int V>
__global__ void bag_backward_kernel(const float* __restrict__ gout, int64_t dim, const int32_t* __restrict__ perm,
                                    const int32_t* __restrict__ seg, int64_t U, int64_t n,
                                    const int64_t* __restrict__ offsets, int64_t bags,
                                    const float* __restrict__ pos_weight, bool mean, float* __restrict__ grad_unique,
                                    int size) {
  const Group g = group_of(size);
  for (int64_t u = g.first; u < U; u += g.stride) {
    const int32_t k0 = seg[u], k1 = seg[u + 1];
    for (int64_t j = static_cast<int64_t>(g.lane) * V; j < dim; j += static_cast<int64_t>(size) * V) {
      Vec<V> acc = vzero<V>();
      for (int32_t k = k0; k < k1; ++k) {
        const int64_t p = perm[k];
        int64_t b = p;
        float coef = 1.0f;
        if (offsets) {
          b = emb::bag_of(offsets, bags, p);
          if (mean) coef = 1.0f / static_cast<float>(emb::bag_len(offsets, bags, n, b));
          if (pos_weight) coef *= pos_weight[p];
        }
        vaxpy<V>(acc, coef, vload<V>(gout + b * dim + j));
      }
      vstore<V>(grad_unique + u * dim + j, acc);
    }
  }
}

/// grad_pos_weight[p] ← ⟨gout[bag(p)], row(p)⟩ / (mean ? len : 1): a warp per position.
__global__ void pos_weight_grad_kernel(const float* __restrict__ gout, int64_t dim, int64_t n,
                                       const int64_t* __restrict__ offsets, int64_t bags, bool mean,
                                       const float* __restrict__ weight, const int32_t* __restrict__ urow,
                                       const int32_t* __restrict__ inverse, const float* __restrict__ default_row,
                                       float* __restrict__ grad_pos_weight) {
  const Group g = group_of(32);
  for (int64_t p = g.first; p < n; p += g.stride) {  // uniform per warp: every lane reaches warp_sum
    const float* src = emb::row_of(weight, dim, urow, inverse, p, default_row);
    const int64_t b = offsets ? emb::bag_of(offsets, bags, p) : p;
    float dot = 0.0f;
    if (src)
      for (int64_t j = g.lane; j < dim; j += 32) dot += gout[b * dim + j] * src[j];
    dot = gw::warp_sum(dot);
    if (g.lane == 0) {
      const int64_t len = offsets && mean ? emb::bag_len(offsets, bags, n, b) : 1;
      grad_pos_weight[p] = dot * (1.0f / static_cast<float>(len));
    }
  }
}

/// A warp per group s of entries; see emb_sparse_update in embedding.h.
__global__ void sparse_update_kernel(TableView t, SparseOptParams o, int64_t step, const int32_t* __restrict__ rows,
                                     const int64_t* __restrict__ keys, const float* __restrict__ grads,
                                     const int32_t* __restrict__ perm, const int32_t* __restrict__ seg, int64_t nseg) {
  const Group g = group_of(32);
  const int64_t dim = t.dim;
  for (int64_t s = g.first; s < nseg; s += g.stride) {  // uniform per warp
    const int64_t k0 = perm ? seg[s] : s, k1 = perm ? seg[s + 1] : s + 1;
    const int64_t j0 = perm ? perm[k0] : s;
    const int32_t r = rows[j0];
    if (r < 0 || !emb::slot_holds(t, r, keys[j0])) continue;
    float bc1 = 1.0f, bc2 = 1.0f;
    if (o.kind == gw::SparseOpt::kAdam) emb::adam_corrections(o, t.update_count[r], &bc1, &bc2);
    float* w = t.weight + static_cast<int64_t>(r) * dim;
    float* st = t.state ? t.state + static_cast<int64_t>(r) * t.state_width : nullptr;
    for (int64_t j = g.lane; j < dim; j += 32) {
      float gsum = 0.0f;
      for (int64_t k = k0; k < k1; ++k) gsum += grads[(perm ? perm[k] : k) * dim + j];
      emb::sparse_update_elem(o, w, st, dim, j, gsum, bc1, bc2);
    }
    __syncwarp();  // every lane has read update_count
    if (g.lane == 0) {
      t.update_count[r] += 1;
      t.meta[r].changed_step = emb::step32(step);
    }
  }
}

/// A warp per imported row.
__global__ void write_rows_kernel(TableView t, PolicyParams p, const int32_t* __restrict__ rows, int64_t n,
                                  const float* __restrict__ weight, const float* __restrict__ state,
                                  const int64_t* __restrict__ last_step, const double* __restrict__ last_time,
                                  const int64_t* __restrict__ changed_step, const int32_t* __restrict__ update_count,
                                  const float* __restrict__ freq, const float* __restrict__ score) {
  const Group g = group_of(32);
  for (int64_t i = g.first; i < n; i += g.stride) {
    const int64_t r = rows[i];
    for (int64_t j = g.lane; j < t.dim; j += 32) t.weight[r * t.dim + j] = weight[i * t.dim + j];
    if (state)
      for (int64_t j = g.lane; j < t.state_width; j += 32) t.state[r * t.state_width + j] = state[i * t.state_width + j];
    if (g.lane == 0) emb::copy_meta(t, p, r, i, last_step, last_time, changed_step, update_count, freq, score);
  }
}

}  // namespace

// ---- launchers

namespace gw::cuda {

namespace {

/// Runs a CUB device algorithm: the size query, then the call with scratch temp storage.
template <typename F>
void cub_call(F&& call) {
  size_t bytes = 0;
  GW_CUDA_CHECK(call(nullptr, bytes));
  DeviceScratch<unsigned char> temp(bytes);
  GW_CUDA_CHECK(call(temp.get(), bytes));
}

/// Stable sort of (key, value) pairs by the key's bits [0, end_bit).
template <typename K>
void sort_pairs(const K* kin, K* kout, const int32_t* vin, int32_t* vout, int64_t n, Stream stream,
                int end_bit = 8 * sizeof(K)) {
  cub_call([&](void* tmp, size_t& bytes) {
    return cub::DeviceRadixSort::SortPairs(tmp, bytes, kin, kout, vin, vout, n, 0, end_bit, stream);
  });
}

/// N zeroed device counters; read() waits for the stream and returns them.
template <int N>
class Counters {
 public:
  explicit Counters(Stream s) : s_(s), p_(N) { cudart::memset_device(p_.get(), 0, sizeof(unsigned long long) * N, s); }
  unsigned long long* get() const { return p_.get(); }
  std::array<int64_t, N> read() const {
    unsigned long long v[N];
    cudart::memcpy_d2h(v, p_.get(), sizeof v, s_);
    std::array<int64_t, N> out;
    for (int i = 0; i < N; ++i) out[i] = static_cast<int64_t>(v[i]);
    return out;
  }

 private:
  Stream s_;
  DeviceScratch<unsigned long long> p_;
};

/// Lanes per output row: the smallest power of two ≥ the row's units, at most a warp.
int lanes_for(int64_t units) {
  int size = 1;
  while (size < 32 && size < units) size *= 2;
  return size;
}

bool vec4_ok(int64_t dim, std::initializer_list<const void*> ptrs) {
  if (dim % 4) return false;
  for (const void* p : ptrs)
    if (p && !is_aligned16(p)) return false;
  return true;
}

/// Launches K4 (float4 units) when vec4, else K1, with a group of lanes per item (the kernels'
/// last argument).
template <auto K4, auto K1, typename... A>
void launch_rows(int64_t items, int64_t dim, bool vec4, Stream stream, A... args) {
  const int size = lanes_for(vec4 ? dim / 4 : dim);
  if (vec4) gw::launch<K4>(grid_for(items * size), kBlock, 0, stream, args..., size);
  else gw::launch<K1>(grid_for(items * size), kBlock, 0, stream, args..., size);
}

}  // namespace

int64_t emb_unique(const int64_t* keys, int64_t n, int64_t* ukeys, int32_t* inverse, int32_t* perm, int32_t* seg,
                   Stream stream) {
  if (n == 0) {
    cudart::memset_device(seg, 0, sizeof(int32_t), stream);  // seg[0] = n = 0
    return 0;
  }
  DeviceScratch<uint64_t> ord(n), sorted(n);
  DeviceScratch<int32_t> a(n), b(n);
  gw::launch<unique_prep_kernel>(grid_for(n), kBlock, 0, stream, keys, n, ord.get(), a.get());
  sort_pairs(ord.get(), sorted.get(), a.get(), perm, n, stream);
  gw::launch<heads_kernel>(grid_for(n), kBlock, 0, stream, sorted.get(), n, a.get());
  const int32_t* heads = a.get();
  int32_t* ids = b.get();
  cub_call([&](void* tmp, size_t& bytes) { return cub::DeviceScan::InclusiveSum(tmp, bytes, heads, ids, n, stream); });
  gw::launch<unique_write_kernel>(grid_for(n), kBlock, 0, stream, sorted.get(), perm, ids, n, ukeys, inverse, seg);
  int32_t U = 0;
  cudart::memcpy_d2h(&U, ids + (n - 1), sizeof U, stream);
  return U;
}

int64_t emb_find(const TableView& t, const int64_t* ukeys, const int32_t* seg, int64_t U, int64_t admit_after,
                 bool train, const PolicyParams& p, const Clock& c, int32_t* urow, uint8_t* status, int64_t* hits,
                 Stream stream) {
  *hits = 0;
  if (U == 0) return 0;
  const bool admission = train && admit_after > 1 && t.sketch != nullptr;
  Counters<2> counts(stream);
  gw::launch<find_kernel>(grid_for(U), kBlock, 0, stream, t, ukeys, seg, U, admission, train, p, c, urow, status,
                          counts.get());
  if (admission) {
    gw::launch<admit_kernel>(grid_for(U), kBlock, 0, stream, t, ukeys, U, admit_after, urow, status, counts.get());
  }
  const auto [news, found] = counts.read();
  *hits = found;
  return news;
}

void emb_touch(const TableView& t, const int32_t* urow, const uint8_t* status, const int32_t* seg, int64_t U,
               uint32_t mask, const PolicyParams& p, const Clock& c, Stream stream) {
  if (U == 0 || mask == 0) return;
  gw::launch<touch_kernel>(grid_for(U), kBlock, 0, stream, t, urow, status, seg, U, mask, p, c);
}

int64_t emb_insert(const TableView& t, const int64_t* ukeys, const int32_t* seg, int64_t U, uint8_t* status,
                   int32_t* urow, const PolicyParams& p, const InitParams& init, const Clock& c, int64_t* evicted,
                   Stream stream) {
  *evicted = 0;
  if (U == 0) return 0;
  DeviceScratch<uint32_t> bucket(U), sorted(U);
  DeviceScratch<int32_t> pos(U), order(U);
  gw::launch<new_buckets_kernel>(grid_for(U), kBlock, 0, stream, t, ukeys, status, U, bucket.get(), pos.get());
  int bits = 1;
  while ((int64_t{1} << bits) <= t.buckets) ++bits;  // `buckets` itself (not new) must fit
  sort_pairs(bucket.get(), sorted.get(), pos.get(), order.get(), U, stream, bits);
  Counters<2> counts(stream);
  gw::launch<place_kernel>(grid_for(U * 32), kBlock, 0, stream, t, p, c, ukeys, sorted.get(), order.get(), U, status,
                           urow, counts.get());
  gw::launch<init_rows_kernel>(grid_for(U * 32), kBlock, 0, stream, t, p, init, c, ukeys, seg, status, urow, U);
  const auto [placed, displaced] = counts.read();
  *evicted = displaced;
  return placed;
}

int64_t emb_select_victims(const TableView& t, const PolicyParams& p, const Clock& c, int64_t count,
                           int32_t* victims, Stream stream) {
  const int64_t cap = t.capacity;
  if (count <= 0 || cap == 0) return 0;
  DeviceScratch<uint64_t> ka(cap), kb(cap);
  DeviceScratch<int32_t> ra(cap), rb(cap);
  gw::launch<victim_keys_kernel>(grid_for(cap), kBlock, 0, stream, t, p, c, nullptr, false, ka.get(), ra.get());
  sort_pairs(ka.get(), kb.get(), ra.get(), rb.get(), cap, stream);  // stable from slot order: by (value, slot)
  gw::launch<victim_keys_kernel>(grid_for(cap), kBlock, 0, stream, t, p, c, rb.get(), true, ka.get(), nullptr);
  sort_pairs(ka.get(), kb.get(), rb.get(), ra.get(), cap, stream, 2);  // stable: by (rank, value, slot)
  Counters<1> cand(stream);
  gw::launch<prefix_end_kernel>(grid_for(cap), kBlock, 0, stream, kb.get(), cap, cand.get());
  const int64_t candidates = cand.read()[0];
  const int64_t found = candidates < count ? candidates : count;
  if (found > 0) cudart::memcpy_d2d(victims, ra.get(), sizeof(int32_t) * found, stream);
  return found;
}

int64_t emb_sweep(const TableView& t, const PolicyParams& p, const Clock& c, bool expired, int32_t min_updates,
                  int32_t* victims, Stream stream) {
  const int64_t cap = t.capacity;
  if (cap == 0 || (!expired && min_updates <= 0)) return 0;
  DeviceScratch<uint8_t> flags(cap);
  DeviceScratch<int64_t> selected(1);
  gw::launch<sweep_flags_kernel>(grid_for(cap), kBlock, 0, stream, t, p, c, expired, min_updates, flags.get());
  const thrust::counting_iterator<int32_t> rows(0);
  const uint8_t* f = flags.get();
  int64_t* num = selected.get();
  cub_call([&](void* tmp, size_t& bytes) {
    return cub::DeviceSelect::Flagged(tmp, bytes, rows, f, victims, num, cap, stream);
  });
  int64_t found = 0;
  cudart::memcpy_d2h(&found, num, sizeof found, stream);
  return found;
}

void emb_remove(const TableView& t, const int32_t* rows, int64_t n, Stream stream) {
  if (n == 0) return;
  gw::launch<remove_kernel>(grid_for(n), kBlock, 0, stream, t, rows, n);
}

void emb_gather(const float* weight, int64_t dim, const int32_t* urow, const int32_t* inverse, int64_t n,
                const float* default_row, float* out, Stream stream) {
  if (n == 0 || dim == 0) return;
  const bool vec4 = vec4_ok(dim, {weight, default_row, out});
  launch_rows<gather_kernel<4>, gather_kernel<1>>(n, dim, vec4, stream, weight, dim, urow, inverse, n, default_row,
                                                  out);
}

void emb_bag_forward(const float* weight, int64_t dim, const int32_t* urow, const int32_t* inverse, int64_t n,
                     const int64_t* offsets, int64_t bags, const float* pos_weight, bool mean,
                     const float* default_row, float* out, Stream stream) {
  if (bags == 0 || dim == 0) return;
  const bool vec4 = vec4_ok(dim, {weight, default_row, out});
  launch_rows<bag_forward_kernel<4>, bag_forward_kernel<1>>(bags, dim, vec4, stream, weight, dim, urow, inverse, n,
                                                            offsets, bags, pos_weight, mean, default_row, out);
}

void emb_bag_backward(const float* gout, int64_t dim, const int32_t* perm, const int32_t* seg, int64_t U, int64_t n,
                      const int64_t* offsets, int64_t bags, const float* pos_weight, bool mean, float* grad_unique,
                      const float* weight, const int32_t* urow, const int32_t* inverse, const float* default_row,
                      float* grad_pos_weight, Stream stream) {
  if (U > 0 && dim > 0) {
    const bool vec4 = vec4_ok(dim, {gout, grad_unique});
    launch_rows<bag_backward_kernel<4>, bag_backward_kernel<1>>(U, dim, vec4, stream, gout, dim, perm, seg, U, n,
                                                                offsets, bags, pos_weight, mean, grad_unique);
  }
  if (grad_pos_weight && n > 0) {
    gw::launch<pos_weight_grad_kernel>(grid_for(n * 32), kBlock, 0, stream, gout, dim, n, offsets, bags, mean, weight,
                                       urow, inverse, default_row, grad_pos_weight);
  }
}

void emb_sparse_update(const TableView& t, const SparseOptParams& o, int64_t step, const int32_t* rows,
                       const int64_t* keys, const float* grads, const int32_t* perm, const int32_t* seg, int64_t nseg,
                       Stream stream) {
  if (nseg == 0) return;
  gw::launch<sparse_update_kernel>(grid_for(nseg * 32), kBlock, 0, stream, t, o, step, rows, keys, grads, perm, seg,
                                   nseg);
}

void emb_write_rows(const TableView& t, const PolicyParams& p, const int32_t* rows, int64_t n, const float* weight,
                    const float* state,
                    const int64_t* last_step, const double* last_time, const int64_t* changed_step,
                    const int32_t* update_count, const float* freq, const float* score, Stream stream) {
  if (n == 0) return;
  gw::launch<write_rows_kernel>(grid_for(n * 32), kBlock, 0, stream, t, p, rows, n, weight, state, last_step, last_time,
                                changed_step, update_count, freq, score);
}

}  // namespace gw::cuda
