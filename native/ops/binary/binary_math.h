// binary_math — the scalar formulas of binary.h, shared by the CPU and CUDA twins so both
// compute exactly the same thing. Each op is a functor with fwd(a, b), da(g, a, b, y) and
// db(g, a, b, y) where y = fwd(a, b) (read only when kNeedsY).
#pragma once
#include <cmath>

#include "../../core/error.h"
#include "binary.h"

#include "../../core/hd.h"

namespace gw::binop {

struct Add {
  static constexpr bool kNeedsY = false;
  GW_HD float fwd(float a, float b) const { return a + b; }
  GW_HD float da(float g, float, float, float) const { return g; }
  GW_HD float db(float g, float, float, float) const { return g; }
};
struct Sub {
  static constexpr bool kNeedsY = false;
  GW_HD float fwd(float a, float b) const { return a - b; }
  GW_HD float da(float g, float, float, float) const { return g; }
  GW_HD float db(float g, float, float, float) const { return -g; }
};
struct Mul {
  static constexpr bool kNeedsY = false;
  GW_HD float fwd(float a, float b) const { return a * b; }
  GW_HD float da(float g, float, float b, float) const { return g * b; }
  GW_HD float db(float g, float a, float, float) const { return g * a; }
};
struct Div {
  static constexpr bool kNeedsY = false;
  GW_HD float fwd(float a, float b) const { return a / b; }
  GW_HD float da(float g, float, float b, float) const { return g / b; }
  GW_HD float db(float g, float a, float b, float) const { return -g * a / (b * b); }
};
struct Maximum {  // NaN propagates (either operand NaN → NaN)
  static constexpr bool kNeedsY = false;
  GW_HD float fwd(float a, float b) const { return (a != a || a >= b) ? a : b; }
  GW_HD float da(float g, float a, float b, float) const { return a >= b ? g : 0.0f; }
  GW_HD float db(float g, float a, float b, float) const { return a >= b ? 0.0f : g; }
};
struct Minimum {
  static constexpr bool kNeedsY = false;
  GW_HD float fwd(float a, float b) const { return (a != a || a <= b) ? a : b; }
  GW_HD float da(float g, float a, float b, float) const { return a <= b ? g : 0.0f; }
  GW_HD float db(float g, float a, float b, float) const { return a <= b ? 0.0f : g; }
};
struct Pow {
  static constexpr bool kNeedsY = true;
  GW_HD float fwd(float a, float b) const { return powf(a, b); }
  GW_HD float da(float g, float a, float b, float) const { return b == 0.0f ? 0.0f : g * b * powf(a, b - 1.0f); }
  GW_HD float db(float g, float a, float b, float y) const {
    return (a == 0.0f && b >= 0.0f) ? 0.0f : g * y * logf(a);
  }
};

}  // namespace gw::binop

namespace gw {
/// Calls f(functor) for op; f is a generic lambda that instantiates a kernel for it.
template <typename F>
inline void with_binop(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::kAdd: f(binop::Add{}); return;
    case BinaryOp::kSub: f(binop::Sub{}); return;
    case BinaryOp::kMul: f(binop::Mul{}); return;
    case BinaryOp::kDiv: f(binop::Div{}); return;
    case BinaryOp::kMaximum: f(binop::Maximum{}); return;
    case BinaryOp::kMinimum: f(binop::Minimum{}); return;
    case BinaryOp::kPow: f(binop::Pow{}); return;
  }
  GW_THROW(kArgument, "unknown binary op ", static_cast<int>(op));
}
}  // namespace gw
