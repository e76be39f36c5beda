// grad_norm — CPU twin. See grad_norm.h.
#include <cmath>
#include <vector>

#include "../../core/error.h"
#include "../../core/simd.h"
#include "grad_norm.h"
#include "multi_tensor_cpu.h"

namespace gw::cpu {

/// Σ x² in float64 with eight interleaved accumulators (a fixed order, so deterministic).
GW_CPU_CLONES static double sum_squares(const float* GW_RESTRICT x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(x[j + k]) * x[j + k];
  for (int k = 0; j < n; ++j, ++k) acc[k] += static_cast<double>(x[j]) * x[j];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

GW_CPU_CLONES static void scale_range(float* GW_RESTRICT x, int64_t n, float s) {
  for (int64_t j = 0; j < n; ++j) x[j] *= s;
}

void grad_norm(const float* const* grads, const int64_t* numels, int64_t count, float* out, uint8_t* non_finite) {
  int64_t total_elems = 0;
  std::vector<optim_cpu::Item> items = optim_cpu::chunk_items(numels, count, &total_elems);
  std::vector<double> partial(items.size());
  optim_cpu::run_items(items, total_elems, [&](int64_t i, const optim_cpu::Item& it) {
    partial[i] = sum_squares(grads[it.tensor] + it.begin, it.len);
  });
  double total = 0;
  for (double s : partial) total += s;
  const float norm = static_cast<float>(std::sqrt(total));
  out[0] = norm;
  if (non_finite) non_finite[0] = std::isfinite(norm) ? 0 : 1;
}

void clip_by_norm(float* const* grads, const int64_t* numels, int64_t count, const float* norm, float max_norm) {
  GW_CHECK(std::isfinite(max_norm) && max_norm >= 0, kArgument, "Expected a finite maxNorm >= 0 but received ",
           max_norm);
  const float total = norm[0];
  const float scale = max_norm / (total + 1e-6f);
  if (!std::isfinite(total) || !(scale < 1.f)) return;
  optim_cpu::for_each_item(numels, count, [&](int64_t, const optim_cpu::Item& it) {
    scale_range(grads[it.tensor] + it.begin, it.len, scale);
  });
}

}  // namespace gw::cpu
