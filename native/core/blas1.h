// gatewise — the level-1 loops the CPU twins share: dot products with 8 partial sums (a fixed
// order, so results do not depend on threads or the ISA clone) and axpy. Always inlined, so
// they vectorize inside GW_CPU_CLONES callers.
#pragma once
#include <cstdint>

#include "simd.h"

namespace gw::cpu {

/// Σ a[d]·b[d] over n, in 8 interleaved partial sums added pairwise.
GW_ALWAYS_INLINE float dot(const float* GW_RESTRICT a, const float* GW_RESTRICT b, int64_t n) {
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  int64_t d = 0;
  for (; d + 8 <= n; d += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[d + j] * b[d + j];
  for (; d < n; ++d) acc[d & 7] += a[d] * b[d];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/// y += s·x over n.
GW_ALWAYS_INLINE void axpy(float s, const float* GW_RESTRICT x, float* GW_RESTRICT y, int64_t n) {
  for (int64_t d = 0; d < n; ++d) y[d] += s * x[d];
}

}  // namespace gw::cpu
