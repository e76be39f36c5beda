// gemm — skinny path (see gemm_skinny.h). The problem is viewed as
//   out(r, s) = Σ_p X(r, p) · Y(s, p)     r < R (the long side), s < S ≤ kSkinnyMax
// where X is op(A) and Y is op(B)ᵀ when N is small, or X is op(B)ᵀ and Y is op(A) when M is
// small (then out is Cᵀ). Y is gathered into S contiguous rows; X is read in place, as rows
// (dot products) or, when stored K-major, as columns (axpy into R-long accumulators).
#include <algorithm>
#include <vector>

#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "../activation/act_math.h"
#include "gemm_skinny.h"

namespace gw::cpu::gemm_detail {
namespace {

// Σ x[p]·y[p] with 16 independent partial sums (vectorizes without reassociation flags;
// the summation order is fixed, so results are deterministic).
GW_CPU_CLONES float dot(const float* GW_RESTRICT x, const float* GW_RESTRICT y, int64_t k) {
  constexpr int kLanes = 16;
  float acc[kLanes] = {};
  int64_t p = 0;
  for (; p + kLanes <= k; p += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += x[p + l] * y[p + l];
  float tail = 0.f;
  for (; p < k; ++p) tail += x[p] * y[p];
  float s = 0.f;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s + tail;
}

GW_CPU_CLONES void axpy(float alpha, const float* GW_RESTRICT x, float* GW_RESTRICT y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

struct View {
  const float* x;
  bool x_kmajor;     ///< X(r, p) at x[p·R + r]; else x[r·K + p]
  std::vector<float> y;  ///< Y gathered: (S, K)
  int64_t r_count, s_count, k;
  int64_t out_rs, out_cs;  ///< out(r, s) at c[r·out_rs + s·out_cs]
  bool bias_on_r;          ///< bias indexed by r (M small: r runs over N), else by s
};

}  // namespace

void gemm_skinny(const GemmArgs& g, const float* a, const float* b, float* c, const float* bias, float* pre,
                 const float* gate) {
  const int64_t M = g.m, N = g.n, K = g.k;
  View v;
  v.k = K;
  if (N <= kSkinnyMax) {  // X = op(A) (M×K), Y = op(B)ᵀ (N×K)
    v.x = a, v.x_kmajor = g.trans_a, v.r_count = M, v.s_count = N, v.out_rs = N, v.out_cs = 1, v.bias_on_r = false;
    v.y.resize(static_cast<size_t>(N * K));
    for (int64_t s = 0; s < N; ++s)
      for (int64_t p = 0; p < K; ++p) v.y[size_t(s * K + p)] = g.trans_b ? b[s * K + p] : b[p * N + s];
  } else {  // X = op(B)ᵀ (N×K), Y = op(A) (M×K), out = Cᵀ
    v.x = b, v.x_kmajor = !g.trans_b, v.r_count = N, v.s_count = M, v.out_rs = 1, v.out_cs = N, v.bias_on_r = true;
    v.y.resize(static_cast<size_t>(M * K));
    for (int64_t s = 0; s < M; ++s)
      for (int64_t p = 0; p < K; ++p) v.y[size_t(s * K + p)] = g.trans_a ? a[p * M + s] : a[s * K + p];
  }

  auto finish = [&](int64_t r, int64_t s, float sum) {
    const int64_t o = r * v.out_rs + s * v.out_cs;
    float x = g.alpha * sum + (g.beta != 0.f ? g.beta * c[o] : 0.f);
    if (bias) x += bias[v.bias_on_r ? r : s];
    if (pre) pre[o] = x;
    const float y = act_apply(g.act, g.leaky_slope, x);
    c[o] = gate ? g.gate_scale * gate[o] * y : y;  // gate is laid out like C
  };

  const int64_t R = v.r_count, S = v.s_count;
  if (!v.x_kmajor) {
    parallel_for(0, R, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, K)), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r)
        for (int64_t s = 0; s < S; ++s) finish(r, s, dot(v.x + r * K, v.y.data() + s * K, K));
    });
  } else {
    constexpr int64_t kChunk = 512;  // R-long accumulators of one task: S × 512 floats on the stack
    parallel_for(0, (R + kChunk - 1) / kChunk, 1, [&](int64_t lo, int64_t hi) {
                   float acc[kSkinnyMax][kChunk];
                   for (int64_t q = lo; q < hi; ++q) {
                     const int64_t r0 = q * kChunk, len = std::min(kChunk, R - r0);
                     for (int64_t s = 0; s < S; ++s) std::fill(acc[s], acc[s] + len, 0.f);
                     for (int64_t p = 0; p < K; ++p)
                       for (int64_t s = 0; s < S; ++s) axpy(v.y[size_t(s * K + p)], v.x + p * R + r0, acc[s], len);
                     for (int64_t i = 0; i < len; ++i)
                       for (int64_t s = 0; s < S; ++s) finish(r0 + i, s, acc[s][i]);
                   }
                 });
  }
}

}  // namespace gw::cpu::gemm_detail
