// adam — fused Adam / AdamW over all parameters of a group (PyTorch semantics).
// With step t ≥ 1 (the count including this step), bc1 = 1 − β1^t, bc2 = 1 − β2^t,
// for every tensor i of the group and every element:
//   g ← grad + (decoupled ? 0 : wd)·p            Adam: L2 penalty in the gradient
//   p ← p · (decoupled ? 1 − lr·wd : 1)           AdamW: decoupled weight decay
//   m ← β1·m + (1 − β1)·g
//   v ← β2·v + (1 − β2)·g²
//   amsgrad: v_max ← max(v_max, v), and v_max replaces v below
//   p ← p − (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps)
//
// Lists (host arrays of `count` pointers to the op's device memory; tensor i has numels[i]
// elements in every list):
//   params[i] (numels[i]) float32  updated in place
//   grads[i]  (numels[i]) float32  read only
//   m[i], v[i] (numels[i]) float32  first and second moments, updated in place; the caller
//             zero-initializes them before step 1
//   max_v[i]  (numels[i]) float32  amsgrad's running max of v (zero-initialized), updated in
//             place; pass max_v == nullptr for plain Adam (amsgrad off)
// Empty tensors are skipped. Pointers of one tensor must not overlap another's.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw {

struct AdamOptions {
  float lr = 1e-3f;           ///< learning rate, ≥ 0
  float beta1 = 0.9f;         ///< first-moment decay, in [0, 1)
  float beta2 = 0.999f;       ///< second-moment decay, in [0, 1)
  float eps = 1e-8f;          ///< added to the denominator, ≥ 0
  float weight_decay = 0.f;   ///< ≥ 0; L2 (Adam) or decoupled (AdamW)
  bool decoupled = false;     ///< true: AdamW
  int64_t step = 1;           ///< t, ≥ 1, counting this step
};

/// Throws ERR_GATEWISE_ARGUMENT naming the field when an option is out of range.
void check_adam_options(const AdamOptions& o);

/// The step's constants, computed once in float64 and shared by both twins so that they
/// apply the same float32 arithmetic per element.
struct AdamScalars {
  float l2;         ///< weight decay added to the gradient (0 for AdamW)
  float decay;      ///< factor on p before the update (1 − lr·wd for AdamW, else 1)
  float beta1, beta2, eps;
  float step_size;  ///< lr / bc1
  float bc2_sqrt;   ///< sqrt(bc2)
};
AdamScalars adam_scalars(const AdamOptions& o);  ///< checks o first

}  // namespace gw

namespace gw::cpu {
void adam_step(float* const* params, const float* const* grads, float* const* m, float* const* v,
               float* const* max_v, const int64_t* numels, int64_t count, const AdamOptions& opt);
}
namespace gw::cuda {
void adam_step(float* const* params, const float* const* grads, float* const* m, float* const* v,
               float* const* max_v, const int64_t* numels, int64_t count, const AdamOptions& opt, Stream stream);
}
