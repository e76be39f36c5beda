// gated_fc — the per-element formulas of the fused passes, as inline host/device functions
// shared by the CPU twin and the CUDA kernels (one definition of each), and the GEMMs of
// gated_fc.h spelled once for both devices. See gated_fc.h for the math.
#pragma once
#include <type_traits>

#include "../../core/error.h"
#include "../../core/hd.h"
#include "../activation/act_math.h"
#include "../gemm/gemm.h"
#include "gated_fc.h"

namespace gw::gfc {

/// g · act′(z) given a = act(z) as well: from a where that is cheaper (sigmoid, tanh), else
/// from z (relu's and leaky_relu's derivative from z holds for any slope; gelu needs z).
template <typename A>
GW_HD float grad_with(A f, float g, float z, float a) {
  if constexpr (std::is_same<A, actf::Sigmoid>::value || std::is_same<A, actf::Tanh>::value) return f.grad_y(g, a);
  else return f.grad_x(g, z);
}

/// Lazy, one element: dz = C·gate·dy·act′(z).
template <typename A>
GW_HD float lazy_dz(A f, float s, float dy, float z, float gate) {
  return grad_with(f, s * gate * dy, z, f.fwd(z));
}

/// Lazy, one element: dz = C·gate·dy·act′(z) and dgate = C·act(z)·dy.
template <typename A>
GW_HD void lazy_dz_dgate(A f, float s, float dy, float z, float gate, float& dz, float& dgate) {
  float a;
  if constexpr (std::is_same<A, actf::Gelu>::value) f.fwd_and_grad(s * gate * dy, z, a, dz);  // one erf
  else a = f.fwd(z), dz = grad_with(f, s * gate * dy, z, a);
  dgate = s * a * dy;
}

/// Eager, one element: dz = dy·act′(z).
template <typename A>
GW_HD float eager_dz(A f, float dy, float z) {
  return f.grad_x(dy, z);
}

// ---- the GEMMs (host side, both devices)

/// The columns of gate: out (lazy) or in (eager).
inline int64_t gate_cols(const GatedFcArgs& a) { return a.placement == GatePlacement::kLazy ? a.out : a.in; }

/// Cheap invariants of the arguments; `fn` names the caller in the message.
inline void check_args(const GatedFcArgs& a, const char* fn) {
  GW_CHECK(a.rows >= 0 && a.in >= 0 && a.out >= 0, kArgument, fn, ": negative size (rows ", a.rows, ", in ", a.in,
           ", out ", a.out, ")");
  GW_CHECK(a.placement == GatePlacement::kLazy || a.placement == GatePlacement::kEager, kArgument, fn,
           ": unknown gate placement ", static_cast<int>(a.placement));
  GW_CHECK(static_cast<int>(a.act) >= 0 && static_cast<int>(a.act) <= static_cast<int>(Act::kGelu), kArgument, fn,
           ": unknown activation ", static_cast<int>(a.act));
  GW_CHECK((a.rows * a.in == 0 || a.x) && (a.rows * gate_cols(a) == 0 || a.gate) && (a.out * a.in == 0 || a.weight),
           kArgument, fn, ": null x, gate or weight");
}

/// gated_fc_forward's preconditions (both devices).
inline void check_forward(const GatedFcArgs& a, const GatedFcOut& o) {
  check_args(a, "gated_fc_forward");
  const bool eager = a.placement == GatePlacement::kEager;
  GW_CHECK((a.rows * a.out == 0 || o.y) && (!eager || a.rows * a.in == 0 || o.xg), kArgument,
           "gated_fc_forward: null y, or null xg for the eager placement");
}

/// gated_fc_backward's preconditions (both devices); true when dz is dy itself (eager identity).
inline bool check_backward(const GatedFcArgs& a, const GatedFcGrads& g) {
  check_args(a, "gated_fc_backward");
  const bool eager = a.placement == GatePlacement::kEager;
  const bool identity_dz = eager && a.act == Act::kIdentity;
  GW_CHECK(a.rows * a.out == 0 || (g.dy && (g.z || identity_dz)), kArgument,
           "gated_fc_backward: null dy, or null z (needed unless eager with identity)");
  GW_CHECK(!(eager && g.dweight) || a.rows * a.in == 0 || g.xg, kArgument,
           "gated_fc_backward: the eager weight gradient needs xg");
  return identity_dz;
}

/// y = [C·gate ⊙] act(src·Wᵀ + b), pre = z: src (B, in) is x (lazy, gated epilogue) or xg (eager).
inline GemmArgs forward_gemm(const GatedFcArgs& a, const float* src, float* y, float* z) {
  GemmArgs g;
  g.m = a.rows, g.n = a.out, g.k = a.in;
  g.a = src, g.b = a.weight, g.trans_b = true;  // W (out, in) = op(B)ᵀ
  g.c = y, g.stride_c = a.rows * a.out;
  g.bias = a.bias, g.pre = z, g.act = a.act, g.leaky_slope = a.leaky_slope;
  if (a.placement == GatePlacement::kLazy) g.gate = a.gate, g.gate_scale = a.scale;
  return g;
}

/// d (B, in) = dz·W, or C·gate ⊙ (dz·W) when gate (B, in) is given; overwritten.
inline GemmArgs input_grad_gemm(const GatedFcArgs& a, const float* dz, float* d, const float* gate) {
  GemmArgs g;
  g.m = a.rows, g.n = a.in, g.k = a.out;
  g.a = dz, g.b = a.weight;  // W (out, in) = (K, N)
  g.c = d, g.stride_c = a.rows * a.in;
  g.gate = gate, g.gate_scale = a.scale;
  return g;
}

/// dweight (out, in) += dzᵀ·src, src (B, in) being x (lazy) or xg (eager).
inline GemmArgs weight_grad_gemm(const GatedFcArgs& a, const float* dz, const float* src, float* dweight) {
  GemmArgs g;
  g.m = a.out, g.n = a.in, g.k = a.rows;
  g.a = dz, g.trans_a = true;  // dz (B, out) = (K, M)
  g.b = src;                   // (B, in) = (K, N)
  g.c = dweight, g.stride_c = a.out * a.in, g.beta = 1.f;
  return g;
}

}  // namespace gw::gfc
