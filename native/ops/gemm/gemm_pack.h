// gemm — packing of A and B blocks into micro-panels (layouts in gemm_kernel.h). Transposes
// are absorbed here; rows/columns past the matrix edge are zero, so micro-kernels always
// run full MR×NR tiles.
#pragma once
#include <algorithm>
#include <cstdint>

namespace gw::cpu::gemm_detail {

/// Packs op(A)[i0 : i0+mc, p0 : p0+kc] into ceil(mc/mr) micro-panels of mr×kc.
/// A is (m_total, k_total) row-major, or (k_total, m_total) when trans.
inline void pack_a(const float* a, bool trans, int64_t m_total, int64_t k_total, int64_t i0, int64_t mc,
                   int64_t p0, int64_t kc, int mr, float* out) {
  for (int64_t ip = 0; ip < mc; ip += mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - ip));
    float* dst = out + ip * kc;  // panel ip/mr starts at (ip/mr)·mr·kc
    if (!trans) {
      for (int r = 0; r < rows; ++r) {
        const float* src = a + (i0 + ip + r) * k_total + p0;
        for (int64_t p = 0; p < kc; ++p) dst[p * mr + r] = src[p];
      }
      for (int r = rows; r < mr; ++r)
        for (int64_t p = 0; p < kc; ++p) dst[p * mr + r] = 0.f;
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = a + (p0 + p) * m_total + i0 + ip;
        float* d = dst + p * mr;
        for (int r = 0; r < rows; ++r) d[r] = src[r];
        for (int r = rows; r < mr; ++r) d[r] = 0.f;
      }
    }
  }
}

/// Packs op(B)[p0 : p0+kc, j0 + jp_lo·nr : ...] panels [jp_lo, jp_hi) of a block nc wide into
/// kc×nr micro-panels (panel q at out + q·nr·kc). B is (k_total, n_total), or (n_total, k_total)
/// when trans.
inline void pack_b(const float* b, bool trans, int64_t k_total, int64_t n_total, int64_t p0, int64_t kc,
                   int64_t j0, int64_t nc, int nr, int64_t jp_lo, int64_t jp_hi, float* out) {
  for (int64_t q = jp_lo; q < jp_hi; ++q) {
    const int64_t jp = q * nr;
    const int cols = static_cast<int>(std::min<int64_t>(nr, nc - jp));
    float* dst = out + q * nr * kc;
    if (!trans) {
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = b + (p0 + p) * n_total + j0 + jp;
        float* d = dst + p * nr;
        for (int j = 0; j < cols; ++j) d[j] = src[j];
        for (int j = cols; j < nr; ++j) d[j] = 0.f;
      }
    } else {
      for (int j = 0; j < cols; ++j) {
        const float* src = b + (j0 + jp + j) * k_total + p0;
        for (int64_t p = 0; p < kc; ++p) dst[p * nr + j] = src[p];
      }
      for (int j = cols; j < nr; ++j)
        for (int64_t p = 0; p < kc; ++p) dst[p * nr + j] = 0.f;
    }
  }
}

}  // namespace gw::cpu::gemm_detail
