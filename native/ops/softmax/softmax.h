// softmax — softmax and log-softmax over the last dim of a (rows, cols) matrix, with an
// optional mask and a scale (temperature) applied to the logits first.
//
//   z[r, j]   = scale · x[r, j]               where mask[r, j] ≠ 0, else −∞ (excluded)
//   softmax   y[r, j] = exp(z[r, j] − m_r) / Σ_k exp(z[r, k] − m_r),  m_r = max_k z[r, k]
//   log mode  y[r, j] = z[r, j] − m_r − log Σ_k exp(z[r, k] − m_r)
// Excluded entries get y = 0 (softmax) or y = −∞ (log mode). A row with every entry
// excluded is all 0 (softmax) or all −∞ (log mode) — never NaN.
//
//   softmax_backward (gradient w.r.t. x, OVERWRITES gx):
//     softmax   gx = scale · y ⊙ (gy − Σ_k gy[r, k] · y[r, k])
//     log mode  gx = scale · (gy − exp(y) · Σ_{k: y[r,k] > −∞} gy[r, k]),  and 0 where y = −∞
//   Excluded entries (y = 0 resp. −∞) get gx = 0, so no mask is needed in backward.
//
//   x, out, gy, y, gx: (rows, cols) float32
//   mask: nullptr, (rows, cols) uint8 when mask_per_row, or (cols) uint8 shared by all rows
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw::cpu {
void softmax_forward(const float* x, const uint8_t* mask, bool mask_per_row, float scale, float* out, int64_t rows,
                     int64_t cols, bool log);
void softmax_backward(const float* gy, const float* y, float* gx, int64_t rows, int64_t cols, bool log, float scale);
}  // namespace gw::cpu

namespace gw::cuda {
void softmax_forward(const float* x, const uint8_t* mask, bool mask_per_row, float scale, float* out, int64_t rows,
                     int64_t cols, bool log, Stream stream);
void softmax_backward(const float* gy, const float* y, float* gx, int64_t rows, int64_t cols, bool log, float scale,
                      Stream stream);
}  // namespace gw::cuda
