// act_math — activation formulas as inline host/device functors, shared by the activation
// op, its CPU twin, and any kernel that fuses an activation into its epilogue (GEMM, gated
// FC). fwd(x); grad_x(g, x) from the pre-activation; grad_y(g, y) from the output where
// the derivative allows it (kFromY).
#pragma once
#include <cmath>

#include "../../core/dtype.h"
#include "../../core/error.h"

#include "../../core/hd.h"
#include "../../core/hd_math.h"

namespace gw::actf {

struct Identity {
  float slope;
  static constexpr bool kFromY = true;
  GW_HD float fwd(float x) const { return x; }
  GW_HD float grad_x(float g, float) const { return g; }
  GW_HD float grad_y(float g, float) const { return g; }
};
struct Relu {
  float slope;
  static constexpr bool kFromY = true;
  GW_HD float fwd(float x) const { return x > 0.0f ? x : (x != x ? x : 0.0f); }  // keeps NaN
  GW_HD float grad_x(float g, float x) const { return x > 0.0f ? g : 0.0f; }
  GW_HD float grad_y(float g, float y) const { return y > 0.0f ? g : 0.0f; }
};
struct LeakyRelu {
  float slope;
  static constexpr bool kFromY = true;  // valid for slope ≥ 0 only; callers check
  GW_HD float fwd(float x) const { return x > 0.0f ? x : slope * x; }
  GW_HD float grad_x(float g, float x) const { return x > 0.0f ? g : slope * g; }
  GW_HD float grad_y(float g, float y) const { return y > 0.0f ? g : slope * g; }
};
struct Sigmoid {
  float slope;
  static constexpr bool kFromY = true;
  GW_HD float fwd(float x) const { return fm::sigmoid(x); }
  GW_HD float grad_x(float g, float x) const { return grad_y(g, fwd(x)); }
  GW_HD float grad_y(float g, float y) const { return g * y * (1.0f - y); }
};
struct Tanh {
  float slope;
  static constexpr bool kFromY = true;
  GW_HD float fwd(float x) const { return fm::tanh(x); }
  GW_HD float grad_x(float g, float x) const { return grad_y(g, fwd(x)); }
  GW_HD float grad_y(float g, float y) const { return g * (1.0f - y * y); }
};
struct Gelu {
  float slope;
  static constexpr bool kFromY = false;
  GW_HD float fwd(float x) const { return 0.5f * x * (1.0f + fm::erf(x * 0.70710678118654752f)); }
  GW_HD float grad_x(float g, float x) const {
    float cdf = 0.5f * (1.0f + fm::erf(x * 0.70710678118654752f));
    float pdf = 0.39894228040143268f * fm::exp(-0.5f * x * x);
    return g * (cdf + x * pdf);
  }
  GW_HD float grad_y(float g, float) const { return g; }  // unused: kFromY is false
  /// fwd(x) and grad_x(g, x) together, sharing one erf (the same values: x·Φ = ½x(1 + erf)
  /// exactly), for fused backward passes that need both; GCC vectorizes this form.
  GW_HD void fwd_and_grad(float g, float x, float& y, float& gx) const {
    float cdf = 0.5f * (1.0f + fm::erf(x * 0.70710678118654752f));
    float pdf = 0.39894228040143268f * fm::exp(-0.5f * x * x);
    y = x * cdf;
    gx = g * (cdf + x * pdf);
  }
};

}  // namespace gw::actf

namespace gw {

/// Expands CALL(Functor) for the functor of a runtime `act`: for loops that must be compiled
/// once per activation (so each vectorizes), e.g. `#define GW_CALL(F) run<F>(...)`.
#define GW_ACT_SWITCH(act, CALL)                        \
  switch (act) {                                        \
    case Act::kIdentity: CALL(actf::Identity); break;   \
    case Act::kRelu: CALL(actf::Relu); break;           \
    case Act::kLeakyRelu: CALL(actf::LeakyRelu); break; \
    case Act::kSigmoid: CALL(actf::Sigmoid); break;     \
    case Act::kTanh: CALL(actf::Tanh); break;           \
    case Act::kGelu: CALL(actf::Gelu); break;           \
  }

/// Calls f(functor) for act, the functor carrying slope.
template <typename F>
inline void with_act(Act act, float slope, F&& f) {
  switch (act) {
    case Act::kIdentity: f(actf::Identity{slope}); return;
    case Act::kRelu: f(actf::Relu{slope}); return;
    case Act::kLeakyRelu: f(actf::LeakyRelu{slope}); return;
    case Act::kSigmoid: f(actf::Sigmoid{slope}); return;
    case Act::kTanh: f(actf::Tanh{slope}); return;
    case Act::kGelu: f(actf::Gelu{slope}); return;
  }
  GW_THROW(kArgument, "unknown activation ", static_cast<int>(act));
}

/// act(x) for a runtime act (a switch per element: for epilogues, not hot loops).
GW_HD float act_apply(Act act, float slope, float x) {
  switch (act) {
    case Act::kIdentity: return x;
    case Act::kRelu: return actf::Relu{slope}.fwd(x);
    case Act::kLeakyRelu: return actf::LeakyRelu{slope}.fwd(x);
    case Act::kSigmoid: return actf::Sigmoid{slope}.fwd(x);
    case Act::kTanh: return actf::Tanh{slope}.fwd(x);
    case Act::kGelu: return actf::Gelu{slope}.fwd(x);
  }
  return x;
}

/// g · act′(x) from the pre-activation x, for a runtime act.
GW_HD float act_grad(Act act, float slope, float g, float x) {
  switch (act) {
    case Act::kIdentity: return g;
    case Act::kRelu: return actf::Relu{slope}.grad_x(g, x);
    case Act::kLeakyRelu: return actf::LeakyRelu{slope}.grad_x(g, x);
    case Act::kSigmoid: return actf::Sigmoid{slope}.grad_x(g, x);
    case Act::kTanh: return actf::Tanh{slope}.grad_x(g, x);
    case Act::kGelu: return actf::Gelu{slope}.grad_x(g, x);
  }
  return g;
}

/// The backward's inputs for act: which of x / y it will read. Throws when neither fits.
inline bool act_backward_uses_y(Act act, float slope, bool have_x, bool have_y) {
  switch (act) {
    case Act::kIdentity: return false;
    case Act::kGelu:
      GW_CHECK(have_x, kArgument, "gelu backward needs x (the pre-activation)");
      return false;
    case Act::kLeakyRelu:
      if (have_x) return false;
      GW_CHECK(have_y, kArgument, "leaky_relu backward needs x or y");
      GW_CHECK(slope >= 0.0f, kArgument, "leaky_relu backward from y needs slope >= 0 but slope is ", slope,
               "; pass x");
      return true;
    default:
      GW_CHECK(have_x || have_y, kArgument, "activation backward needs x or y");
      return have_y;
  }
}

}  // namespace gw
