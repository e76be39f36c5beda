// gatewise — the grid-stride float4 loop shared by the point-wise CUDA kernels, and the
// element-wise map y[i] = f.fwd(x[i]) built on it (float4 loads and stores when both
// pointers are 16-byte aligned).
#pragma once
#include <cstdint>

namespace gw {

/// The grid-stride loop of every point-wise kernel over n elements: vec(i4) for each group
/// of four (element 4·i4 on) when vec4 (every pointer 16-byte aligned), one(i) for the rest.
template <typename Vec, typename One>
__device__ __forceinline__ void grid_stride_vec4(int64_t n, bool vec4, Vec vec, One one) {
  const int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec4) {
    const int64_t n4 = n / 4;
    for (int64_t i = tid; i < n4; i += stride) vec(i);
    head = n4 * 4;
  }
  for (int64_t i = head + tid; i < n; i += stride) one(i);
}

template <typename F>
__global__ void map_kernel(F f, const float* x, float* y, int64_t n, bool vec4) {
  grid_stride_vec4(
      n, vec4,
      [&](int64_t i) {
        const float4 v = reinterpret_cast<const float4*>(x)[i];
        reinterpret_cast<float4*>(y)[i] = make_float4(f.fwd(v.x), f.fwd(v.y), f.fwd(v.z), f.fwd(v.w));
      },
      [&](int64_t i) { y[i] = f.fwd(x[i]); });
}

}  // namespace gw
