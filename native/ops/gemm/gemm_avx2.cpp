// gemm — AVX2+FMA micro-kernel (6×16: 6 rows broadcast from packed A, two ymm of packed B
// per k) and the AVX2 FMA-peak burst. Compiled with -mavx2 -mfma; called only when
// cpu_isa() reports AVX2 or better. See gemm_kernel.h for the packed layouts.
#include <immintrin.h>

#include "gemm_kernel.h"

namespace gw::cpu::gemm_detail {
namespace {

constexpr int kNr = 16;
constexpr int kMr = 6;  // 12 accumulators + 2 B vectors + 1 broadcast of 16 ymm registers

void ukernel(int64_t kc, const float* pa, const float* pb, float* c, const TileStore& st) {
  __m256 acc0[kMr], acc1[kMr];
#pragma GCC unroll 8
  for (int r = 0; r < kMr; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(pb);
    const __m256 b1 = _mm256_load_ps(pb + 8);
#pragma GCC unroll 8
    for (int r = 0; r < kMr; ++r) {
      const __m256 a = _mm256_broadcast_ss(pa + r);
      acc0[r] = _mm256_fmadd_ps(a, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(a, b1, acc1[r]);
    }
    pa += kMr;
    pb += kNr;
  }

  const __m256 alpha = _mm256_set1_ps(st.alpha);
  const __m256 beta = _mm256_set1_ps(st.beta);
  if (st.m == kMr && st.n == kNr) {
#pragma GCC unroll 8
    for (int r = 0; r < kMr; ++r) {
      float* row = c + r * st.ldc;
      __m256 v0 = _mm256_mul_ps(alpha, acc0[r]);
      __m256 v1 = _mm256_mul_ps(alpha, acc1[r]);
      if (st.load_c) {
        v0 = _mm256_fmadd_ps(beta, _mm256_loadu_ps(row), v0);
        v1 = _mm256_fmadd_ps(beta, _mm256_loadu_ps(row + 8), v1);
      }
      _mm256_storeu_ps(row, v0);
      _mm256_storeu_ps(row + 8, v1);
    }
    return;
  }
  // Edge tile: spill the scaled product, then update only the valid corner.
  alignas(32) float tile[kMr * kNr];
#pragma GCC unroll 8
  for (int r = 0; r < kMr; ++r) {
    _mm256_store_ps(tile + r * kNr, _mm256_mul_ps(alpha, acc0[r]));
    _mm256_store_ps(tile + r * kNr + 8, _mm256_mul_ps(alpha, acc1[r]));
  }
  for (int r = 0; r < st.m; ++r) {
    float* row = c + r * st.ldc;
    const float* t = tile + r * kNr;
    if (st.load_c)
      for (int j = 0; j < st.n; ++j) row[j] = t[j] + st.beta * row[j];
    else
      for (int j = 0; j < st.n; ++j) row[j] = t[j];
  }
}

}  // namespace

KernelDesc kernel_avx2() { return {kMr, kNr, 256, 264, 1024, &ukernel}; }

double fma_burst_avx2(int64_t iters) {
  constexpr int kAcc = 12;  // > FMA latency (4) × ymm FMAs per cycle (2)
  __m256 acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm256_set1_ps(0.5f + 0.01f * j);
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(0.001f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm256_fmadd_ps(acc[j], x, y);
  }
  __m256 s = acc[0];
  for (int j = 1; j < kAcc; ++j) s = _mm256_add_ps(s, acc[j]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  volatile float sink = lanes[0] + lanes[7];
  (void)sink;
  return double(iters) * kAcc * 8 * 2;
}

}  // namespace gw::cpu::gemm_detail
