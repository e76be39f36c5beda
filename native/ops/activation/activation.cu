// activation — CUDA. See activation.h.
// Grid-stride map kernels over the functors of act_math.h (shared with the CPU twin),
// with float4 loads and stores when every pointer is 16-byte aligned.
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/cuda_map.cuh"
#include "../../core/launch.cuh"
#include "act_math.h"
#include "activation.h"

// ---- kernels

namespace {

constexpr int kBlock = 256;

/// gx = g · act′; `src` is y when kFromY is chosen at launch, else x.
template <typename A, bool kFromY>
__global__ void act_backward_kernel(A f, const float* g, const float* src, float* gx, int64_t n, bool vec4) {
  int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  auto one = [&](float gv, float s) { return kFromY ? f.grad_y(gv, s) : f.grad_x(gv, s); };
  int64_t head = 0;
  if (vec4) {
    int64_t n4 = n / 4;
    for (int64_t i = tid; i < n4; i += stride) {
      float4 gv = reinterpret_cast<const float4*>(g)[i];
      float4 s = reinterpret_cast<const float4*>(src)[i];
      reinterpret_cast<float4*>(gx)[i] = make_float4(one(gv.x, s.x), one(gv.y, s.y), one(gv.z, s.z), one(gv.w, s.w));
    }
    head = n4 * 4;
  }
  for (int64_t i = head + tid; i < n; i += stride) gx[i] = one(g[i], src[i]);
}

}  // namespace

// ---- launchers

namespace gw::cuda {

void activation(Act act, float slope, const float* x, float* y, int64_t n, Stream stream) {
  with_act(act, slope, [&](auto f) {
    if (n == 0) return;
    bool vec4 = is_aligned16(x) && is_aligned16(y);
    gw::launch<gw::map_kernel<decltype(f)>>(grid_for(vec4 ? (n + 3) / 4 : n), kBlock, 0, stream, f, x, y, n, vec4);
  });
}

void activation_backward(Act act, float slope, const float* gout, const float* x, const float* y, float* gx,
                         int64_t n, Stream stream) {
  bool from_y = act_backward_uses_y(act, slope, x != nullptr, y != nullptr);
  const float* src = act == Act::kIdentity ? gout : (from_y ? y : x);
  with_act(act, slope, [&](auto f) {
    if (n == 0) return;
    bool vec4 = is_aligned16(gout) && is_aligned16(src) && is_aligned16(gx);
    unsigned grid = grid_for(vec4 ? (n + 3) / 4 : n);
    if (from_y) gw::launch<act_backward_kernel<decltype(f), true>>(grid, kBlock, 0, stream, f, gout, src, gx, n, vec4);
    else gw::launch<act_backward_kernel<decltype(f), false>>(grid, kBlock, 0, stream, f, gout, src, gx, n, vec4);
  });
}

}  // namespace gw::cuda
