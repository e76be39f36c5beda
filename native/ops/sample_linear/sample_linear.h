// sample_linear — a linear layer whose weight is generated per sample: the one kernel of the
// dynamic-weight family (APG's K×K core S(z), M2M's meta units, CAN's co-action MLP,
// PTUPCDR's personal bridge).
//   pre[b, :] = x[b, :]·W[b] + bias[b, :]          y[b, :] = act(pre[b, :])
// backward, from dpre (the gradient of pre: the caller applies act′, e.g. with the activation
// op, since W and bias are activations here, generated per sample, every gradient OVERWRITES):
//   dx[b, i]    = Σ_j W[b, i, j] · dpre[b, j]
//   dW[b, i, j] = x[b, i] · dpre[b, j]
//   (dbias is dpre itself)
//     x (B, in)   W (B, in, out)   bias (B, out) or null   y, pre (B, out)   dpre (B, out)
//     dx like x, dW like W (either may be null: not wanted)
// act: identity, relu, leaky_relu, sigmoid, tanh, gelu (activation/act_math.h).
// Every sum runs in index order: deterministic; CPU and CUDA agree to rounding.
// CPU: one task per sample (axpy over W's rows forward, dot products backward: one pass over
// W and dW). CUDA: forward, one thread per output element (b, j) walking i; backward, dW one
// thread per element, dx a warp per row (b, i) when out ≥ 32, else a thread per row.
// All float32, contiguous row-major, on the op's device; outputs must not overlap inputs.
#pragma once
#include <cstdint>

#include "../../core/dtype.h"
#include "../../core/error.h"
#include "../../core/stream.h"

namespace gw {

struct SampleLinearArgs {
  int64_t batch = 0;              ///< B
  int64_t in = 0;                 ///< rows of each W[b]
  int64_t out = 0;                ///< columns of each W[b]
  Act act = Act::kIdentity;       ///< activation after the bias
  float leaky_slope = 0.01f;      ///< negative-side slope of leaky_relu
  const float* x = nullptr;       ///< (B, in)
  const float* w = nullptr;       ///< (B, in, out)
  const float* bias = nullptr;    ///< (B, out) or null
};

}  // namespace gw

namespace gw::cpu {
/// y (B, out) written; pre (B, out) or null written with the value before act.
void sample_linear_forward(const SampleLinearArgs& args, float* y, float* pre);
/// dpre (B, out) → dx (B, in) and dW (B, in, out), each null or overwritten.
void sample_linear_backward(const SampleLinearArgs& args, const float* dpre, float* dx, float* dw);
}  // namespace gw::cpu

namespace gw::cuda {
void sample_linear_forward(const SampleLinearArgs& args, float* y, float* pre, Stream stream);
void sample_linear_backward(const SampleLinearArgs& args, const float* dpre, float* dx, float* dw, Stream stream);
}  // namespace gw::cuda

namespace gw::sample_linear_detail {
inline void check(const SampleLinearArgs& a, const char* fn) {
  GW_CHECK(a.batch >= 0 && a.in >= 0 && a.out >= 0, kShape, fn, ": negative size (B ", a.batch, ", in ", a.in,
           ", out ", a.out, ")");
  GW_CHECK(a.batch * a.out == 0 || a.in == 0 || (a.x && a.w), kArgument, fn, ": null x or W");
}
}  // namespace gw::sample_linear_detail
