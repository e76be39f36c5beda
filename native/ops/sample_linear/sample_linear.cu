// sample_linear — CUDA kernels. See sample_linear.h; the CPU twin (sample_linear_cpu.cpp) is
// the readable spec.
//   forward   one thread per output element (b, j): acc = bias + Σ_i x[b, i]·W[b, i, j]; a warp
//             reads consecutive j of one row of W[b] (coalesced when out ≥ 32; for small out a
//             warp spans several samples' rows).
//   backward  dW: one thread per element, x[b, i]·dpre[b, j] (coalesced writes); dx: a warp
//             per row (b, i) reducing over j when out ≥ 32, else a thread per row.
#include <algorithm>
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/cuda_warp.cuh"
#include "../../core/launch.cuh"
#include "../activation/act_math.h"
#include "sample_linear.h"

namespace {

constexpr int kBlock = 256;

// ---- kernels

__global__ void __launch_bounds__(kBlock) forward_kernel(gw::SampleLinearArgs a, float* y, float* pre) {
  const int64_t n = a.batch * a.out, stride = static_cast<int64_t>(gridDim.x) * kBlock;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(kBlock) + threadIdx.x; t < n; t += stride) {
    const int64_t b = t / a.out, j = t % a.out;
    const float* x = a.x + b * a.in;
    const float* w = a.w + b * a.in * a.out + j;
    float acc = a.bias ? a.bias[t] : 0.f;
    for (int64_t i = 0; i < a.in; ++i) acc = fmaf(x[i], w[i * a.out], acc);
    if (pre) pre[t] = acc;
    y[t] = gw::act_apply(a.act, a.leaky_slope, acc);
  }
}

__global__ void __launch_bounds__(kBlock) dw_kernel(gw::SampleLinearArgs a, const float* dpre, float* dw) {
  const int64_t n = a.batch * a.in * a.out, stride = static_cast<int64_t>(gridDim.x) * kBlock;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(kBlock) + threadIdx.x; t < n; t += stride) {
    const int64_t row = t / a.out, j = t % a.out, b = row / a.in;
    dw[t] = a.x[row] * dpre[b * a.out + j];
  }
}

__global__ void __launch_bounds__(kBlock) dx_warp_kernel(gw::SampleLinearArgs a, const float* dpre, float* dx) {
  const int lane = threadIdx.x & 31;
  const int64_t rows = a.batch * a.in, warps = static_cast<int64_t>(gridDim.x) * (kBlock / 32);
  for (int64_t r = blockIdx.x * static_cast<int64_t>(kBlock / 32) + threadIdx.x / 32; r < rows; r += warps) {
    const float* w = a.w + r * a.out;
    const float* d = dpre + (r / a.in) * a.out;
    float s = 0.f;
    for (int64_t j = lane; j < a.out; j += 32) s = fmaf(w[j], d[j], s);
    s = gw::warp_sum(s);
    if (lane == 0) dx[r] = s;
  }
}

__global__ void __launch_bounds__(kBlock) dx_thread_kernel(gw::SampleLinearArgs a, const float* dpre, float* dx) {
  const int64_t rows = a.batch * a.in, stride = static_cast<int64_t>(gridDim.x) * kBlock;
  for (int64_t r = blockIdx.x * static_cast<int64_t>(kBlock) + threadIdx.x; r < rows; r += stride) {
    const float* w = a.w + r * a.out;
    const float* d = dpre + (r / a.in) * a.out;
    float s = 0.f;
    for (int64_t j = 0; j < a.out; ++j) s = fmaf(w[j], d[j], s);
    dx[r] = s;
  }
}

}  // namespace

// ---- launchers

namespace gw::cuda {

void sample_linear_forward(const SampleLinearArgs& args, float* y, float* pre, Stream stream) {
  sample_linear_detail::check(args, "sample_linear_forward");
  GW_CHECK(args.batch * args.out == 0 || y, kArgument, "sample_linear_forward: null y");
  const int64_t n = args.batch * args.out;
  if (n == 0) return;
  gw::launch<forward_kernel>(grid_for(n, kBlock), kBlock, 0, stream, args, y, pre);
}

void sample_linear_backward(const SampleLinearArgs& args, const float* dpre, float* dx, float* dw, Stream stream) {
  sample_linear_detail::check(args, "sample_linear_backward");
  GW_CHECK(args.batch * args.out == 0 || dpre, kArgument, "sample_linear_backward: null dpre");
  const int64_t rows = args.batch * args.in;
  if (rows == 0) return;
  if (dw && args.out > 0) {
    gw::launch<dw_kernel>(grid_for(rows * args.out, kBlock), kBlock, 0, stream, args, dpre, dw);
  }
  if (dx) {
    if (args.out >= 32) gw::launch<dx_warp_kernel>(grid_for(rows * 32, kBlock), kBlock, 0, stream, args, dpre, dx);
    else gw::launch<dx_thread_kernel>(grid_for(rows, kBlock), kBlock, 0, stream, args, dpre, dx);
  }
}

}  // namespace gw::cuda
