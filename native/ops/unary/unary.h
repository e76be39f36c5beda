// unary — element-wise unary ops and their scalar-parameter forms.
//   out[i] = f(x[i])          x, out: (n) float32; out may alias x (in place)
//   neg −x   exp eˣ   log ln x   sqrt √x   rsqrt 1/√x   abs |x|   square x²   reciprocal 1/x
//   sin   cos
//   affine x·p0 + p1          pow_scalar x^p0            clamp min(max(x, p0), p1) (NaN stays NaN)
// p0 / p1 are ignored by ops that take no parameter.
//
// unary_backward: gx[i] = gout[i] · f′(x[i])   (overwritten: input-gradient semantics)
//   neg −1   exp y   log 1/x   sqrt 1/(2y)   rsqrt −y³/2   abs sign(x) (0 at 0)   square 2x
//   reciprocal −y²   sin cos x   cos −sin x   affine p0   pow_scalar p0·x^(p0−1) (0 when p0 = 0)
//   clamp 1 where p0 ≤ x ≤ p1, else 0
// x and y (the forward output) may each be null where not needed:
//   from y (x only used to recompute y when y is null): exp, sqrt, rsqrt, reciprocal
//   neither: neg, affine
//   x required: log, abs, square, sin, cos, pow_scalar, clamp   (unary_needs_x)
// gx may alias gout.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw {
enum class UnaryOp : int {
  kNeg = 0, kExp, kLog, kSqrt, kRsqrt, kAbs, kSquare, kReciprocal, kSin, kCos, kAffine, kPowScalar, kClamp
};

/// The backward of op reads x (it cannot be computed from y alone).
inline bool unary_needs_x(UnaryOp op) {
  return !(op == UnaryOp::kNeg || op == UnaryOp::kAffine || op == UnaryOp::kExp || op == UnaryOp::kSqrt ||
           op == UnaryOp::kRsqrt || op == UnaryOp::kReciprocal);
}
/// The backward of op reads y (or x, to recompute it).
inline bool unary_uses_y(UnaryOp op) {
  return op == UnaryOp::kExp || op == UnaryOp::kSqrt || op == UnaryOp::kRsqrt || op == UnaryOp::kReciprocal;
}
}  // namespace gw

namespace gw::cpu {
void unary(UnaryOp op, float p0, float p1, const float* x, float* out, int64_t n);
void unary_backward(UnaryOp op, float p0, float p1, const float* gout, const float* x, const float* y, float* gx,
                    int64_t n);
}  // namespace gw::cpu

namespace gw::cuda {
void unary(UnaryOp op, float p0, float p1, const float* x, float* out, int64_t n, Stream stream);
void unary_backward(UnaryOp op, float p0, float p1, const float* gout, const float* x, const float* y, float* gx,
                    int64_t n, Stream stream);
}  // namespace gw::cuda
