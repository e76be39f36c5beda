// adam — CPU twin. See adam.h.
#include <cmath>

#include "../../core/error.h"
#include "../../core/simd.h"
#include "adam.h"
#include "multi_tensor_cpu.h"

namespace gw {

void check_adam_options(const AdamOptions& o) {
  GW_CHECK(std::isfinite(o.lr) && o.lr >= 0, kArgument, "Expected a finite lr >= 0 but received ", o.lr);
  GW_CHECK(o.beta1 >= 0 && o.beta1 < 1, kArgument, "Expected beta1 in [0, 1) but received ", o.beta1);
  GW_CHECK(o.beta2 >= 0 && o.beta2 < 1, kArgument, "Expected beta2 in [0, 1) but received ", o.beta2);
  GW_CHECK(std::isfinite(o.eps) && o.eps >= 0, kArgument, "Expected a finite eps >= 0 but received ", o.eps);
  GW_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, kArgument,
           "Expected a finite weightDecay >= 0 but received ", o.weight_decay);
  GW_CHECK(o.step >= 1, kArgument, "Expected a step >= 1 but received ", o.step);
}

AdamScalars adam_scalars(const AdamOptions& o) {
  check_adam_options(o);
  const double t = static_cast<double>(o.step);
  const double bc1 = 1.0 - std::pow(static_cast<double>(o.beta1), t);
  const double bc2 = 1.0 - std::pow(static_cast<double>(o.beta2), t);
  AdamScalars s;
  s.l2 = o.decoupled ? 0.f : o.weight_decay;
  s.decay = o.decoupled ? static_cast<float>(1.0 - double(o.lr) * o.weight_decay) : 1.f;
  s.beta1 = o.beta1;
  s.beta2 = o.beta2;
  s.eps = o.eps;
  s.step_size = static_cast<float>(o.lr / bc1);
  s.bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  return s;
}

}  // namespace gw

namespace gw::cpu {

GW_CPU_CLONES static void adam_range(float* GW_RESTRICT p, const float* GW_RESTRICT grad, float* GW_RESTRICT m,
                                     float* GW_RESTRICT v, int64_t n, AdamScalars s) {
  for (int64_t j = 0; j < n; ++j) {
    const float g = grad[j] + s.l2 * p[j];
    const float pj = p[j] * s.decay;
    const float mj = s.beta1 * m[j] + (1.f - s.beta1) * g;
    const float vj = s.beta2 * v[j] + (1.f - s.beta2) * g * g;
    m[j] = mj;
    v[j] = vj;
    p[j] = pj - s.step_size * mj / (std::sqrt(vj) / s.bc2_sqrt + s.eps);
  }
}

GW_CPU_CLONES static void adam_amsgrad_range(float* GW_RESTRICT p, const float* GW_RESTRICT grad,
                                             float* GW_RESTRICT m, float* GW_RESTRICT v, float* GW_RESTRICT max_v,
                                             int64_t n, AdamScalars s) {
  for (int64_t j = 0; j < n; ++j) {
    const float g = grad[j] + s.l2 * p[j];
    const float pj = p[j] * s.decay;
    const float mj = s.beta1 * m[j] + (1.f - s.beta1) * g;
    const float vj = s.beta2 * v[j] + (1.f - s.beta2) * g * g;
    const float vmax = max_v[j] > vj ? max_v[j] : vj;
    m[j] = mj;
    v[j] = vj;
    max_v[j] = vmax;
    p[j] = pj - s.step_size * mj / (std::sqrt(vmax) / s.bc2_sqrt + s.eps);
  }
}

void adam_step(float* const* params, const float* const* grads, float* const* m, float* const* v,
               float* const* max_v, const int64_t* numels, int64_t count, const AdamOptions& o) {
  const AdamScalars s = adam_scalars(o);  // checks o
  optim_cpu::for_each_item(numels, count, [&](int64_t, const optim_cpu::Item& it) {
    const int64_t t = it.tensor, b = it.begin;
    if (max_v)
      adam_amsgrad_range(params[t] + b, grads[t] + b, m[t] + b, v[t] + b, max_v[t] + b, it.len, s);
    else
      adam_range(params[t] + b, grads[t] + b, m[t] + b, v[t] + b, it.len, s);
  });
}

}  // namespace gw::cpu
