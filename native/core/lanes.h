// gatewise — reductions over kLanes fixed lanes: element i goes to lane i mod kLanes, and
// the lanes are combined in order at the end. GCC vectorizes these (it will not reorder a
// plain float sum), and the result depends on neither the ISA nor how callers split rows
// among threads. Always inlined: call them from a GW_CPU_CLONES function.
#pragma once
#include <cstdint>

#include "vec_math.h"  // GW_VM_INLINE

namespace gw {

constexpr int kLanes = 16;

/// Σ a[i] in float64.
GW_VM_INLINE double lane_sum(const float* a, int64_t n) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += a[i + k];
  for (int k = 0; i < n; ++i, ++k) acc[k] += a[i];
  double s = 0;
  for (int k = 0; k < kLanes; ++k) s += acc[k];
  return s;
}

/// max(init, max_i a[i]); NaN entries are skipped (a comparison with NaN is false).
GW_VM_INLINE float lane_max(const float* a, int64_t n, float init) {
  float acc[kLanes];
  for (int k = 0; k < kLanes; ++k) acc[k] = init;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] = a[i + k] > acc[k] ? a[i + k] : acc[k];
  for (int k = 0; i < n; ++i, ++k) acc[k] = a[i] > acc[k] ? a[i] : acc[k];
  float m = init;
  for (int k = 0; k < kLanes; ++k) m = acc[k] > m ? acc[k] : m;
  return m;
}

}  // namespace gw
