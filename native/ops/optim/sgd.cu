// sgd — CUDA: one multi-tensor-apply pass over (param, grad[, momentum buffer]), float4
// where aligned; 12 (16 with momentum) bytes of traffic per element. See sgd.h for the
// math and multi_tensor_apply.cuh for the launch scheme.
#include "multi_tensor_apply.cuh"
#include "sgd.h"

// ---- kernels

namespace {

struct SgdOp {  // lists: 0 param, 1 grad
  static constexpr unsigned kWrites = 1u;
  float lr, wd;
  __device__ bool setup() { return true; }
  __device__ void operator()(float (&x)[2]) const {
    const float g = x[1] + wd * x[0];
    x[0] = x[0] - lr * g;
  }
};

struct SgdMomentumOp {  // lists: 0 param, 1 grad, 2 momentum buffer
  static constexpr unsigned kWrites = 1u | 4u;
  float lr, wd, mu, damp;
  bool first, nesterov;
  __device__ bool setup() { return true; }
  __device__ void operator()(float (&x)[3]) const {
    float g = x[1] + wd * x[0];
    const float b = first ? g : mu * x[2] + (1.f - damp) * g;
    x[2] = b;
    g = nesterov ? g + mu * b : b;
    x[0] = x[0] - lr * g;
  }
};

}  // namespace

// ---- launchers

namespace gw::cuda {

void sgd_step(float* const* params, const float* const* grads, float* const* momentum_bufs, const int64_t* numels,
              int64_t count, const SgdOptions& o, Stream stream) {
  check_sgd_options(o);
  float* const* g = const_cast<float* const*>(grads);  // read only: the ops never write list 1
  if (o.momentum != 0) {
    GW_CHECK(momentum_bufs, kArgument, "sgd_step with momentum ", o.momentum, " needs momentum buffers");
    float* const* const lists[3] = {params, g, momentum_bufs};
    mta::multi_tensor_apply<3>(lists, numels, count,
                               SgdMomentumOp{o.lr, o.weight_decay, o.momentum, o.dampening, o.first_step, o.nesterov},
                               stream);
  } else {
    float* const* const lists[2] = {params, g};
    mta::multi_tensor_apply<2>(lists, numels, count, SgdOp{o.lr, o.weight_decay}, stream);
  }
}

}  // namespace gw::cuda
