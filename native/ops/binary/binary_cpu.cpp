// binary — CPU twin and test oracle. See binary.h.
// The collapsed broadcast plan leaves an innermost dim whose strides are 1 or 0 for each
// operand; every output row of that dim runs one vectorizable loop (GW_CPU_CLONES), with
// the op picked by a switch outside the loop.
#include <vector>

#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "../reduce/reduce.h"
#include "binary.h"
#include "binary_math.h"

namespace gw::cpu {

static constexpr int64_t kGrainElems = 1 << 15;


template <typename Op>
GW_ALWAYS_INLINE void fwd_run(const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n) {
  Op f;
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = f.fwd(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f.fwd(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f.fwd(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = f.fwd(a[i * sa], b[i * sb]);
  }
}

GW_CPU_CLONES static void fwd_row(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* out,
                                  int64_t n) {
  switch (op) {
    case BinaryOp::kAdd: return fwd_run<binop::Add>(a, sa, b, sb, out, n);
    case BinaryOp::kSub: return fwd_run<binop::Sub>(a, sa, b, sb, out, n);
    case BinaryOp::kMul: return fwd_run<binop::Mul>(a, sa, b, sb, out, n);
    case BinaryOp::kDiv: return fwd_run<binop::Div>(a, sa, b, sb, out, n);
    case BinaryOp::kMaximum: return fwd_run<binop::Maximum>(a, sa, b, sb, out, n);
    case BinaryOp::kMinimum: return fwd_run<binop::Minimum>(a, sa, b, sb, out, n);
    case BinaryOp::kPow: return fwd_run<binop::Pow>(a, sa, b, sb, out, n);
  }
}

/// da/db (out-shaped, either may be null) for one row; y (the forward result) may be null.
template <typename Op>
GW_ALWAYS_INLINE void grad_run(const float* g, const float* a, int64_t sa, const float* b, int64_t sb,
                               const float* y, float* da, float* db, int64_t n) {
  Op f;
  for (int64_t i = 0; i < n; ++i) {
    float av = a[i * sa], bv = b[i * sb];
    float yv = Op::kNeedsY ? (y ? y[i] : f.fwd(av, bv)) : 0.0f;
    float gda = f.da(g[i], av, bv, yv), gdb = f.db(g[i], av, bv, yv);
    if (da) da[i] = gda;
    if (db) db[i] = gdb;
  }
}

GW_CPU_CLONES static void grad_row(BinaryOp op, const float* g, const float* a, int64_t sa, const float* b,
                                   int64_t sb, const float* y, float* da, float* db, int64_t n) {
  switch (op) {
    case BinaryOp::kAdd: return grad_run<binop::Add>(g, a, sa, b, sb, y, da, db, n);
    case BinaryOp::kSub: return grad_run<binop::Sub>(g, a, sa, b, sb, y, da, db, n);
    case BinaryOp::kMul: return grad_run<binop::Mul>(g, a, sa, b, sb, y, da, db, n);
    case BinaryOp::kDiv: return grad_run<binop::Div>(g, a, sa, b, sb, y, da, db, n);
    case BinaryOp::kMaximum: return grad_run<binop::Maximum>(g, a, sa, b, sb, y, da, db, n);
    case BinaryOp::kMinimum: return grad_run<binop::Minimum>(g, a, sa, b, sb, y, da, db, n);
    case BinaryOp::kPow: return grad_run<binop::Pow>(g, a, sa, b, sb, y, da, db, n);
  }
}

/// Calls fn(row_offset_out, offset_a, offset_b, inner_sa, inner_sb, len) for every output
/// row of the plan's innermost dim, in parallel.
template <typename F>
static void for_each_row(const BroadcastPlan& p, F fn) {
  if (p.numel == 0) return;
  if (p.ndim == 0) {
    fn(int64_t{0}, int64_t{0}, int64_t{0}, int64_t{1}, int64_t{1}, int64_t{1});
    return;
  }
  const int last = p.ndim - 1;
  const int64_t len = p.size[last], rows = p.numel / len;
  parallel_for(0, rows, 1 + kGrainElems / len, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t oa = 0, ob = 0, idx = r;
      for (int d = last - 1; d >= 0; --d) {
        int64_t q = idx / p.size[d], c = idx - q * p.size[d];
        oa += c * p.sa[d];
        ob += c * p.sb[d];
        idx = q;
      }
      fn(r * len, oa, ob, p.sa[last], p.sb[last], len);
    }
  });
}

void binary(BinaryOp op, const float* a, const Dims& a_shape, const float* b, const Dims& b_shape, float* out) {
  BroadcastPlan p = make_broadcast_plan(a_shape, b_shape);
  for_each_row(p, [&](int64_t o, int64_t oa, int64_t ob, int64_t sa, int64_t sb, int64_t len) {
    fwd_row(op, a + oa, sa, b + ob, sb, out + o, len);
  });
}

void binary_backward(BinaryOp op, const float* gout, const float* a, const Dims& a_shape, const float* b,
                     const Dims& b_shape, const float* out, float* ga, float* gb) {
  BroadcastPlan p = make_broadcast_plan(a_shape, b_shape);
  Dims o_shape = broadcast_dims(a_shape, b_shape);
  if (op == BinaryOp::kAdd || op == BinaryOp::kSub) {  // ±gout, reduced over broadcast dims
    if (ga) sum_to_shape(gout, o_shape, a_shape, ga, 1.0f);
    if (gb) sum_to_shape(gout, o_shape, b_shape, gb, op == BinaryOp::kSub ? -1.0f : 1.0f);
    return;
  }
  // Element-wise gradients in out's shape: straight into ga/gb when that operand is not
  // broadcast, else into a temporary that sum_to_shape reduces.
  const bool a_full = a_shape.numel() == p.numel, b_full = b_shape.numel() == p.numel;
  std::vector<float> ta, tb;
  float* da = ga;
  float* db = gb;
  if (ga && !a_full) ta.resize(static_cast<size_t>(p.numel)), da = ta.data();
  if (gb && !b_full) tb.resize(static_cast<size_t>(p.numel)), db = tb.data();
  if (da || db)
    for_each_row(p, [&](int64_t o, int64_t oa, int64_t ob, int64_t sa, int64_t sb, int64_t len) {
      grad_row(op, gout + o, a + oa, sa, b + ob, sb, out ? out + o : nullptr, da ? da + o : nullptr,
               db ? db + o : nullptr, len);
    });
  if (ga && !a_full) sum_to_shape(da, o_shape, a_shape, ga, 1.0f);
  if (gb && !b_full) sum_to_shape(db, o_shape, b_shape, gb, 1.0f);
}

}  // namespace gw::cpu
