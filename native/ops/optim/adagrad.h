// adagrad — fused dense AdaGrad over all parameters of a group (PyTorch semantics).
// With step t ≥ 1 (the count including this step), clr = lr / (1 + (t − 1)·lr_decay),
// for every tensor i of the group and every element:
//   g   ← grad + wd·p
//   acc ← acc + g²
//   p   ← p − clr · g / (sqrt(acc) + eps)
//
// Lists (host arrays of `count` pointers to the op's device memory; tensor i has numels[i]
// elements in every list):
//   params[i] (numels[i]) float32  updated in place
//   grads[i]  (numels[i]) float32  read only
//   acc[i]    (numels[i]) float32  sum of squared gradients, updated in place; the caller
//             fills it with initial_accumulator_value (PyTorch's default 0) before step 1
// Empty tensors are skipped. Pointers of one tensor must not overlap another's.
// The sparse, row-wise AdaGrad of the embedding tables lives with the tables.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw {

struct AdagradOptions {
  float lr = 0.01f;           ///< learning rate, ≥ 0
  float lr_decay = 0.f;       ///< ≥ 0
  float eps = 1e-10f;         ///< added to the denominator, ≥ 0
  float weight_decay = 0.f;   ///< L2 penalty added to the gradient, ≥ 0
  int64_t step = 1;           ///< t, ≥ 1, counting this step
};

/// Throws ERR_GATEWISE_ARGUMENT naming the field when an option is out of range.
void check_adagrad_options(const AdagradOptions& o);

/// clr = lr / (1 + (t − 1)·lr_decay), in float64 then rounded; shared by both twins. Checks o.
float adagrad_clr(const AdagradOptions& o);

}  // namespace gw

namespace gw::cpu {
void adagrad_step(float* const* params, const float* const* grads, float* const* acc, const int64_t* numels,
                  int64_t count, const AdagradOptions& opt);
}
namespace gw::cuda {
void adagrad_step(float* const* params, const float* const* grads, float* const* acc, const int64_t* numels,
                  int64_t count, const AdagradOptions& opt, Stream stream);
}
