// adam — CUDA: one multi-tensor-apply pass over (param, grad, m, v[, max_v]), float4 where
// aligned; 28 (36 with amsgrad) bytes of traffic per element. See adam.h for the math
// and multi_tensor_apply.cuh for the launch scheme.
#include "adam.h"
#include "multi_tensor_apply.cuh"

// ---- kernels

namespace {

template <bool Amsgrad>
struct AdamOp {  // lists: 0 param, 1 grad, 2 m, 3 v[, 4 max_v]
  static constexpr int kDepth = Amsgrad ? 5 : 4;
  static constexpr unsigned kWrites = Amsgrad ? (1u | 4u | 8u | 16u) : (1u | 4u | 8u);
  gw::AdamScalars s;
  __device__ bool setup() { return true; }
  __device__ void operator()(float (&x)[kDepth]) const {
    const float g = x[1] + s.l2 * x[0];
    const float p = x[0] * s.decay;
    const float m = s.beta1 * x[2] + (1.f - s.beta1) * g;
    const float v = s.beta2 * x[3] + (1.f - s.beta2) * g * g;
    x[2] = m;
    x[3] = v;
    float vv = v;
    if constexpr (Amsgrad) {
      vv = x[4] > v ? x[4] : v;
      x[4] = vv;
    }
    x[0] = p - s.step_size * m / (sqrtf(vv) / s.bc2_sqrt + s.eps);
  }
};

}  // namespace

// ---- launchers

namespace gw::cuda {

void adam_step(float* const* params, const float* const* grads, float* const* m, float* const* v,
               float* const* max_v, const int64_t* numels, int64_t count, const AdamOptions& o, Stream stream) {
  const AdamScalars s = adam_scalars(o);  // checks o
  float* const* g = const_cast<float* const*>(grads);  // read only: the ops never write list 1
  if (max_v) {
    float* const* const lists[5] = {params, g, m, v, max_v};
    mta::multi_tensor_apply<5>(lists, numels, count, AdamOp<true>{s}, stream);
  } else {
    float* const* const lists[4] = {params, g, m, v};
    mta::multi_tensor_apply<4>(lists, numels, count, AdamOp<false>{s}, stream);
  }
}

}  // namespace gw::cuda
