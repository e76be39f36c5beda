// sgd — CPU twin. See sgd.h.
#include <cmath>

#include "../../core/error.h"
#include "../../core/simd.h"
#include "multi_tensor_cpu.h"
#include "sgd.h"

namespace gw {

void check_sgd_options(const SgdOptions& o) {
  GW_CHECK(std::isfinite(o.lr) && o.lr >= 0, kArgument, "Expected a finite lr >= 0 but received ", o.lr);
  GW_CHECK(std::isfinite(o.momentum) && o.momentum >= 0, kArgument, "Expected a finite momentum >= 0 but received ",
           o.momentum);
  GW_CHECK(std::isfinite(o.dampening), kArgument, "Expected a finite dampening but received ", o.dampening);
  GW_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, kArgument,
           "Expected a finite weightDecay >= 0 but received ", o.weight_decay);
  GW_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), kArgument,
           "nesterov needs momentum > 0 and dampening == 0 but received momentum ", o.momentum, " and dampening ",
           o.dampening);
}

}  // namespace gw

namespace gw::cpu {

GW_CPU_CLONES static void sgd_range(float* GW_RESTRICT p, const float* GW_RESTRICT grad, int64_t n, float lr,
                                    float wd) {
  for (int64_t j = 0; j < n; ++j) {
    const float g = grad[j] + wd * p[j];
    p[j] = p[j] - lr * g;
  }
}

GW_CPU_CLONES static void sgd_momentum_range(float* GW_RESTRICT p, const float* GW_RESTRICT grad,
                                             float* GW_RESTRICT buf, int64_t n, float lr, float wd, float mu,
                                             float damp, bool first, bool nesterov) {
  for (int64_t j = 0; j < n; ++j) {
    float g = grad[j] + wd * p[j];
    const float b = first ? g : mu * buf[j] + (1.f - damp) * g;
    buf[j] = b;
    g = nesterov ? g + mu * b : b;
    p[j] = p[j] - lr * g;
  }
}

void sgd_step(float* const* params, const float* const* grads, float* const* momentum_bufs, const int64_t* numels,
              int64_t count, const SgdOptions& o) {
  check_sgd_options(o);
  const bool momentum = o.momentum != 0;
  GW_CHECK(!momentum || momentum_bufs, kArgument, "sgd_step with momentum ", o.momentum, " needs momentum buffers");
  optim_cpu::for_each_item(numels, count, [&](int64_t, const optim_cpu::Item& it) {
    float* p = params[it.tensor] + it.begin;
    const float* g = grads[it.tensor] + it.begin;
    if (momentum)
      sgd_momentum_range(p, g, momentum_bufs[it.tensor] + it.begin, it.len, o.lr, o.weight_decay, o.momentum,
                         o.dampening, o.first_step, o.nesterov);
    else
      sgd_range(p, g, it.len, o.lr, o.weight_decay);
  });
}

}  // namespace gw::cpu
