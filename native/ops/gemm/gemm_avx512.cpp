// gemm — AVX-512 micro-kernel (MR×32: MR rows broadcast from packed A, two zmm of packed
// B per k) and the AVX-512 FMA-peak burst. Compiled with -mavx512f/dq/bw/vl; called only
// when cpu_isa() reports AVX-512. See gemm_kernel.h for the packed layouts.
#include <immintrin.h>

#include "gemm_kernel.h"

namespace gw::cpu::gemm_detail {
namespace {

constexpr int kNr = 32;
constexpr int kMr = 12;  // 24 accumulators + 2 B vectors + 1 broadcast of 32 zmm registers

template <int MR>
void ukernel(int64_t kc, const float* pa, const float* pb, float* c, const TileStore& st) {
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(pb);
    const __m512 b1 = _mm512_load_ps(pb + 16);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(pa[r]);
      acc0[r] = _mm512_fmadd_ps(a, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(a, b1, acc1[r]);
    }
    pa += MR;
    pb += kNr;
  }

  const __m512 alpha = _mm512_set1_ps(st.alpha);
  const __m512 beta = _mm512_set1_ps(st.beta);
  const int n = st.n;
  const __mmask16 m0 = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __mmask16 m1 = n >= 32 ? __mmask16(0xFFFF) : n > 16 ? __mmask16((1u << (n - 16)) - 1) : __mmask16(0);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    if (r >= st.m) break;
    float* row = c + r * st.ldc;
    __m512 v0 = _mm512_mul_ps(alpha, acc0[r]);
    __m512 v1 = _mm512_mul_ps(alpha, acc1[r]);
    if (st.load_c) {
      v0 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m0, row), v0);
      v1 = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(m1, row + 16), v1);
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

}  // namespace

KernelDesc kernel_avx512() { return {kMr, kNr, 256, 264, 1024, &ukernel<kMr>}; }

double fma_burst_avx512(int64_t iters) {
  constexpr int kAcc = 12;  // > FMA latency (4) × zmm FMAs per cycle (1 on Zen 4, 2 on Intel)
  __m512 acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_set1_ps(0.5f + 0.01f * j);
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(0.001f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_fmadd_ps(acc[j], x, y);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kAcc; ++j) s = _mm512_add_ps(s, acc[j]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return double(iters) * kAcc * 16 * 2;
}

}  // namespace gw::cpu::gemm_detail
