// embedding — CPU twin and readable spec of the table phases (contract in embedding.h).
// Phases that decide (unique, find's admission, victim choice, insert order) run in one
// fixed order; the per-row work around them (probing, initialization, gathers, reductions,
// optimizer steps) runs on the thread pool, each row or position owned by one chunk.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "../dropout/philox.h"
#include "embedding.h"
#include "embedding_math.h"

namespace gw::cpu {
namespace {

constexpr int64_t kGrainKeys = 2048;  ///< keys or rows per parallel chunk
constexpr int64_t kGrainElems = 1 << 14;  ///< floats per parallel chunk

/// Rows-per-chunk grain for row-wise loops of `dim` floats.
int64_t row_grain(int64_t dim) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(dim, 1)); }

constexpr int64_t kPrefetch = 8;  ///< keys ahead whose bucket (or row) is prefetched

/// Calls f(i) for each i < n with dig[i] == d, in order, until f returns true; returns whether
/// it did. 16 digests a compare where SSE2 is there.
template <class F>
GW_ALWAYS_INLINE bool for_each_match(const uint8_t* dig, int64_t n, uint8_t d, F&& f) {
  int64_t i = 0;
#ifdef __SSE2__
  const __m128i want = _mm_set1_epi8(static_cast<char>(d));
  for (; i + 16 <= n; i += 16) {
    unsigned m = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(dig + i)), want)));
    for (; m; m &= m - 1)
      if (f(i + __builtin_ctz(m))) return true;
  }
#endif
  for (; i < n; ++i)
    if (dig[i] == d && f(i)) return true;
  return false;
}

/// Where a key lives: its hash, bucket slots [lo, hi) and digest.
struct Home {
  int64_t lo, hi;
  uint8_t digest;
};

GW_ALWAYS_INLINE Home home_of(const TableView& t, int64_t key) {
  const uint64_t h = emb::mix64(static_cast<uint64_t>(key));
  Home m;
  emb::bucket_range(t, emb::bucket_of(t, h), &m.lo, &m.hi);
  m.digest = emb::digest_of(h);
  return m;
}

/// The slot holding `key`, or −1.
GW_ALWAYS_INLINE int64_t probe(const TableView& t, int64_t key) {
  const Home m = home_of(t, key);
  int64_t found = -1;
  for_each_match(t.digest + m.lo, m.hi - m.lo, m.digest, [&](int64_t i) {
    if (t.meta[m.lo + i].key != key) return false;
    found = m.lo + i;
    return true;
  });
  return found;
}

/// Starts loading what probing `key` reads first: its bucket's digests.
GW_ALWAYS_INLINE void prefetch_bucket(const TableView& t, int64_t key) {
  __builtin_prefetch(t.digest + home_of(t, key).lo);
}

/// Starts loading the metadata of the first slot whose digest matches `key`'s: the line the
/// probe's key comparison reads (the digests are loaded by then).
GW_ALWAYS_INLINE void prefetch_match(const TableView& t, int64_t key) {
  const Home m = home_of(t, key);
  for_each_match(t.digest + m.lo, m.hi - m.lo, m.digest, [&](int64_t i) {
    __builtin_prefetch(t.meta + m.lo + i);
    return true;
  });
}

/// Starts loading what an insert into bucket m reads: digests and eviction values.
GW_ALWAYS_INLINE void prefetch_victims(const TableView& t, const Home& m) {
  __builtin_prefetch(t.digest + m.lo);
  for (int64_t s = m.lo; s < m.hi; s += 8) __builtin_prefetch(t.value + s);
}

/// The starts of many rows at once, in loops the compiler vectorizes for the running CPU
/// (init_quad's formulas over arrays): the Philox words of every quad, then the values.
GW_CPU_CLONES void philox_words(const InitParams init, const int64_t* GW_RESTRICT key, const int64_t* GW_RESTRICT quad,
                                int64_t n, uint32_t* GW_RESTRICT w) {
  for (int64_t i = 0; i < n; ++i) {
    const philox::U32x4 r = emb::init_bits(init, key[i], quad[i]);
    for (int k = 0; k < 4; ++k) w[k * n + i] = r.v[k];
  }
}

/// out[k·n + i] ← the start of column k of quad i, from its words w[k·n + i].
GW_CPU_CLONES void starts_from_words(const InitParams init, const uint32_t* GW_RESTRICT w, int64_t n,
                                     float* GW_RESTRICT out) {
  if (init.kind == InitKind::kUniform) {
    for (int64_t i = 0; i < 4 * n; ++i) out[i] = emb::uniform_start(w[i], init.scale);
    return;
  }
  for (int64_t i = 0; i < n; ++i) emb::normal_pair(w[i], w[n + i], init.scale, &out[i], &out[n + i]);
  for (int64_t i = 0; i < n; ++i) emb::normal_pair(w[2 * n + i], w[3 * n + i], init.scale, &out[2 * n + i], &out[3 * n + i]);
}

/// init_row for the entries us[0..m) (placed kNew or kReinit), batched: their Philox words,
/// then their values over arrays, then the rows written.
void init_rows(const TableView& t, const PolicyParams& p, const InitParams& init, const int64_t* ukeys,
               const int32_t* seg, const int32_t* urow, const int32_t* us, int64_t m, const Clock& c) {
  const int64_t quads = (t.dim + 3) / 4, n = m * quads;
  thread_local std::vector<int64_t> key, quad;
  thread_local std::vector<uint32_t> words;
  thread_local std::vector<float> vals;
  key.resize(n);
  quad.resize(n);
  vals.assign(4 * n, 0.0f);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t q = 0; q < quads; ++q) {
      key[i * quads + q] = ukeys[us[i]];
      quad[i * quads + q] = q;
    }
  if (init.kind != InitKind::kZeros && n > 0) {
    words.resize(4 * n);
    philox_words(init, key.data(), quad.data(), n, words.data());
    starts_from_words(init, words.data(), n, vals.data());
  }
  const float s0 = t.state_width == t.dim ? init.state_init : 0.0f;
  for (int64_t i = 0; i < m; ++i) {
    const int32_t u = us[i];
    const int64_t r = urow[u];
    float* w = t.weight + r * t.dim;
    for (int64_t j = 0; j < t.dim; ++j) w[j] = vals[(j & 3) * n + i * quads + (j >> 2)];
    if (t.state) std::fill_n(t.state + r * t.state_width, t.state_width, s0);
    emb::reset_meta(t, p, r, ukeys[u], static_cast<float>(seg[u + 1] - seg[u]), c);
  }
}

/// Starts loading, for writing, what init_rows writes of row r beyond what placing its key touched.
GW_ALWAYS_INLINE void prefetch_start(const TableView& t, int64_t r) {
  __builtin_prefetch(t.meta + r, 1);
  for (int64_t j = 0; j < t.dim; j += 16) __builtin_prefetch(t.weight + r * t.dim + j, 1);
  for (int64_t j = 0; j < t.state_width; j += 16) __builtin_prefetch(t.state + r * t.state_width + j, 1);
  __builtin_prefetch(t.update_count + r, 1);
}

constexpr int64_t kStartBatch = 64;  ///< placed keys whose rows are started together

/// The victim of an insert into bucket h: the first empty slot, else the lowest candidate by
/// victim_less (kRankNone when every slot was seen at c.step). The spec, slot by slot.
emb::Victim scan_bucket(const TableView& t, const Home& h, const PolicyParams& p, const Clock& c) {
  emb::Victim best;
  for (int64_t s = h.lo; s < h.hi; ++s) {
    const emb::Victim v = emb::candidate(t, s, p, c);
    if (emb::victim_less(v, best)) best = v;
    if (best.rank == emb::kRankEmpty) break;  // the first empty slot
  }
  return best;
}

/// The least of v[0..n) over the values whose low bits are not `now` (rows not seen in the
/// current step); all ones when there is none. Branch-free, so it vectorizes.
GW_CPU_CLONES uint64_t min_unseen_value(const uint64_t* GW_RESTRICT v, int64_t n, uint64_t now) {
  uint64_t low = ~uint64_t{0};
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t x = (v[i] & emb::kValueStepMask) == now ? ~uint64_t{0} : v[i];
    low = x < low ? x : low;
  }
  return low;
}

/// scan_bucket without expiry, where a slot's rank follows from its digest and value alone: an
/// empty slot by a digest compare, else the first minimum over the values of the slots not seen
/// at c.step.
emb::Victim scan_bucket_values(const TableView& t, const Home& h, const Clock& c) {
  emb::Victim best;
  const int64_t n = h.hi - h.lo;
  int64_t empty = -1;
  for_each_match(t.digest + h.lo, n, kEmptySlot, [&](int64_t i) {
    empty = i;
    return true;
  });
  if (empty >= 0) {
    best.rank = emb::kRankEmpty;
    best.slot = h.lo + empty;
    return best;
  }
  const uint64_t now = static_cast<uint64_t>(c.step) & emb::kValueStepMask;
  const uint64_t* v = t.value + h.lo;
  const uint64_t low = min_unseen_value(v, n, now);
  int64_t at = -1;
  if (low != ~uint64_t{0})
    for (int64_t i = 0; i < n && at < 0; ++i) at = v[i] == low ? i : -1;  // the first (a seen value differs in its low bits)
  if (at < 0) {
    // Every slot seen now, or every value the maximum (then the spec decides).
    for (int64_t i = 0; i < n; ++i)
      if ((v[i] & emb::kValueStepMask) != now) return scan_bucket(t, h, PolicyParams{}, c);
    return best;
  }
  best.rank = emb::kRankLive;
  best.value = low;
  best.slot = h.lo + at;
  return best;
}

struct KeyPos {
  uint64_t k;  ///< emb::key_order of the key
  int32_t p;   ///< its position
};

/// Stable LSD radix sort of a[0..n) by k, 8 bits a pass: the eight digit histograms in one
/// read, then a scatter per digit that is not the same for every element (skipped: small or
/// clustered ids need fewer passes). 256 buckets keep each scatter's write streams in L1.
void radix_sort(KeyPos* a, KeyPos* tmp, size_t n) {
  constexpr int kPasses = 8;
  std::vector<size_t> count(kPasses * 256, 0);
  for (size_t i = 0; i < n; ++i)
    for (int d = 0; d < kPasses; ++d) ++count[d * 256 + ((a[i].k >> (8 * d)) & 255)];
  KeyPos *src = a, *dst = tmp;
  for (int d = 0; d < kPasses; ++d) {
    size_t* c = count.data() + d * 256;
    if (std::find(c, c + 256, n) != c + 256) continue;  // one digit: nothing moves
    size_t sum = 0;
    for (int b = 0; b < 256; ++b) sum += std::exchange(c[b], sum);
    for (size_t i = 0; i < n; ++i) dst[c[(src[i].k >> (8 * d)) & 255]++] = src[i];
    std::swap(src, dst);
  }
  if (src != a) std::copy(src, src + n, a);
}

/// Stable sort of a by k: two halves sorted on two threads, then merged (ties from the first
/// half first, so positions stay ascending within a key), when there is enough to share.
/// Stable insertion sort of a[0..n) by k (n small).
void insertion_sort(KeyPos* a, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    const KeyPos x = a[i];
    size_t j = i;
    for (; j > 0 && a[j - 1].k > x.k; --j) a[j] = a[j - 1];
    a[j] = x;
  }
}

/// Stable sort of a[0..n) by k; tmp holds n entries too. One MSD pass spreads the entries over
/// about n buckets by the top bits of k − min(k) (so clustered ids spread as well as random
/// ones), then each bucket — a few entries for any but a heavily skewed spread — is sorted on
/// its own: insertion sort when small, the LSD radix sort otherwise.
void sort_keys(KeyPos* a, KeyPos* tmp, size_t n) {
  if (n < 1024) {
    radix_sort(a, tmp, n);
    return;
  }
  uint64_t lo = ~uint64_t{0}, hi = 0;
  for (size_t i = 0; i < n; ++i) {
    lo = std::min(lo, a[i].k);
    hi = std::max(hi, a[i].k);
  }
  int bits = 1;
  while ((size_t{1} << bits) < n && bits < 20) ++bits;
  int shift = 0;
  while (((hi - lo) >> shift) >= (uint64_t{1} << bits)) ++shift;
  const size_t buckets = ((hi - lo) >> shift) + 1;
  thread_local std::vector<uint32_t> count_buf;
  if (count_buf.size() < buckets + 1) count_buf.resize(buckets + 1);
  uint32_t* count = count_buf.data();
  std::fill(count, count + buckets + 1, 0u);
  for (size_t i = 0; i < n; ++i) ++count[((a[i].k - lo) >> shift) + 1];
  for (size_t b = 0; b < buckets; ++b) count[b + 1] += count[b];  // count[b]: bucket b's start
  for (size_t i = 0; i < n; ++i) tmp[count[(a[i].k - lo) >> shift]++] = a[i];
  // count[b] is now bucket b's end (= bucket b + 1's start).
  size_t start = 0;
  for (size_t b = 0; b < buckets; ++b) {
    const size_t end = count[b], len = end - start;
    if (len > 1) {
      if (len <= 32 || shift == 0) {
        if (shift > 0) insertion_sort(tmp + start, len);  // shift 0: one key per bucket already
      } else {
        radix_sort(tmp + start, a + start, len);
      }
    }
    start = end;
  }
  std::copy(tmp, tmp + n, a);
}

/// A per-thread buffer of at least n entries, kept between calls: a fresh megabyte each lookup
/// costs its page faults.
template <class T>
T* scratch_buffer(std::vector<T>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
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

namespace {

/// emb_unique for a batch that repeats its keys (the common case: each field has a modest
/// vocabulary): the distinct keys are gathered in a small open-addressing table as they come,
/// only those are sorted, and the positions are grouped by a counting pass — the same output as
/// the sort of every position, at a fraction of the cost. Returns -1, having written nothing that
/// the sort path does not overwrite, once more than `limit` distinct keys turn up.
int64_t unique_by_hash(const int64_t* keys, int64_t n, int64_t limit, int64_t* ukeys, int32_t* inverse,
                       int32_t* perm, int32_t* seg) {
  struct Slot {
    int64_t key;
    int32_t id;  ///< first-seen index of the key, -1: empty
  };
  size_t cap = 64;
  while (cap < static_cast<size_t>(2 * limit)) cap <<= 1;  // load ≤ 1/2
  thread_local std::vector<Slot> table_buf;
  thread_local std::vector<int64_t> first_buf;
  thread_local std::vector<int32_t> count_buf, rank_buf;
  thread_local std::vector<KeyPos> sort_a, sort_b;
  Slot* table = scratch_buffer(table_buf, cap);
  std::fill(table, table + cap, Slot{0, -1});
  int64_t* first = scratch_buffer(first_buf, static_cast<size_t>(limit));  // key of each first-seen index
  int32_t* count = scratch_buffer(count_buf, static_cast<size_t>(limit));
  const size_t mask = cap - 1;
  int32_t U = 0;
  for (int64_t p = 0; p < n; ++p) {
    const int64_t k = keys[p];
    size_t h = static_cast<size_t>(emb::mix64(static_cast<uint64_t>(k))) & mask;
    while (table[h].id >= 0 && table[h].key != k) h = (h + 1) & mask;
    if (table[h].id < 0) {
      if (U == limit) return -1;
      table[h] = {k, U};
      first[U] = k;
      count[U++] = 0;
    }
    inverse[p] = table[h].id;  // the first-seen index for now; the rank below
    ++count[table[h].id];
  }
  // The distinct keys in ascending order: rank[first-seen index].
  KeyPos* kp = scratch_buffer(sort_a, static_cast<size_t>(U));
  for (int32_t f = 0; f < U; ++f) kp[f] = {emb::key_order(first[f]), f};
  sort_keys(kp, scratch_buffer(sort_b, static_cast<size_t>(U)), static_cast<size_t>(U));
  int32_t* rank = scratch_buffer(rank_buf, static_cast<size_t>(U));
  int32_t start = 0;
  for (int32_t r = 0; r < U; ++r) {
    const int32_t f = kp[r].p;
    rank[f] = r;
    ukeys[r] = first[f];
    seg[r] = start;
    start += count[f];
  }
  seg[U] = static_cast<int32_t>(n);
  // Positions grouped by key, ascending within each: seg[r] serves as key r's cursor, then is
  // put back.
  for (int64_t p = 0; p < n; ++p) {
    const int32_t r = rank[inverse[p]];
    inverse[p] = r;
    perm[seg[r]++] = static_cast<int32_t>(p);
  }
  for (int32_t r = U; r > 0; --r) seg[r] = seg[r - 1];
  seg[0] = 0;
  return U;
}

}  // namespace

int64_t emb_unique(const int64_t* keys, int64_t n, int64_t* ukeys, int32_t* inverse, int32_t* perm,
                   int32_t* seg) {
  // Most batches repeat their keys: dedup by hash while the distinct keys stay few.
  if (n >= 256) {
    const int64_t U = unique_by_hash(keys, n, std::max<int64_t>(64, n / 8), ukeys, inverse, perm, seg);
    if (U >= 0) return U;
  }
  // (key order, position) pairs sorted by key, stably, so positions stay ascending within a key.
  thread_local std::vector<KeyPos> buf_a, buf_b;
  KeyPos* kp = scratch_buffer(buf_a, static_cast<size_t>(n));
  for (int64_t p = 0; p < n; ++p) kp[p] = {emb::key_order(keys[p]), static_cast<int32_t>(p)};
  sort_keys(kp, scratch_buffer(buf_b, static_cast<size_t>(n)), static_cast<size_t>(n));
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
                 bool train, const PolicyParams& p, const Clock& c, int32_t* urow, uint8_t* status, int64_t* hits) {
  const bool ttl = emb::has_ttl(p);
  std::atomic<int64_t> hit_count{0};
  parallel_for(0, U, kGrainKeys, [&](int64_t lo, int64_t hi) {
    // A pipeline over the keys: the bucket's digests of key u + 2·kPrefetch, the matching row's
    // metadata of key u + kPrefetch, then key u's probe finds both in cache.
    for (int64_t u = lo; u < std::min(hi, lo + 2 * kPrefetch); ++u) prefetch_bucket(t, ukeys[u]);
    int64_t found = 0;
    for (int64_t u = lo; u < hi; ++u) {
      if (u + 2 * kPrefetch < hi) prefetch_bucket(t, ukeys[u + 2 * kPrefetch]);
      if (u + kPrefetch < hi) prefetch_match(t, ukeys[u + kPrefetch]);
      const int64_t r = probe(t, ukeys[u]);
      const bool expired = r >= 0 && ttl && emb::is_expired(p, c, t.meta[r]);
      if (!train) {
        urow[u] = r >= 0 && !expired ? static_cast<int32_t>(r) : -1;
        status[u] = urow[u] >= 0 ? kHit : kReject;
      } else {
        urow[u] = static_cast<int32_t>(r);
        status[u] = r < 0 ? kNew : expired ? kReinit : kHit;
      }
      if (status[u] == kHit) found += seg[u + 1] - seg[u];
    }
    hit_count += found;
  });
  *hits = hit_count.load();
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

int64_t emb_insert(const TableView& t, const int64_t* ukeys, const int32_t* seg, int64_t U, uint8_t* status,
                   int32_t* urow, const PolicyParams& p, const InitParams& init, const Clock& c, int64_t* evicted) {
  // Buckets are split among the threads; each walks the new keys in u order and places those
  // of its buckets, so every bucket takes its keys in ascending key order whatever the split.
  std::atomic<int64_t> placed{0}, displaced{0};
  const bool ttl = emb::has_ttl(p);
  const int64_t grain = std::max<int64_t>(1, (t.buckets + num_threads() - 1) / num_threads());
  parallel_for(0, t.buckets, grain, [&](int64_t blo, int64_t bhi) {
    // This chunk's new keys, each with its bucket (hashed once).
    std::vector<std::pair<int32_t, Home>> mine;
    for (int64_t u = 0; u < U; ++u) {
      if (status[u] != kNew) continue;
      const Home h = home_of(t, ukeys[u]);
      const int64_t b = h.lo / t.bucket_size;
      if (b >= blo && b < bhi) mine.emplace_back(static_cast<int32_t>(u), h);
    }
    int64_t in = 0, out = 0;
    const int64_t m = static_cast<int64_t>(mine.size());
    // Placed keys are started kStartBatch at a time, while their rows, prefetched when the key
    // took its slot, are arriving in cache.
    int32_t batch[kStartBatch];
    int64_t pending = 0;
    for (int64_t i = 0; i < std::min(m, kPrefetch); ++i) prefetch_victims(t, mine[i].second);
    for (int64_t i = 0; i < m; ++i) {
      if (i + kPrefetch < m) prefetch_victims(t, mine[i + kPrefetch].second);
      const auto& [u, h] = mine[i];
      const emb::Victim best = ttl ? scan_bucket(t, h, p, c) : scan_bucket_values(t, h, c);
      if (best.rank == emb::kRankNone) {
        status[u] = kDropped;
        continue;
      }
      out += best.rank != emb::kRankEmpty;
      ++in;
      // Claimed now, as seen at c.step, so a later key of this batch cannot take it: the value
      // says so (the metadata too where expiry reads it; otherwise init_rows writes it).
      t.digest[best.slot] = h.digest;
      t.value[best.slot] = emb::eviction_value(p, c.step, 0.0f, 0.0f);
      if (ttl) {
        t.meta[best.slot].key = ukeys[u];
        t.meta[best.slot].last_step = emb::step32(c.step);
      }
      urow[u] = static_cast<int32_t>(best.slot);
      prefetch_start(t, best.slot);
      batch[pending++] = u;
      if (pending == kStartBatch) {
        init_rows(t, p, init, ukeys, seg, urow, batch, pending, c);
        pending = 0;
      }
    }
    init_rows(t, p, init, ukeys, seg, urow, batch, pending, c);
    placed += in;
    displaced += out;
  });
  if (ttl) {  // expired keys keep their slot and start over
    parallel_for(0, U, kGrainKeys, [&](int64_t lo, int64_t hi) {
      std::vector<int32_t> again;
      for (int64_t u = lo; u < hi; ++u)
        if (status[u] == kReinit) again.push_back(static_cast<int32_t>(u));
      init_rows(t, p, init, ukeys, seg, urow, again.data(), static_cast<int64_t>(again.size()), c);
    });
  }
  *evicted = displaced.load();
  return placed.load();
}

int64_t emb_select_victims(const TableView& t, const PolicyParams& p, const Clock& c, int64_t count,
                           int32_t* victims) {
  if (count <= 0) return 0;
  std::vector<emb::Victim> cand;
  for (int64_t s = 0; s < t.capacity; ++s) {
    const emb::Victim v = emb::candidate(t, s, p, c);
    if (v.rank == emb::kRankExpired || v.rank == emb::kRankLive) cand.push_back(v);
  }
  const int64_t k = std::min<int64_t>(count, static_cast<int64_t>(cand.size()));
  if (k == 0) return 0;
  auto less = [&](const emb::Victim& a, const emb::Victim& b) { return emb::victim_less(a, b); };
  std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end(), less);
  for (int64_t i = 0; i < k; ++i) victims[i] = static_cast<int32_t>(cand[i].slot);
  return k;
}

int64_t emb_sweep(const TableView& t, const PolicyParams& p, const Clock& c, bool expired, int32_t min_updates,
                  int32_t* victims) {
  int64_t n = 0;
  for (int64_t r = 0; r < t.capacity; ++r) {
    if (t.digest[r] == kEmptySlot) continue;
    if ((expired && emb::is_expired(p, c, t.meta[r])) || (min_updates > 0 && t.update_count[r] < min_updates))
      victims[n++] = static_cast<int32_t>(r);
  }
  return n;
}

void emb_remove(const TableView& t, const int32_t* rows, int64_t n) {
  for (int64_t i = 0; i < n; ++i) t.digest[rows[i]] = kEmptySlot;
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
      if (r < 0 || !emb::slot_holds(t, r, keys[j0])) continue;
      std::fill(g.begin(), g.end(), 0.0f);
      for (int64_t i = first; i < last; ++i) axpy_row(g.data(), grads + (perm ? perm[i] : i) * dim, 1.0f, dim);
      float bc1 = 1.0f, bc2 = 1.0f;
      if (o.kind == SparseOpt::kAdam) emb::adam_corrections(o, t.update_count[r], &bc1, &bc2);
      float* w = t.weight + static_cast<int64_t>(r) * dim;
      float* st = t.state ? t.state + static_cast<int64_t>(r) * t.state_width : nullptr;
      update_row(o, w, st, g.data(), dim, bc1, bc2);
      t.update_count[r] += 1;
      t.meta[r].changed_step = emb::step32(step);
    }
  });
}

void emb_write_rows(const TableView& t, const PolicyParams& p, const int32_t* rows, int64_t n, const float* weight,
                    const float* state,
                    const int64_t* last_step, const double* last_time, const int64_t* changed_step,
                    const int32_t* update_count, const float* freq, const float* score) {
  parallel_for(0, n, row_grain(t.dim + t.state_width), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t r = rows[i];
      std::memcpy(t.weight + r * t.dim, weight + i * t.dim, t.dim * sizeof(float));
      if (t.state_width)
        std::memcpy(t.state + r * t.state_width, state + i * t.state_width, t.state_width * sizeof(float));
      emb::copy_meta(t, p, r, i, last_step, last_time, changed_step, update_count, freq, score);
    }
  });
}

}  // namespace gw::cpu
