#include "fill.h"

#include "../../core/parallel.h"
#include "../../core/simd.h"

namespace gw::cpu {

GW_CPU_CLONES static void fill_range(float* GW_RESTRICT out, float value, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = value;
}

void fill(float* out, float value, int64_t n) {
  parallel_for(0, n, 1 << 16, [&](int64_t lo, int64_t hi) { fill_range(out + lo, value, hi - lo); });
}

}  // namespace gw::cpu
