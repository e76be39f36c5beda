// sgd — fused SGD with momentum over all parameters of a group (PyTorch semantics).
// For every tensor i of the group and every element:
//   g   ← grad + wd·p
//   if momentum μ ≠ 0:
//     buf ← first_step ? g : μ·buf + (1 − dampening)·g
//     g   ← nesterov ? g + μ·buf : buf
//   p   ← p − lr·g
//
// Lists (host arrays of `count` pointers to the op's device memory; tensor i has numels[i]
// elements in every list):
//   params[i]         (numels[i]) float32  updated in place
//   grads[i]          (numels[i]) float32  read only
//   momentum_bufs[i]  (numels[i]) float32  state, updated in place; the caller allocates it
//                     (any contents) and passes first_step = true on the first step, which
//                     overwrites it with g. May be nullptr when momentum == 0 (not read).
// Empty tensors are skipped. Pointers of one tensor must not overlap another's.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw {

struct SgdOptions {
  float lr = 0.01f;           ///< learning rate, ≥ 0
  float momentum = 0.f;       ///< μ, ≥ 0; 0 disables the momentum buffer
  float dampening = 0.f;      ///< scales the new gradient in the buffer by (1 − dampening)
  float weight_decay = 0.f;   ///< L2 penalty added to the gradient, ≥ 0
  bool nesterov = false;      ///< Nesterov momentum; needs momentum > 0 and dampening == 0
  bool first_step = false;    ///< buf ← g (the first step of this parameter group)
};

/// Throws ERR_GATEWISE_ARGUMENT naming the field when an option is out of range.
void check_sgd_options(const SgdOptions& o);

}  // namespace gw

namespace gw::cpu {
void sgd_step(float* const* params, const float* const* grads, float* const* momentum_bufs, const int64_t* numels,
              int64_t count, const SgdOptions& opt);
}
namespace gw::cuda {
void sgd_step(float* const* params, const float* const* grads, float* const* momentum_bufs, const int64_t* numels,
              int64_t count, const SgdOptions& opt, Stream stream);
}
