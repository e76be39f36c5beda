// moe — formulas and preconditions shared by the CPU twin and the CUDA kernels. See moe.h.
#pragma once
#include <cstdint>

#include "../../core/error.h"
#include "../../core/hd.h"
#include "../dropout/philox.h"
#include "moe.h"

namespace gw::moe {

/// u for gate (r, j): Philox word i = d·E + j of the stream, d = r or r % T (shared mask).
GW_HD float gate_uniform(const MoeGateArgs& a, int64_t r, int64_t j) {
  const int64_t d = a.shared ? r % a.tasks : r;
  const uint64_t i = static_cast<uint64_t>(d * a.experts + j);
  return philox::to_uniform(philox::block(a.seed, a.offset + i / 4).v[i % 4]);
}

/// Offset of expert e's row for sample b in x (and dx): expert-major or batch-major.
GW_HD int64_t combine_row(const MoeCombineArgs& a, int64_t e, int64_t b) {
  return (a.batch_major ? b * a.experts + e : e * a.batch + b) * a.hidden;
}

/// Counters one call consumes (moe.h).
inline uint64_t gate_counters(const MoeGateArgs& a) {
  if (a.p <= 0.f) return 0;
  const int64_t draws = a.shared ? a.tasks : a.rows;
  return static_cast<uint64_t>((draws * a.experts + 3) / 4);
}

inline void check_gate(const MoeGateArgs& a) {
  GW_CHECK(a.rows >= 0 && a.experts >= 1 && a.tasks >= 1 && a.rows % a.tasks == 0, kShape,
           "moe_gate_forward: rows must be a multiple of tasks and experts ≥ 1 (rows ", a.rows, ", tasks ",
           a.tasks, ", experts ", a.experts, ")");
  GW_CHECK(a.p >= 0.f && a.p < 1.f, kArgument, "Expected a probability in [0, 1) for p but received ", a.p);
  GW_CHECK(a.rows == 0 || (a.logits && a.gates), kArgument, "moe_gate_forward: null logits or gates");
}

inline void check_combine(const MoeCombineArgs& a, const char* fn) {
  GW_CHECK(a.experts >= 1 && a.batch >= 0 && a.tasks >= 1 && a.hidden >= 0, kShape, fn, ": bad sizes (E ",
           a.experts, ", B ", a.batch, ", T ", a.tasks, ", H ", a.hidden, ")");
  GW_CHECK(a.batch == 0 || (a.x && a.g), kArgument, fn, ": null x or g");
}

inline void check_combine_grads(const MoeCombineArgs& a, const MoeCombineGrads& g) {
  check_combine(a, "moe_combine_backward");
  GW_CHECK(!g.dpg || a.pg, kArgument, "moe_combine_backward: dpg needs pg");
  GW_CHECK(a.batch == 0 || g.dout, kArgument, "moe_combine_backward: null dout");
}

}  // namespace gw::moe
