// activation — CPU twin and test oracle. See activation.h.
#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "act_math.h"
#include "activation.h"

namespace gw::cpu {

static constexpr int64_t kGrain = 1 << 15;

template <typename A>
GW_ALWAYS_INLINE void grad_run(A f, const float* g, const float* x, const float* y, bool from_y, float* gx,
                               int64_t n) {
  if (from_y)
    for (int64_t i = 0; i < n; ++i) gx[i] = f.grad_y(g[i], y[i]);
  else
    for (int64_t i = 0; i < n; ++i) gx[i] = f.grad_x(g[i], x[i]);
}


GW_CPU_CLONES static void fwd_range(Act act, float slope, const float* x, float* y, int64_t n) {
#define GW_CALL(A) map_run(A{slope}, x, y, n)
  GW_ACT_SWITCH(act, GW_CALL)
#undef GW_CALL
}

GW_CPU_CLONES static void grad_range(Act act, float slope, const float* g, const float* x, const float* y,
                                     bool from_y, float* gx, int64_t n) {
#define GW_CALL(A) grad_run(A{slope}, g, x, y, from_y, gx, n)
  GW_ACT_SWITCH(act, GW_CALL)
#undef GW_CALL
}

static void check_act(Act act) {
  GW_CHECK(static_cast<int>(act) >= 0 && static_cast<int>(act) <= static_cast<int>(Act::kGelu), kArgument,
           "unknown activation ", static_cast<int>(act));
}

void activation(Act act, float slope, const float* x, float* y, int64_t n) {
  check_act(act);
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) { fwd_range(act, slope, x + lo, y + lo, hi - lo); });
}

void activation_backward(Act act, float slope, const float* gout, const float* x, const float* y, float* gx,
                         int64_t n) {
  check_act(act);
  bool from_y = act_backward_uses_y(act, slope, x != nullptr, y != nullptr);
  if (act == Act::kIdentity) from_y = false, x = gout;  // grad_x ignores x; any valid pointer
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    grad_range(act, slope, gout + lo, x ? x + lo : nullptr, y ? y + lo : nullptr, from_y, gx + lo, hi - lo);
  });
}

}  // namespace gw::cpu
