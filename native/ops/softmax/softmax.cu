// softmax — CUDA. See softmax.h.
// cols ≤ 1024: one warp per row; the row lives in registers (VPT values per lane, lane j
// holding columns j, j + 32, …), so x is read once and out written once. Wider rows: one
// block per row; an online (running max, rescaled sum) pass reads x once, a second pass
// writes out. Backward follows the same split (register row / block row).
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/cuda_warp.cuh"
using gw::warp_max;
using gw::warp_sum;
#include "../../core/launch.cuh"
#include "softmax.h"

namespace {
constexpr int kWarpBlock = 128;  ///< 4 rows per block in the warp kernels
constexpr int kRowBlock = 512;   ///< threads per row in the block kernels


/// Running (max, Σ exp(z − max)) pairs; m = −∞ means "empty".
struct MaxSum {
  float m, s;
};
__device__ __forceinline__ MaxSum combine(MaxSum a, MaxSum b) {
  if (a.m == -INFINITY) return b;
  if (b.m == -INFINITY) return a;
  float m = fmaxf(a.m, b.m);
  return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}
__device__ __forceinline__ MaxSum warp_combine(MaxSum v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    MaxSum w{__shfl_xor_sync(gw::kFullWarp, v.m, o), __shfl_xor_sync(gw::kFullWarp, v.s, o)};
    v = combine(v, w);
  }
  return v;
}

/// Block-wide sum, result in every thread. `scratch` holds 32 floats + 1.
__device__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[wid] = v;
  __syncthreads();
  if (wid == 0) {
    float t = lane < nw ? scratch[lane] : 0.f;
    t = warp_sum(t);
    if (lane == 0) scratch[32] = t;
  }
  __syncthreads();
  float r = scratch[32];
  __syncthreads();  // scratch may be reused right after
  return r;
}

unsigned grid_cap(int64_t blocks) { return blocks > gw::kMaxGrid ? gw::kMaxGrid : static_cast<unsigned>(blocks); }
}  // namespace

// ---- kernels

template <int VPT, bool LOG>
__global__ void softmax_warp_kernel(const float* __restrict__ x, const uint8_t* __restrict__ mask, int64_t mask_ld,
                                    float scale, float* __restrict__ out, int64_t rows, int cols) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
  for (int64_t r = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) >> 5; r < rows; r += warps) {
    const float* xr = x + r * cols;
    const uint8_t* mr = mask ? mask + r * mask_ld : nullptr;
    float v[VPT];
    float m = -INFINITY;
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      const int j = lane + 32 * k;
      v[k] = (j < cols && (!mr || mr[j])) ? scale * xr[j] : -INFINITY;
      m = fmaxf(m, v[k]);
    }
    m = warp_max(m);
    float* yr = out + r * cols;
    if (m == -INFINITY) {  // every entry excluded (uniform across the warp)
#pragma unroll
      for (int k = 0; k < VPT; ++k)
        if (lane + 32 * k < cols) yr[lane + 32 * k] = LOG ? -INFINITY : 0.f;
      continue;
    }
    float s = 0.f;
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      const float e = expf(v[k] - m);  // exp(−∞) = 0
      s += e;
      if (!LOG) v[k] = e;
    }
    s = warp_sum(s);
    const float c = LOG ? m + logf(s) : 1.f / s;
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      const int j = lane + 32 * k;
      if (j < cols) yr[j] = LOG ? v[k] - c : v[k] * c;
    }
  }
}

template <bool LOG>
__global__ void softmax_block_kernel(const float* __restrict__ x, const uint8_t* __restrict__ mask, int64_t mask_ld,
                                     float scale, float* __restrict__ out, int64_t rows, int64_t cols) {
  GW_SHARED(float[32], sm);
  GW_SHARED(float[32], ss);
  GW_SHARED(MaxSum, total);
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * cols;
    const uint8_t* mr = mask ? mask + r * mask_ld : nullptr;
    MaxSum acc{-INFINITY, 0.f};
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      if (mr && !mr[j]) continue;
      const float z = scale * xr[j];
      if (z == -INFINITY) continue;  // contributes exp(−∞) = 0; skipping avoids (−∞) − (−∞)
      if (z > acc.m) {
        acc.s = acc.s * expf(acc.m - z) + 1.f;  // acc.m = −∞ gives 0 · 0 + 1
        acc.m = z;
      } else {
        acc.s += expf(z - acc.m);
      }
    }
    acc = warp_combine(acc);
    if (lane == 0) {
      sm[wid] = acc.m;
      ss[wid] = acc.s;
    }
    __syncthreads();
    if (wid == 0) {
      MaxSum t = lane < nw ? MaxSum{sm[lane], ss[lane]} : MaxSum{-INFINITY, 0.f};
      t = warp_combine(t);
      if (lane == 0) total = t;
    }
    __syncthreads();
    const MaxSum t = total;
    __syncthreads();  // `total` is rewritten by the next row
    float* yr = out + r * cols;
    if (t.m == -INFINITY) {
      for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = LOG ? -INFINITY : 0.f;
      continue;
    }
    const float c = LOG ? t.m + logf(t.s) : 1.f / t.s;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const bool in = !mr || mr[j];
      const float z = scale * xr[j];
      yr[j] = LOG ? (in ? z - c : -INFINITY) : (in ? expf(z - t.m) * c : 0.f);
    }
  }
}

template <int VPT, bool LOG>
__global__ void softmax_backward_warp_kernel(const float* __restrict__ gy, const float* __restrict__ y,
                                             float* __restrict__ gx, int64_t rows, int cols, float scale) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
  for (int64_t r = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) >> 5; r < rows; r += warps) {
    float g[VPT], p[VPT];
    float acc = 0.f;
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      const int j = lane + 32 * k;
      g[k] = j < cols ? gy[r * cols + j] : 0.f;
      p[k] = j < cols ? y[r * cols + j] : (LOG ? -INFINITY : 0.f);
      acc += LOG ? (p[k] == -INFINITY ? 0.f : g[k]) : g[k] * p[k];
    }
    acc = warp_sum(acc);
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      const int j = lane + 32 * k;
      if (j < cols)
        gx[r * cols + j] = LOG ? (p[k] == -INFINITY ? 0.f : scale * (g[k] - expf(p[k]) * acc))
                               : scale * p[k] * (g[k] - acc);
    }
  }
}

template <bool LOG>
__global__ void softmax_backward_block_kernel(const float* __restrict__ gy, const float* __restrict__ y,
                                              float* __restrict__ gx, int64_t rows, int64_t cols, float scale) {
  GW_SHARED(float[33], scratch);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* gr = gy + r * cols;
    const float* yr = y + r * cols;
    float acc = 0.f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
      acc += LOG ? (yr[j] == -INFINITY ? 0.f : gr[j]) : gr[j] * yr[j];
    acc = block_sum(acc, scratch);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float p = yr[j], g = gr[j];
      gx[r * cols + j] = LOG ? (p == -INFINITY ? 0.f : scale * (g - expf(p) * acc)) : scale * p * (g - acc);
    }
  }
}

// ---- launchers

namespace gw::cuda {

namespace {

template <int VPT>
void launch_forward_warp(const float* x, const uint8_t* mask, int64_t mask_ld, float scale, float* out, int64_t rows,
                         int cols, bool log, Stream stream) {
  const unsigned grid = grid_cap((rows + kWarpBlock / 32 - 1) / (kWarpBlock / 32));
  if (log)
    gw::launch<softmax_warp_kernel<VPT, true>>(grid, kWarpBlock, 0, stream, x, mask, mask_ld, scale, out, rows, cols);
  else
    gw::launch<softmax_warp_kernel<VPT, false>>(grid, kWarpBlock, 0, stream, x, mask, mask_ld, scale, out, rows, cols);
}

template <int VPT>
void launch_backward_warp(const float* gy, const float* y, float* gx, int64_t rows, int cols, bool log, float scale,
                          Stream stream) {
  const unsigned grid = grid_cap((rows + kWarpBlock / 32 - 1) / (kWarpBlock / 32));
  if (log)
    gw::launch<softmax_backward_warp_kernel<VPT, true>>(grid, kWarpBlock, 0, stream, gy, y, gx, rows, cols, scale);
  else
    gw::launch<softmax_backward_warp_kernel<VPT, false>>(grid, kWarpBlock, 0, stream, gy, y, gx, rows, cols, scale);
}

}  // namespace

void softmax_forward(const float* x, const uint8_t* mask, bool mask_per_row, float scale, float* out, int64_t rows,
                     int64_t cols, bool log, Stream stream) {
  if (rows == 0 || cols == 0) return;
  const int64_t mask_ld = mask_per_row ? cols : 0;
  const int c = static_cast<int>(cols);
  if (cols <= 32) launch_forward_warp<1>(x, mask, mask_ld, scale, out, rows, c, log, stream);
  else if (cols <= 64) launch_forward_warp<2>(x, mask, mask_ld, scale, out, rows, c, log, stream);
  else if (cols <= 128) launch_forward_warp<4>(x, mask, mask_ld, scale, out, rows, c, log, stream);
  else if (cols <= 256) launch_forward_warp<8>(x, mask, mask_ld, scale, out, rows, c, log, stream);
  else if (cols <= 512) launch_forward_warp<16>(x, mask, mask_ld, scale, out, rows, c, log, stream);
  else if (cols <= 1024) launch_forward_warp<32>(x, mask, mask_ld, scale, out, rows, c, log, stream);
  else {
    if (log)
      gw::launch<softmax_block_kernel<true>>(grid_cap(rows), kRowBlock, 0, stream, x, mask, mask_ld, scale, out, rows,
                                             cols);
    else
      gw::launch<softmax_block_kernel<false>>(grid_cap(rows), kRowBlock, 0, stream, x, mask, mask_ld, scale, out, rows,
                                              cols);
  }
}

void softmax_backward(const float* gy, const float* y, float* gx, int64_t rows, int64_t cols, bool log, float scale,
                      Stream stream) {
  if (rows == 0 || cols == 0) return;
  const int c = static_cast<int>(cols);
  if (cols <= 32) launch_backward_warp<1>(gy, y, gx, rows, c, log, scale, stream);
  else if (cols <= 64) launch_backward_warp<2>(gy, y, gx, rows, c, log, scale, stream);
  else if (cols <= 128) launch_backward_warp<4>(gy, y, gx, rows, c, log, scale, stream);
  else if (cols <= 256) launch_backward_warp<8>(gy, y, gx, rows, c, log, scale, stream);
  else if (cols <= 512) launch_backward_warp<16>(gy, y, gx, rows, c, log, scale, stream);
  else if (cols <= 1024) launch_backward_warp<32>(gy, y, gx, rows, c, log, scale, stream);
  else {
    if (log)
      gw::launch<softmax_backward_block_kernel<true>>(grid_cap(rows), kRowBlock, 0, stream, gy, y, gx, rows, cols,
                                                      scale);
    else
      gw::launch<softmax_backward_block_kernel<false>>(grid_cap(rows), kRowBlock, 0, stream, gy, y, gx, rows, cols,
                                                       scale);
  }
}

}  // namespace gw::cuda
