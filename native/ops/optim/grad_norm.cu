// grad_norm — CUDA. Pass 1 (one multi-tensor launch per batch of chunks): each block sums
// the squares of one chunk, float per thread then float64 across the block, and writes
// partial[chunk]. Pass 2 (one block): sums the partials in float64 in a fixed order and
// writes the norm and the non-finite flag. No atomics, so the bits never change from run
// to run; the host never waits. clip_by_norm is a multi-tensor op whose blocks read the
// norm on the device and return at once when no clipping is needed. See grad_norm.h.
#include <cmath>

#include "../../core/allocator.h"
#include "../../core/launch.cuh"
#include "grad_norm.h"
#include "multi_tensor_apply.cuh"

namespace {

constexpr int kFinalBlock = 512;

// ---- kernels

/// Sum over the block in a fixed order (warp shuffles, then warp 0 over the warp sums).
/// Every thread must call it; the result is valid in thread 0.
template <int Threads>
__device__ double block_sum(double x) {
  static_assert(Threads % 32 == 0 && Threads <= 1024, "whole warps");
  GW_SHARED(double[Threads / 32], warp_sums);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_down_sync(0xffffffffu, x, o);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = x;
  __syncthreads();
  if (warp == 0) {
    x = lane < Threads / 32 ? warp_sums[lane] : 0.0;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x += __shfl_down_sync(0xffffffffu, x, o);
  }
  return x;
}

__global__ void __launch_bounds__(gw::mta::kBlock)
    chunk_sum_squares_kernel(gw::mta::TensorListMeta<1> meta, double* partial) {
  using gw::mta::kBlock;
  using gw::mta::kChunk;
  const int slot = meta.block_tensor[blockIdx.x];
  const int64_t start = static_cast<int64_t>(meta.block_chunk[blockIdx.x]) * kChunk;
  const int64_t left = meta.numel[slot] - start;
  const int64_t n = left < kChunk ? left : kChunk;
  const float* x = meta.ptr[0][slot] + start;
  float acc = 0.f;
  const int64_t n4 = reinterpret_cast<uintptr_t>(x) % 16 == 0 ? n / 4 : 0;
  for (int64_t i = threadIdx.x; i < n4; i += kBlock) {
    const float4 r = reinterpret_cast<const float4*>(x)[i];
    acc += r.x * r.x + r.y * r.y + r.z * r.z + r.w * r.w;
  }
  for (int64_t i = n4 * 4 + threadIdx.x; i < n; i += kBlock) acc += x[i] * x[i];
  const double s = block_sum<kBlock>(static_cast<double>(acc));
  if (threadIdx.x == 0) partial[meta.chunk_base + blockIdx.x] = s;
}

__global__ void __launch_bounds__(kFinalBlock)
    finish_norm_kernel(const double* partial, int64_t n, float* out, uint8_t* non_finite) {
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kFinalBlock) acc += partial[i];
  const double total = block_sum<kFinalBlock>(acc);
  if (threadIdx.x == 0) {
    const float norm = static_cast<float>(sqrt(total));
    out[0] = norm;
    if (non_finite) non_finite[0] = isfinite(norm) ? 0 : 1;
  }
}

struct ClipOp {  // list 0: grad
  static constexpr unsigned kWrites = 1u;
  const float* norm;
  float max_norm;
  float scale;
  __device__ bool setup() {
    const float total = *norm;
    scale = max_norm / (total + 1e-6f);
    return isfinite(total) && scale < 1.f;
  }
  __device__ void operator()(float (&x)[1]) const { x[0] *= scale; }
};

/// Device scratch from the caching allocator, returned in stream order when it goes.
struct Scratch {
  explicit Scratch(size_t bytes) : bytes(bytes), p(gw::mem_alloc(gw::Device::kCuda, bytes)) {}
  ~Scratch() { gw::mem_free(gw::Device::kCuda, p, bytes); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  size_t bytes;
  void* p;
};

}  // namespace

// ---- launchers

namespace gw::cuda {

void grad_norm(const float* const* grads, const int64_t* numels, int64_t count, float* out, uint8_t* non_finite,
               Stream stream) {
  const int64_t chunks = mta::total_chunks(numels, count);
  Scratch partial(static_cast<size_t>(chunks > 0 ? chunks : 1) * sizeof(double));
  double* partial_p = static_cast<double*>(partial.p);
  float* const* const lists[1] = {const_cast<float* const*>(grads)};  // read only
  mta::for_each_batch<1>(lists, numels, count, [&](const mta::TensorListMeta<1>& meta, int blocks) {
    gw::launch<chunk_sum_squares_kernel>(blocks, mta::kBlock, 0, stream, meta, partial_p);
  });
  gw::launch<finish_norm_kernel>(1, kFinalBlock, 0, stream, partial_p, chunks, out, non_finite);
}

void clip_by_norm(float* const* grads, const int64_t* numels, int64_t count, const float* norm, float max_norm,
                  Stream stream) {
  GW_CHECK(std::isfinite(max_norm) && max_norm >= 0, kArgument, "Expected a finite maxNorm >= 0 but received ",
           max_norm);
  float* const* const lists[1] = {grads};
  mta::multi_tensor_apply<1>(lists, numels, count, ClipOp{norm, max_norm, 1.f}, stream);
}

}  // namespace gw::cuda
