// moe — CPU twin and test oracle. See moe.h.
// Gates: one pass per row (draws, survivors, max, sum, write). Combination: one task per
// sample b (parallel over the batch); the inner loops are axpys and dot products over H.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../../core/parallel.h"
#include "../../core/blas1.h"
#include "../../core/simd.h"
#include "moe.h"
#include "moe_math.h"

namespace gw::cpu {
namespace {

/// Gate row r: keep flags into `keep` (E), then the softmax over the kept logits.
void gate_row(const MoeGateArgs& a, int64_t r, uint8_t* keep) {
  const int64_t E = a.experts;
  const float* z = a.logits + r * E;
  float* y = a.gates + r * E;
  int64_t kept = 0, best = 0;
  float best_u = -1.f;
  for (int64_t j = 0; j < E; ++j) {
    const float u = a.p > 0.f ? moe::gate_uniform(a, r, j) : 1.f;
    keep[j] = u >= a.p;
    kept += keep[j];
    if (u > best_u) best_u = u, best = j;
  }
  if (kept == 0) keep[best] = 1;
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < E; ++j)
    if (keep[j]) m = std::max(m, z[j]);
  float sum = 0.f;
  for (int64_t j = 0; j < E; ++j) {
    y[j] = keep[j] ? std::exp(z[j] - m) : 0.f;
    sum += y[j];
  }
  const float inv = 1.f / sum;
  for (int64_t j = 0; j < E; ++j) y[j] *= inv;
}

}  // namespace

void moe_gate_forward(const MoeGateArgs& a) {
  moe::check_gate(a);
  const int64_t E = a.experts;
  parallel_for(0, a.rows, std::max<int64_t>(1, 4096 / E), [&](int64_t lo, int64_t hi) {
    std::vector<uint8_t> local(a.keep ? 0 : E);
    for (int64_t r = lo; r < hi; ++r) gate_row(a, r, a.keep ? a.keep + r * E : local.data());
  });
}

void moe_combine_forward(const MoeCombineArgs& a, float* out) {
  moe::check_combine(a, "moe_combine_forward");
  GW_CHECK(a.batch == 0 || out, kArgument, "moe_combine_forward: null out");
  const int64_t E = a.experts, B = a.batch, T = a.tasks, H = a.hidden;
  parallel_for(0, B, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, E * T * H)), [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b)
      for (int64_t t = 0; t < T; ++t) {
        float* o = out + (t * B + b) * H;
        std::fill(o, o + H, 0.f);
        for (int64_t e = 0; e < E; ++e) {
          const float w = a.scale * a.g[(b * T + t) * E + e] * (a.pg ? a.pg[b * E + e] : 1.f);
          axpy(w, a.x + moe::combine_row(a, e, b), o, H);
        }
      }
  });
}

void moe_combine_backward(const MoeCombineArgs& a, const MoeCombineGrads& g) {
  moe::check_combine_grads(a, g);
  const int64_t E = a.experts, B = a.batch, T = a.tasks, H = a.hidden;
  parallel_for(0, B, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, E * T * H)), [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b)
      for (int64_t e = 0; e < E; ++e) {
        const float* x = a.x + moe::combine_row(a, e, b);
        const float pg = a.pg ? a.pg[b * E + e] : 1.f;
        float* dx = g.dx ? g.dx + moe::combine_row(a, e, b) : nullptr;
        if (dx) std::fill(dx, dx + H, 0.f);
        float dpg = 0.f;
        for (int64_t t = 0; t < T; ++t) {
          const float* dout = g.dout + (t * B + b) * H;
          const float gt = a.g[(b * T + t) * E + e];
          if (g.dg || g.dpg) {
            const float s = dot(x, dout, H);
            if (g.dg) g.dg[(b * T + t) * E + e] = a.scale * pg * s;
            dpg += gt * s;
          }
          if (dx) axpy(a.scale * pg * gt, dout, dx, H);
        }
        if (g.dpg) g.dpg[b * E + e] = a.scale * dpg;
      }
  });
}

}  // namespace gw::cpu
