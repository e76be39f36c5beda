// poso_attention — what both devices share: the preconditions, the key-validity rule, the
// gate lookups, and the tile plan of the CUDA kernels (kept here, on the host, so the plan
// and its shared-memory budget are checked without a GPU). See poso_attention.h.
#pragma once
#include <algorithm>
#include <cstdint>

#include "../../core/error.h"
#include "../../core/hd.h"
#include "poso_attention.h"

namespace gw::poso {

/// Keys [0, key_end) may be valid for sample b: lengths[b] (clamped to L) or L.
GW_HD int64_t key_end(const PosoAttentionArgs& a, int64_t b) {
  if (!a.lengths) return a.keys;
  const int64_t n = a.lengths[b];
  return n < 0 ? 0 : (n > a.keys ? a.keys : n);
}

/// Whether key l < key_end of sample b takes part in the softmax.
GW_HD bool key_valid(const PosoAttentionArgs& a, int64_t b, int64_t l) {
  return !a.mask || a.mask[b * a.keys + l] != 0;
}

/// gv[b, i, h] (1 without gates).
GW_HD float fold_gate(const PosoAttentionArgs& a, int64_t b, int64_t i, int64_t h) {
  if (!a.gv) return 1.f;
  return a.gv[(b * a.folds + i) * a.gate_heads + (a.gate_heads == 1 ? 0 : h)];
}

/// The preconditions of both calls (both devices).
inline void check_args(const PosoAttentionArgs& a, const char* fn) {
  GW_CHECK(a.batch >= 0 && a.queries >= 0 && a.keys >= 0 && a.heads >= 1, kShape, fn, ": bad sizes");
  GW_CHECK(a.head_dim >= 1 && a.head_dim <= kPosoMaxHeadDim, kShape, fn, ": head_dim must be in [1, ",
           kPosoMaxHeadDim, "] but is ", a.head_dim);
  GW_CHECK(a.folds >= 1 && a.folds <= kPosoMaxFolds, kShape, fn, ": folds must be in [1, ", kPosoMaxFolds,
           "] but is ", a.folds);
  GW_CHECK(a.gv || a.folds == 1, kArgument, fn, ": ", a.folds, " value folds need gates (gv)");
  GW_CHECK(!a.gv || a.gate_heads == 1 || a.gate_heads == a.heads, kShape, fn,
           ": gv's last dim must be 1 or heads");
  GW_CHECK(!(a.lengths && a.mask), kArgument, fn, ": give lengths or mask, not both");
  const bool empty = a.batch * a.queries * a.heads == 0;
  GW_CHECK(empty || (a.q && (a.keys == 0 || (a.k && a.v))), kArgument, fn, ": null q, k or v");
}

inline void check_forward(const PosoAttentionArgs& a, const PosoAttentionOut& o) {
  check_args(a, "poso_attention_forward");
  GW_CHECK(a.batch * a.queries * a.heads == 0 || o.out, kArgument, "poso_attention_forward: null out");
}

inline void check_backward(const PosoAttentionArgs& a, const PosoAttentionGrads& g) {
  check_args(a, "poso_attention_backward");
  GW_CHECK(!g.dgk || a.gk, kArgument, "poso_attention_backward: dgk needs gk");
  GW_CHECK(!g.dgv || a.gv, kArgument, "poso_attention_backward: dgv needs gv");
  GW_CHECK(a.batch * a.queries * a.heads == 0 || (g.dout && g.out && g.lse), kArgument,
           "poso_attention_backward: null dout, out or lse");
}

// ---- the CUDA tile plan (host code; the kernels read it from their parameters)

constexpr int kThreads = 128;          ///< threads per block, both kernels
constexpr int64_t kTileElems = 2048;   ///< a key or query tile holds at most this many floats
constexpr int64_t kPairCap = 1024;     ///< forward: most (query, key) score pairs per tile
constexpr int64_t kBwdPairCap = 512;   ///< backward: most pairs per tile
constexpr int64_t kBwdQueryElems = 1024;  ///< backward: most floats per query tile
constexpr int64_t kSmemBudget = 48 * 1024;  ///< bytes of shared memory a block may use
constexpr int64_t kWarps = kThreads / 32;
/// Floats after the tiles: the fold gates, and the backward's per-warp dgv partials.
constexpr int64_t kSmemExtra = kPosoMaxFolds * (1 + kWarps);

/// Tiles of one launch: lt key positions and qt query rows; row strides in shared memory.
struct Tiles {
  int64_t lt = 1, qt = 1;
  int64_t kstride = 1;  ///< head_dim + 1: the K (and mixed V) tile rows, padded off the banks
  int64_t bytes = 0;    ///< dynamic shared memory
};

/// Largest power of two ≤ x (x ≥ 1).
inline int64_t floor_pow2(int64_t x) {
  int64_t p = 1;
  while (p * 2 <= x) p *= 2;
  return p;
}

/// Forward: K and mixed V tiles (lt, dh+1) each, queries (qt, dh), scores (qt, lt),
/// row max / sum / rescale (3·qt), the extras.
inline Tiles forward_tiles(const PosoAttentionArgs& a) {
  Tiles t;
  const int64_t dh = a.head_dim;
  t.lt = std::min<int64_t>(64, std::max<int64_t>(8, floor_pow2(kTileElems / dh)));
  t.qt = std::max<int64_t>(1, std::min({a.queries, int64_t{32}, kTileElems / dh, kPairCap / t.lt}));
  t.kstride = dh + 1;
  t.bytes = 4 * (2 * t.lt * t.kstride + t.qt * dh + t.qt * t.lt + 3 * t.qt + kSmemExtra);
  GW_CHECK(t.bytes <= kSmemBudget, kInternal, "poso_attention: forward tile plan over budget");
  return t;
}

/// Backward: K and mixed V tiles (lt, dh+1) each, their gradient accumulators (lt, dh) each,
/// queries and dout (qt, dh) each, p and ds (qt, lt) each, lse and Dq (qt) each, the extras.
inline Tiles backward_tiles(const PosoAttentionArgs& a) {
  Tiles t;
  const int64_t dh = a.head_dim;
  t.lt = std::min<int64_t>(64, std::max<int64_t>(8, floor_pow2(kTileElems / dh)));
  t.qt = std::max<int64_t>(1, std::min({a.queries, int64_t{32}, kBwdQueryElems / dh, kBwdPairCap / t.lt}));
  t.kstride = dh + 1;
  t.bytes = 4 * (2 * t.lt * t.kstride + 2 * t.lt * dh + 2 * t.qt * dh + 2 * t.qt * t.lt + 2 * t.qt + kSmemExtra);
  GW_CHECK(t.bytes <= kSmemBudget, kInternal, "poso_attention: backward tile plan over budget");
  return t;
}

}  // namespace gw::poso
