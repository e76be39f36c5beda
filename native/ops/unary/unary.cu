// unary — CUDA. See unary.h.
// One grid-stride map kernel per op (the functor from unary_math.h, shared with the CPU
// twin), with float4 loads and stores when every pointer is 16-byte aligned.
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/cuda_map.cuh"
#include "../../core/launch.cuh"
#include "unary.h"
#include "unary_math.h"

// ---- kernels

namespace {

constexpr int kBlock = 256;

template <typename Op>
__device__ __forceinline__ float grad_at(const Op& f, float g, const float* x, const float* y, int64_t i) {
  float xv = (Op::kX || (Op::kY && !y)) ? x[i] : 0.0f;
  float yv = Op::kY ? (y ? y[i] : f.fwd(xv)) : 0.0f;
  return f.grad(g, xv, yv);
}

template <typename Op>
__global__ void unary_backward_kernel(Op f, const float* g, const float* x, const float* y, float* gx, int64_t n) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride)
    gx[i] = grad_at(f, g[i], x, y, i);
}

}  // namespace

// ---- launchers

namespace gw::cuda {

void unary(UnaryOp op, float p0, float p1, const float* x, float* out, int64_t n, Stream stream) {
  with_unop(op, p0, p1, [&](auto f) {
    if (n == 0) return;
    bool vec4 = is_aligned16(x) && is_aligned16(out);
    gw::launch<gw::map_kernel<decltype(f)>>(grid_for(vec4 ? (n + 3) / 4 : n), kBlock, 0, stream, f, x, out, n, vec4);
  });
}

void unary_backward(UnaryOp op, float p0, float p1, const float* gout, const float* x, const float* y, float* gx,
                    int64_t n, Stream stream) {
  GW_CHECK(x || !unary_needs_x(op), kArgument, "this unary op's backward needs x");
  GW_CHECK(x || y || !unary_uses_y(op), kArgument, "this unary op's backward needs y or x");
  with_unop(op, p0, p1, [&](auto f) {
    if (n == 0) return;
    gw::launch<unary_backward_kernel<decltype(f)>>(grid_for(n), kBlock, 0, stream, f, gout, x, y, gx, n);
  });
}

}  // namespace gw::cuda
