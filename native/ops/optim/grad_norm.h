// grad_norm — the global L2 norm of a list of gradients, and clipping by it.
//
// grad_norm:   out[0] = sqrt(Σ_i Σ_j grads[i][j]²)
//              non_finite[0] = 1 if out[0] is NaN or ±Inf, else 0   (when non_finite != nullptr)
//   The norm stays on the device (no host sync); a NaN or Inf in any gradient makes it
//   non-finite, which is the trainer's signal to skip the step. Deterministic: the same
//   inputs give the same bits on every run and thread count (CPU: per-chunk partial sums in
//   float64, added in chunk order; CUDA: two passes, per-chunk partials then one ordered
//   reduce in float64; no atomics). With no elements the norm is 0.
// clip_by_norm: s = max_norm / (norm[0] + 1e-6); if norm[0] is finite and s < 1, every
//   grads[i][j] ← grads[i][j] · s; otherwise the gradients are left as they are (a
//   non-finite norm means the step is skipped, so they are not poisoned further).
//   Gradients are scaled in place here (they are this op's output).
//
// Lists (host arrays of `count` pointers to the op's device memory; tensor i has numels[i]):
//   grads[i]      (numels[i]) float32
//   out, norm     (1) float32 on the op's device
//   non_finite    (1) uint8 on the op's device, or nullptr
// CUDA grad_norm takes a scratch buffer of 8 bytes per 16K-element chunk from the caching
// allocator, which is stream-ordered on gw::cudart::compute_stream(): call it on that stream.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw::cpu {
void grad_norm(const float* const* grads, const int64_t* numels, int64_t count, float* out, uint8_t* non_finite);
void clip_by_norm(float* const* grads, const int64_t* numels, int64_t count, const float* norm, float max_norm);
}  // namespace gw::cpu
namespace gw::cuda {
void grad_norm(const float* const* grads, const int64_t* numels, int64_t count, float* out, uint8_t* non_finite,
               Stream stream);
void clip_by_norm(float* const* grads, const int64_t* numels, int64_t count, const float* norm, float max_norm,
                  Stream stream);
}  // namespace gw::cuda
