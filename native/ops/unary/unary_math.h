// unary_math — the scalar formulas of unary.h, shared by the CPU and CUDA twins. Each op
// is a functor holding its parameters, with fwd(x) and grad(g, x, y); grad reads x only
// when kX and y only when kY (y = fwd(x), recomputed by callers when not given).
#pragma once
#include <cmath>

#include "../../core/error.h"
#include "unary.h"

#include "../../core/hd.h"
#include "../../core/hd_math.h"

namespace gw::unop {

#define GW_UNOP(Name, kXv, kYv, FWD, GRAD)                                   \
  struct Name {                                                              \
    float p0, p1;                                                            \
    static constexpr bool kX = kXv, kY = kYv;                                \
    GW_HD float fwd(float x) const { (void)p0, (void)p1; return FWD; }        \
    GW_HD float grad(float g, float x, float y) const {                      \
      (void)x, (void)y, (void)p0, (void)p1;                                  \
      return GRAD;                                                           \
    }                                                                        \
  };

GW_UNOP(Neg, false, false, -x, -g)
GW_UNOP(Exp, false, true, fm::exp(x), g * y)
GW_UNOP(Log, true, false, fm::log(x), g / x)
GW_UNOP(Sqrt, false, true, sqrtf(x), g * 0.5f / y)
GW_UNOP(Rsqrt, false, true, 1.0f / sqrtf(x), -0.5f * g * y * y * y)
GW_UNOP(Abs, true, false, fabsf(x), x > 0.0f ? g : (x < 0.0f ? -g : 0.0f))
GW_UNOP(Square, true, false, x * x, 2.0f * g * x)
GW_UNOP(Reciprocal, false, true, 1.0f / x, -g * y * y)
GW_UNOP(Sin, true, false, sinf(x), g * cosf(x))
GW_UNOP(Cos, true, false, cosf(x), -g * sinf(x))
GW_UNOP(Affine, false, false, x * p0 + p1, g * p0)
GW_UNOP(PowScalar, true, false, powf(x, p0), p0 == 0.0f ? 0.0f : g * p0 * powf(x, p0 - 1.0f))
GW_UNOP(Clamp, true, false, x < p0 ? p0 : (x > p1 ? p1 : x), (x >= p0 && x <= p1) ? g : 0.0f)

#undef GW_UNOP

}  // namespace gw::unop

namespace gw {
/// Calls f(functor) for op, the functor carrying p0 / p1.
template <typename F>
inline void with_unop(UnaryOp op, float p0, float p1, F&& f) {
  switch (op) {
    case UnaryOp::kNeg: f(unop::Neg{p0, p1}); return;
    case UnaryOp::kExp: f(unop::Exp{p0, p1}); return;
    case UnaryOp::kLog: f(unop::Log{p0, p1}); return;
    case UnaryOp::kSqrt: f(unop::Sqrt{p0, p1}); return;
    case UnaryOp::kRsqrt: f(unop::Rsqrt{p0, p1}); return;
    case UnaryOp::kAbs: f(unop::Abs{p0, p1}); return;
    case UnaryOp::kSquare: f(unop::Square{p0, p1}); return;
    case UnaryOp::kReciprocal: f(unop::Reciprocal{p0, p1}); return;
    case UnaryOp::kSin: f(unop::Sin{p0, p1}); return;
    case UnaryOp::kCos: f(unop::Cos{p0, p1}); return;
    case UnaryOp::kAffine: f(unop::Affine{p0, p1}); return;
    case UnaryOp::kPowScalar: f(unop::PowScalar{p0, p1}); return;
    case UnaryOp::kClamp: f(unop::Clamp{p0, p1}); return;
  }
  GW_THROW(kArgument, "unknown unary op ", static_cast<int>(op));
}
}  // namespace gw
