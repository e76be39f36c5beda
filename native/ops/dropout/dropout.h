// dropout — inverted dropout driven by counter-based Philox4x32-10 (philox.h), so a given
// (seed, offset) yields the same mask on CPU and CUDA.
//
// Element i draws u_i from counter (offset + i / 4), word i % 4 (see philox.h), and
//   keep_i = u_i ≥ p
//   dropout_forward     out[i]  = keep_i ? x[i] / (1 − p) : 0,  mask[i] = keep_i (0 or 1)
//   dropout_backward    gx[i]   = mask[i] ? gy[i] / (1 − p) : 0        (overwrites gx)
//   philox_uniform      out[i]  = u_i ∈ [0, 1)
//   bernoulli_mask      mask[i] = u_i ≥ p ? 1 : 0   (1 = keep; P(1) = 1 − p)
// p ∈ [0, 1]; p = 1 drops everything (out = 0, gx = 0); p = 0 keeps everything.
// Each call consumes ceil(n / 4) counters starting at `offset`; advance it by that much.
//   x, out, gy, gx: (n) float32; mask: (n) uint8 — all on the op's device.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw::cpu {
void dropout_forward(const float* x, float* out, uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t offset);
void dropout_backward(const float* gy, const uint8_t* mask, float* gx, int64_t n, float p);
void philox_uniform(uint64_t seed, uint64_t offset, float* out, int64_t n);
void bernoulli_mask(float p, uint64_t seed, uint64_t offset, uint8_t* mask, int64_t n);
}  // namespace gw::cpu

namespace gw::cuda {
void dropout_forward(const float* x, float* out, uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t offset,
                     Stream stream);
void dropout_backward(const float* gy, const uint8_t* mask, float* gx, int64_t n, float p, Stream stream);
void philox_uniform(uint64_t seed, uint64_t offset, float* out, int64_t n, Stream stream);
void bernoulli_mask(float p, uint64_t seed, uint64_t offset, uint8_t* mask, int64_t n, Stream stream);
}  // namespace gw::cuda

namespace gw::dropout_detail {
/// 1 / (1 − p), or 0 when p = 1 (everything dropped).
inline float keep_scale(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }
}  // namespace gw::dropout_detail
