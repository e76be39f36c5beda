// reduce — CUDA. See reduce.h.
// Sums accumulate in double per thread and combine with xor-shuffle trees and fixed
// shared-memory orders, so results are deterministic; full reductions run in two passes
// (per-block partials, then one block), never with atomics.
//   rows kernels      inner == 1: a warp per row (short rows) or a block per row
//   cols kernels      inner > 1: a 32×8 block per 32 columns; 8 row stripes combined in smem
//   sum_to_shape      innermost dim reduced → the rows form; kept → the cols form, with the
//                     reduced range split over blockIdx.z and the partials added in order
#include <climits>
#include <cmath>
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/cuda_warp.cuh"
using gw::warp_sum;
#include "../../core/cuda_runtime.h"
#include "../../core/launch.cuh"
#include "reduce.h"
#include "reduce_plan.h"
#include "scratch.h"

// ---- kernels

namespace {

constexpr int kBlock = 256;        ///< 1-D block size of the rows and full-reduction kernels
constexpr int kMaxPartials = 1024; ///< blocks in pass 1 of a full reduction

/// Sum over a 1-D block of kBlock threads; the result is valid in thread 0. All threads
/// of the block must call it (it synchronizes).
template <typename T>
__device__ T block_sum(T v) {
  GW_SHARED(T[kBlock / 32], smem);
  v = warp_sum(v);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  if (warp == 0) v = warp_sum(lane < kBlock / 32 ? smem[lane] : T(0));
  __syncthreads();
  return v;
}

/// a beats b: larger (max) / smaller (min) value, NaN beats numbers, ties go to the lower index.
template <bool kMax>
__device__ __forceinline__ bool better(float a, long long ia, float b, long long ib) {
  bool an = a != a, bn = b != b;
  if (an || bn) return an && (!bn || ia < ib);
  if (a != b) return kMax ? a > b : a < b;
  return ia < ib;
}

template <bool kMax>
__device__ __forceinline__ void warp_arg(float& v, long long& i) {
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(gw::kFullWarp, v, o);
    long long oi = __shfl_xor_sync(gw::kFullWarp, i, o);
    if (better<kMax>(ov, oi, v, i)) v = ov, i = oi;
  }
}

template <bool kMax>
__device__ void block_arg(float& v, long long& i) {
  GW_SHARED(float[kBlock / 32], sv);
  GW_SHARED(long long[kBlock / 32], si);
  warp_arg<kMax>(v, i);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) sv[warp] = v, si[warp] = i;
  __syncthreads();
  if (warp == 0) {
    v = lane < kBlock / 32 ? sv[lane] : (kMax ? -INFINITY : INFINITY);
    i = lane < kBlock / 32 ? si[lane] : LLONG_MAX;
    warp_arg<kMax>(v, i);
  }
  __syncthreads();
}

struct Identity {
  __device__ double operator()(float v) const { return v; }
};
struct Square {
  __device__ double operator()(float v) const { return static_cast<double>(v) * v; }
};
struct NonFinite {
  __device__ unsigned long long operator()(float v) const { return isfinite(v) ? 0ull : 1ull; }
};

// Full reduction, pass 1: each block writes Σ f(x) over its grid-stride share.
template <typename T, typename F>
__global__ void partial_kernel(const float* __restrict__ x, int64_t n, T* __restrict__ part, F f) {
  T acc = 0;
  int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if ((reinterpret_cast<uintptr_t>(x) & 15) == 0) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    int64_t n4 = n / 4;
    for (int64_t i = tid; i < n4; i += stride) {
      float4 v = x4[i];
      acc += (f(v.x) + f(v.y)) + (f(v.z) + f(v.w));
    }
    head = n4 * 4;
  }
  for (int64_t i = head + tid; i < n; i += stride) acc += f(x[i]);
  T s = block_sum(acc);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// Full reduction, pass 2 (one block): out[0] = alpha · Σ part.
__global__ void final_sum_kernel(const double* __restrict__ part, int parts, float* __restrict__ out, double alpha) {
  double acc = 0;
  for (int i = threadIdx.x; i < parts; i += blockDim.x) acc += part[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[0] = static_cast<float>(acc * alpha);
}

__global__ void final_count_kernel(const unsigned long long* __restrict__ part, int parts,
                                   unsigned long long* __restrict__ out) {
  unsigned long long acc = 0;
  for (int i = threadIdx.x; i < parts; i += blockDim.x) acc += part[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[0] = acc;
}

// inner == 1: kTpr threads per row (32: a warp, kBlock: the whole block).
template <int kTpr>
__global__ void rows_sum_kernel(const float* __restrict__ x, int64_t rows, int64_t n, float* __restrict__ out,
                                double scale) {
  constexpr int kRowsPerBlock = kBlock / kTpr;
  int lane = threadIdx.x % kTpr;
  int64_t step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t r = blockIdx.x * static_cast<int64_t>(kRowsPerBlock) + threadIdx.x / kTpr; r < rows; r += step) {
    const float* row = x + r * n;
    double acc = 0;
    for (int64_t j = lane; j < n; j += kTpr) acc += row[j];
    if constexpr (kTpr == 32) acc = warp_sum(acc);
    else acc = block_sum(acc);
    if (lane == 0) out[r] = static_cast<float>(acc * scale);
  }
}

template <int kTpr, bool kMax>
__global__ void rows_arg_kernel(const float* __restrict__ x, int64_t rows, int64_t n, float* __restrict__ out,
                                int64_t* __restrict__ idx) {
  constexpr int kRowsPerBlock = kBlock / kTpr;
  int lane = threadIdx.x % kTpr;
  int64_t step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t r = blockIdx.x * static_cast<int64_t>(kRowsPerBlock) + threadIdx.x / kTpr; r < rows; r += step) {
    const float* row = x + r * n;
    float v = kMax ? -INFINITY : INFINITY;
    long long vi = LLONG_MAX;
    for (int64_t j = lane; j < n; j += kTpr)
      if (better<kMax>(row[j], j, v, vi)) v = row[j], vi = j;
    if constexpr (kTpr == 32) warp_arg<kMax>(v, vi);
    else block_arg<kMax>(v, vi);
    if (lane == 0) {
      out[r] = v;
      if (idx) idx[r] = vi;
    }
  }
}

// inner > 1: block (32, 8); threadIdx.x picks the column, threadIdx.y a stripe of j.
__global__ void cols_sum_kernel(const float* __restrict__ x, int64_t outer, int64_t n, int64_t inner,
                                float* __restrict__ out, double scale) {
  GW_SHARED(double[8][33], smem);
  int64_t k = blockIdx.x * 32ll + threadIdx.x;
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    double acc = 0;
    if (k < inner)
      for (int64_t j = threadIdx.y; j < n; j += 8) acc += x[(o * n + j) * inner + k];
    smem[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && k < inner) {
      double s = 0;
      for (int t = 0; t < 8; ++t) s += smem[t][threadIdx.x];
      out[o * inner + k] = static_cast<float>(s * scale);
    }
    __syncthreads();
  }
}

template <bool kMax>
__global__ void cols_arg_kernel(const float* __restrict__ x, int64_t outer, int64_t n, int64_t inner,
                                float* __restrict__ out, int64_t* __restrict__ idx) {
  GW_SHARED(float[8][33], sv);
  GW_SHARED(long long[8][33], si);
  int64_t k = blockIdx.x * 32ll + threadIdx.x;
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    float v = kMax ? -INFINITY : INFINITY;
    long long vi = LLONG_MAX;
    if (k < inner)
      for (int64_t j = threadIdx.y; j < n; j += 8) {
        float e = x[(o * n + j) * inner + k];
        if (better<kMax>(e, j, v, vi)) v = e, vi = j;
      }
    sv[threadIdx.y][threadIdx.x] = v;
    si[threadIdx.y][threadIdx.x] = vi;
    __syncthreads();
    if (threadIdx.y == 0 && k < inner) {
      for (int t = 1; t < 8; ++t)
        if (better<kMax>(sv[t][threadIdx.x], si[t][threadIdx.x], v, vi)) v = sv[t][threadIdx.x], vi = si[t][threadIdx.x];
      out[o * inner + k] = v;
      if (idx) idx[o * inner + k] = vi;
    }
    __syncthreads();
  }
}

__global__ void axis_backward_kernel(const float* __restrict__ gout, const int64_t* __restrict__ idx, int64_t n,
                                     int64_t inner, int64_t total, float scale, float* __restrict__ gx) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total; i += stride) {
    int64_t k = i % inner, oj = i / inner, j = oj % n, o = oj / n;
    float g = gout[o * inner + k];
    gx[i] = idx ? (idx[o * inner + k] == j ? g : 0.0f) : g * scale;
  }
}

__global__ void scale_copy_kernel(const float* __restrict__ x, int64_t n, float alpha, float* __restrict__ out) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride)
    out[i] = x[i] * alpha;
}

// sum_to_shape, innermost dim reduced: kTpr threads per output.
template <int kTpr>
__global__ void sts_rows_kernel(const float* __restrict__ x, gw::SumToShapePlan p, float* __restrict__ out,
                                double alpha) {
  constexpr int kOutsPerBlock = kBlock / kTpr;
  int lane = threadIdx.x % kTpr;
  int64_t step = static_cast<int64_t>(gridDim.x) * kOutsPerBlock;
  for (int64_t o = blockIdx.x * static_cast<int64_t>(kOutsPerBlock) + threadIdx.x / kTpr; o < p.out_numel;
       o += step) {
    const float* base = x + p.kept.offset(o);
    double acc = 0;
    for (int64_t r = 0; r < p.reduced.count; ++r) {
      const float* row = base + p.reduced.offset(r);
      for (int64_t j = lane; j < p.run; j += kTpr) acc += row[j];
    }
    if constexpr (kTpr == 32) acc = warp_sum(acc);
    else acc = block_sum(acc);
    if (lane == 0) out[o] = static_cast<float>(acc * alpha);
  }
}

// sum_to_shape, innermost dim kept: block (32, 8) over 32 outputs of one output row;
// blockIdx.z takes reduced indices [z·per_split, (z+1)·per_split). With several splits
// the block writes double partials part[z][o]; with one it writes out directly.
__global__ void sts_cols_kernel(const float* __restrict__ x, gw::SumToShapePlan p, int64_t per_split,
                                double* __restrict__ part, float* __restrict__ out, double alpha) {
  GW_SHARED(double[8][33], smem);
  const int64_t K = p.run, R = p.reduced.count;
  int64_t k = blockIdx.x * 32ll + threadIdx.x;
  int64_t r0 = blockIdx.z * per_split, r1 = r0 + per_split < R ? r0 + per_split : R;
  for (int64_t row = blockIdx.y; row < p.kept.count; row += gridDim.y) {
    double acc = 0;
    if (k < K) {
      const float* base = x + p.kept.offset(row) + k;
      for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) acc += base[p.reduced.offset(r)];
    }
    smem[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && k < K) {
      double s = 0;
      for (int t = 0; t < 8; ++t) s += smem[t][threadIdx.x];
      if (part) part[blockIdx.z * p.out_numel + row * K + k] = s;
      else out[row * K + k] = static_cast<float>(s * alpha);
    }
    __syncthreads();
  }
}

__global__ void sum_partials_kernel(const double* __restrict__ part, int64_t splits, int64_t m, double alpha,
                                    float* __restrict__ out) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < m; o += stride) {
    double s = 0;
    for (int64_t z = 0; z < splits; ++z) s += part[z * m + o];
    out[o] = static_cast<float>(s * alpha);
  }
}

}  // namespace

// ---- launchers

namespace gw::cuda {

template <typename T, typename F>
static int launch_partials(const float* x, int64_t n, T* part, F f, Stream stream) {
  int64_t want = (n + kBlock * 8 - 1) / (kBlock * 8);
  int blocks = static_cast<int>(want < 1 ? 1 : want > kMaxPartials ? kMaxPartials : want);
  gw::launch<partial_kernel<T, F>>(blocks, kBlock, 0, stream, x, n, part, f);
  return blocks;
}

template <typename F>
static void full_sum(const float* x, int64_t n, float* out, double alpha, F f, Stream stream) {
  DeviceScratch<double> part(kMaxPartials);
  int blocks = launch_partials<double>(x, n, part.get(), f, stream);
  gw::launch<final_sum_kernel>(1, kBlock, 0, stream, part.get(), blocks, out, alpha);
}

void sum_all(const float* x, int64_t n, float* out, Stream stream) { full_sum(x, n, out, 1.0, Identity{}, stream); }

void sum_squares(const float* x, int64_t n, float* out, Stream stream) { full_sum(x, n, out, 1.0, Square{}, stream); }

int64_t count_nonfinite(const float* x, int64_t n, Stream stream) {
  if (n == 0) return 0;
  DeviceScratch<unsigned long long> part(kMaxPartials + 1);
  int blocks = launch_partials<unsigned long long>(x, n, part.get() + 1, NonFinite{}, stream);
  gw::launch<final_count_kernel>(1, kBlock, 0, stream, part.get() + 1, blocks, part.get());
  unsigned long long count = 0;
  cudart::memcpy_d2h(&count, part.get(), sizeof(count), stream);
  return static_cast<int64_t>(count);
}

static void sum_axis(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, double scale,
                     Stream stream) {
  if (inner == 1) {
    if (n >= 2048) gw::launch<rows_sum_kernel<kBlock>>(grid_for(outer, 1), kBlock, 0, stream, x, outer, n, out, scale);
    else gw::launch<rows_sum_kernel<32>>(grid_for(outer, kBlock / 32), kBlock, 0, stream, x, outer, n, out, scale);
  } else {
    dim3 grid(ceil_div(inner, 32), static_cast<unsigned>(outer < 65535 ? outer : 65535));
    gw::launch<cols_sum_kernel>(grid, dim3(32, 8), 0, stream, x, outer, n, inner, out, scale);
  }
}

template <bool kMax>
static void arg_axis(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* idx,
                     Stream stream) {
  if (inner == 1) {
    if (n >= 2048)
      gw::launch<rows_arg_kernel<kBlock, kMax>>(grid_for(outer, 1), kBlock, 0, stream, x, outer, n, out, idx);
    else
      gw::launch<rows_arg_kernel<32, kMax>>(grid_for(outer, kBlock / 32), kBlock, 0, stream, x, outer, n, out, idx);
  } else {
    dim3 grid(ceil_div(inner, 32), static_cast<unsigned>(outer < 65535 ? outer : 65535));
    gw::launch<cols_arg_kernel<kMax>>(grid, dim3(32, 8), 0, stream, x, outer, n, inner, out, idx);
  }
}

void reduce_axis(ReduceOp op, const float* x, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* indices,
                 Stream stream) {
  if (outer == 0 || inner == 0) return;
  switch (op) {
    case ReduceOp::kSum: sum_axis(x, outer, n, inner, out, 1.0, stream); return;
    case ReduceOp::kMean: sum_axis(x, outer, n, inner, out, n ? 1.0 / static_cast<double>(n) : NAN, stream); return;
    case ReduceOp::kMax:
    case ReduceOp::kMin:
      GW_CHECK(n > 0, kShape, "max/min over an axis of length 0");
      if (op == ReduceOp::kMax) arg_axis<true>(x, outer, n, inner, out, indices, stream);
      else arg_axis<false>(x, outer, n, inner, out, indices, stream);
      return;
  }
  GW_THROW(kArgument, "unknown reduce op ", static_cast<int>(op));
}

void reduce_axis_backward(ReduceOp op, const float* gout, const int64_t* indices, int64_t outer, int64_t n,
                          int64_t inner, float* gx, Stream stream) {
  bool arg = op == ReduceOp::kMax || op == ReduceOp::kMin;
  GW_CHECK(!arg || indices, kArgument, "max/min backward needs the indices of the forward pass");
  int64_t total = outer * n * inner;
  if (total == 0) return;
  float scale = op == ReduceOp::kMean ? 1.0f / static_cast<float>(n) : 1.0f;
  gw::launch<axis_backward_kernel>(grid_for(total, kBlock), kBlock, 0, stream, gout, arg ? indices : nullptr, n, inner,
                                   total, scale, gx);
}

void sum_to_shape(const float* x, const Dims& in_shape, const Dims& out_shape, float* out, float alpha,
                  Stream stream) {
  SumToShapePlan p = make_sum_to_shape_plan(in_shape, out_shape);
  const int64_t m = p.out_numel;
  if (m == 0) return;
  if (p.in_numel == 0) {
    cudart::memset_device(out, 0, static_cast<size_t>(m) * sizeof(float), stream);
    return;
  }
  if (m == 1) {
    full_sum(x, p.in_numel, out, alpha, Identity{}, stream);
    return;
  }
  if (!p.any_reduced) {
    gw::launch<scale_copy_kernel>(grid_for(m, kBlock), kBlock, 0, stream, x, m, alpha, out);
    return;
  }
  if (p.inner_reduced) {
    if (p.reduced.count * p.run >= 4096)
      gw::launch<sts_rows_kernel<kBlock>>(grid_for(m, 1), kBlock, 0, stream, x, p, out, alpha);
    else
      gw::launch<sts_rows_kernel<32>>(grid_for(m, kBlock / 32), kBlock, 0, stream, x, p, out, alpha);
    return;
  }
  // Innermost kept: split the reduced range until there are about 2048 blocks, each split
  // keeping at least 64 reduced indices (8 per thread row).
  const int64_t R = p.reduced.count;
  unsigned tiles = ceil_div(p.run, 32);
  int64_t rows_grid = p.kept.count < 65535 ? p.kept.count : 65535;
  int64_t splits = (2048 + tiles * rows_grid - 1) / (tiles * rows_grid);
  int64_t max_splits = (R + 63) / 64;
  splits = splits > max_splits ? max_splits : splits;
  splits = splits < 1 ? 1 : splits > 1024 ? 1024 : splits;
  int64_t per_split = (R + splits - 1) / splits;
  splits = (R + per_split - 1) / per_split;
  dim3 grid(tiles, static_cast<unsigned>(rows_grid), static_cast<unsigned>(splits));
  if (splits == 1) {
    gw::launch<sts_cols_kernel>(grid, dim3(32, 8), 0, stream, x, p, per_split, nullptr, out, alpha);
    return;
  }
  DeviceScratch<double> part(static_cast<size_t>(splits * m));
  gw::launch<sts_cols_kernel>(grid, dim3(32, 8), 0, stream, x, p, per_split, part.get(), out, alpha);
  gw::launch<sum_partials_kernel>(grid_for(m, kBlock), kBlock, 0, stream, part.get(), splits, m, alpha, out);
}

}  // namespace gw::cuda
