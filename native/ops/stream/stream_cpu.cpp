#include "stream.h"

#include <algorithm>
#include <chrono>

#include "../../core/allocator.h"
#include "../../core/parallel.h"
#include "../../core/simd.h"

namespace gw::cpu {

GW_CPU_CLONES static void triad(float* GW_RESTRICT a, const float* GW_RESTRICT b, const float* GW_RESTRICT c,
                                float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

double stream_triad_gbs(int64_t n, int reps) {
  size_t bytes = static_cast<size_t>(n) * sizeof(float);
  float* a = static_cast<float*>(mem_alloc(Device::kCpu, bytes));
  float* b = static_cast<float*>(mem_alloc(Device::kCpu, bytes));
  float* c = static_cast<float*>(mem_alloc(Device::kCpu, bytes));
  auto pass = [&](float s) {
    parallel_for(0, n, 1 << 16, [&](int64_t lo, int64_t hi) {
      if (s == 0.f) {  // first touch on the pool's threads, as the kernels will
        std::fill(b + lo, b + hi, 1.f);
        std::fill(c + lo, c + hi, 2.f);
      }
      triad(a + lo, b + lo, c + lo, s, hi - lo);
    });
  };
  pass(0.f);
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    pass(0.5f);
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 3.0 * static_cast<double>(bytes) / sec / 1e9);
  }
  mem_free(Device::kCpu, a, bytes);
  mem_free(Device::kCpu, b, bytes);
  mem_free(Device::kCpu, c, bytes);
  return best;
}

}  // namespace gw::cpu
