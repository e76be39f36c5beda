// loss — element-wise training losses with an optional per-element weight and a reduction.
//
//   bce_with_logits  f(z, y) = (1 − y) · softplus(z) + pw · y · softplus(−z)
//                    (= max(z, 0) − z·y + log(1 + exp(−|z|)) when pw = 1), softplus(t) =
//                    max(t, 0) + log1p(exp(−|t|)); pw = pos_weight scales the positive term.
//                    ∂f/∂z = (1 − y) · σ(z) − pw · y · σ(−z)   (= σ(z) − y when pw = 1)
//   mse              f(z, y) = (z − y)²,  ∂f/∂z = 2 (z − y)
//   ℓ_i = w_i · f(z_i, y_i), with w_i = 1 when no weight is given. A 0/1 weight doubles as a
//   label mask (missing labels contribute nothing).
//   reduction kNone: out[i] = ℓ_i                                   out: (n)
//             kSum:  out[0] = Σ ℓ_i                                 out: (1)
//             kMean: out[0] = Σ ℓ_i / D, D = Σ w_i with weights, else n; D = 0 gives 0
// Backward (OVERWRITES gz): gz_i = g_i · w_i · ∂f/∂z(z_i, y_i) [/ D for kMean], where
// g_i = gout[i] for kNone and gout[0] otherwise; gout stays on the device (no sync).
// Reductions are deterministic: fixed blocks summed in float64 in a fixed order, on both
// devices (CUDA: a fixed grid per n, per-block partials, then one block sums them).
//   z, y, w, gz: (n) float32; w may be nullptr; gout: (n) or (1) float32.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw {
enum class Reduction : int { kNone = 0, kMean = 1, kSum = 2 };
}

namespace gw::cpu {
void bce_with_logits_forward(const float* z, const float* y, const float* w, float pos_weight, int64_t n,
                             Reduction red, float* out);
void bce_with_logits_backward(const float* z, const float* y, const float* w, float pos_weight, int64_t n,
                              Reduction red, const float* gout, float* gz);
void mse_forward(const float* z, const float* y, const float* w, int64_t n, Reduction red, float* out);
void mse_backward(const float* z, const float* y, const float* w, int64_t n, Reduction red, const float* gout,
                  float* gz);
}  // namespace gw::cpu

namespace gw::cuda {
void bce_with_logits_forward(const float* z, const float* y, const float* w, float pos_weight, int64_t n,
                             Reduction red, float* out, Stream stream);
void bce_with_logits_backward(const float* z, const float* y, const float* w, float pos_weight, int64_t n,
                              Reduction red, const float* gout, float* gz, Stream stream);
void mse_forward(const float* z, const float* y, const float* w, int64_t n, Reduction red, float* out, Stream stream);
void mse_backward(const float* z, const float* y, const float* w, int64_t n, Reduction red, const float* gout,
                  float* gz, Stream stream);
}  // namespace gw::cuda
