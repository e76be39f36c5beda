// adagrad — CUDA: one multi-tensor-apply pass over (param, grad, acc), float4 where
// aligned; 20 bytes of traffic per element. See adagrad.h for the math and
// multi_tensor_apply.cuh for the launch scheme.
#include "adagrad.h"
#include "multi_tensor_apply.cuh"

// ---- kernels

namespace {

struct AdagradOp {  // lists: 0 param, 1 grad, 2 acc
  static constexpr unsigned kWrites = 1u | 4u;
  float clr, eps, wd;
  __device__ bool setup() { return true; }
  __device__ void operator()(float (&x)[3]) const {
    const float g = x[1] + wd * x[0];
    const float a = x[2] + g * g;
    x[2] = a;
    x[0] = x[0] - clr * g / (sqrtf(a) + eps);
  }
};

}  // namespace

// ---- launchers

namespace gw::cuda {

void adagrad_step(float* const* params, const float* const* grads, float* const* acc, const int64_t* numels,
                  int64_t count, const AdagradOptions& o, Stream stream) {
  const float clr = adagrad_clr(o);  // checks o
  float* const* g = const_cast<float* const*>(grads);  // read only: the op never writes list 1
  float* const* const lists[3] = {params, g, acc};
  mta::multi_tensor_apply<3>(lists, numels, count, AdagradOp{clr, o.eps, o.weight_decay}, stream);
}

}  // namespace gw::cuda
