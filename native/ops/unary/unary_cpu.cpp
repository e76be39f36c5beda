// unary — CPU twin and test oracle. See unary.h.
#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "unary.h"
#include "unary_math.h"

namespace gw::cpu {

static constexpr int64_t kGrain = 1 << 15;

template <typename Op>
GW_ALWAYS_INLINE void grad_run(Op f, const float* g, const float* x, const float* y, float* gx, int64_t n) {
  if (Op::kY && !y) {
    for (int64_t i = 0; i < n; ++i) gx[i] = f.grad(g[i], x[i], f.fwd(x[i]));
  } else {
    for (int64_t i = 0; i < n; ++i) gx[i] = f.grad(g[i], Op::kX ? x[i] : 0.0f, Op::kY ? y[i] : 0.0f);
  }
}

// The op's switch lives inside each cloned function so every loop is compiled per ISA.
#define GW_UNARY_SWITCH(op, CALL)                           \
  switch (op) {                                             \
    case UnaryOp::kNeg: CALL(unop::Neg); break;             \
    case UnaryOp::kExp: CALL(unop::Exp); break;             \
    case UnaryOp::kLog: CALL(unop::Log); break;             \
    case UnaryOp::kSqrt: CALL(unop::Sqrt); break;           \
    case UnaryOp::kRsqrt: CALL(unop::Rsqrt); break;         \
    case UnaryOp::kAbs: CALL(unop::Abs); break;             \
    case UnaryOp::kSquare: CALL(unop::Square); break;       \
    case UnaryOp::kReciprocal: CALL(unop::Reciprocal); break; \
    case UnaryOp::kSin: CALL(unop::Sin); break;             \
    case UnaryOp::kCos: CALL(unop::Cos); break;             \
    case UnaryOp::kAffine: CALL(unop::Affine); break;       \
    case UnaryOp::kPowScalar: CALL(unop::PowScalar); break; \
    case UnaryOp::kClamp: CALL(unop::Clamp); break;         \
  }

GW_CPU_CLONES static void fwd_range(UnaryOp op, float p0, float p1, const float* x, float* out, int64_t n) {
#define GW_CALL(Op) map_run(Op{p0, p1}, x, out, n)
  GW_UNARY_SWITCH(op, GW_CALL)
#undef GW_CALL
}

GW_CPU_CLONES static void grad_range(UnaryOp op, float p0, float p1, const float* g, const float* x, const float* y,
                                     float* gx, int64_t n) {
#define GW_CALL(Op) grad_run(Op{p0, p1}, g, x, y, gx, n)
  GW_UNARY_SWITCH(op, GW_CALL)
#undef GW_CALL
}

static void check_op(UnaryOp op) {
  GW_CHECK(static_cast<int>(op) >= 0 && static_cast<int>(op) <= static_cast<int>(UnaryOp::kClamp), kArgument,
           "unknown unary op ", static_cast<int>(op));
}

void unary(UnaryOp op, float p0, float p1, const float* x, float* out, int64_t n) {
  check_op(op);
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) { fwd_range(op, p0, p1, x + lo, out + lo, hi - lo); });
}

void unary_backward(UnaryOp op, float p0, float p1, const float* gout, const float* x, const float* y, float* gx,
                    int64_t n) {
  check_op(op);
  GW_CHECK(x || !unary_needs_x(op), kArgument, "this unary op's backward needs x");
  GW_CHECK(x || y || !unary_uses_y(op), kArgument, "this unary op's backward needs y or x");
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    grad_range(op, p0, p1, gout + lo, x ? x + lo : nullptr, y ? y + lo : nullptr, gx + lo, hi - lo);
  });
}

}  // namespace gw::cpu
