// adagrad — CPU twin. See adagrad.h.
#include <cmath>

#include "../../core/error.h"
#include "../../core/simd.h"
#include "adagrad.h"
#include "multi_tensor_cpu.h"

namespace gw {

void check_adagrad_options(const AdagradOptions& o) {
  GW_CHECK(std::isfinite(o.lr) && o.lr >= 0, kArgument, "Expected a finite lr >= 0 but received ", o.lr);
  GW_CHECK(std::isfinite(o.lr_decay) && o.lr_decay >= 0, kArgument, "Expected a finite lrDecay >= 0 but received ",
           o.lr_decay);
  GW_CHECK(std::isfinite(o.eps) && o.eps >= 0, kArgument, "Expected a finite eps >= 0 but received ", o.eps);
  GW_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, kArgument,
           "Expected a finite weightDecay >= 0 but received ", o.weight_decay);
  GW_CHECK(o.step >= 1, kArgument, "Expected a step >= 1 but received ", o.step);
}

float adagrad_clr(const AdagradOptions& o) {
  check_adagrad_options(o);
  return static_cast<float>(double(o.lr) / (1.0 + double(o.step - 1) * o.lr_decay));
}

}  // namespace gw

namespace gw::cpu {

GW_CPU_CLONES static void adagrad_range(float* GW_RESTRICT p, const float* GW_RESTRICT grad, float* GW_RESTRICT acc,
                                        int64_t n, float clr, float eps, float wd) {
  for (int64_t j = 0; j < n; ++j) {
    const float g = grad[j] + wd * p[j];
    const float a = acc[j] + g * g;
    acc[j] = a;
    p[j] = p[j] - clr * g / (std::sqrt(a) + eps);
  }
}

void adagrad_step(float* const* params, const float* const* grads, float* const* acc, const int64_t* numels,
                  int64_t count, const AdagradOptions& o) {
  const float clr = adagrad_clr(o);
  optim_cpu::for_each_item(numels, count, [&](int64_t, const optim_cpu::Item& it) {
    const int64_t t = it.tensor, b = it.begin;
    adagrad_range(params[t] + b, grads[t] + b, acc[t] + b, it.len, clr, o.eps, o.weight_decay);
  });
}

}  // namespace gw::cpu
