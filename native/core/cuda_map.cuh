// gatewise — the element-wise map shared by the point-wise CUDA ops: y[i] = f.fwd(x[i]),
// grid-stride, float4 loads and stores when both pointers are 16-byte aligned.
#pragma once
#include <cstdint>

namespace gw {

template <typename F>
__global__ void map_kernel(F f, const float* x, float* y, int64_t n, bool vec4) {
  int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec4) {
    int64_t n4 = n / 4;
    for (int64_t i = tid; i < n4; i += stride) {
      float4 v = reinterpret_cast<const float4*>(x)[i];
      reinterpret_cast<float4*>(y)[i] = make_float4(f.fwd(v.x), f.fwd(v.y), f.fwd(v.z), f.fwd(v.w));
    }
    head = n4 * 4;
  }
  for (int64_t i = head + tid; i < n; i += stride) y[i] = f.fwd(x[i]);
}

}  // namespace gw
