// stream — CUDA. See stream.h.
#include <algorithm>

#include "../../core/allocator.h"
#include "../../core/cuda_check.h"
#include "../../core/launch.cuh"
#include "stream.h"

// ---- kernels

__global__ void triad_kernel(float4* a, const float4* b, const float4* c, float s, int64_t n4) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n4; i += stride) {
    float4 x = b[i], y = c[i];
    a[i] = make_float4(x.x + s * y.x, x.y + s * y.y, x.z + s * y.z, x.w + s * y.w);
  }
}

// ---- launchers

namespace gw::cuda {

double stream_triad_gbs(int64_t n, int reps, Stream stream) {
  n = (n + 3) / 4 * 4;
  size_t bytes = static_cast<size_t>(n) * sizeof(float);
  float* a = static_cast<float*>(mem_alloc(Device::kCuda, bytes));
  float* b = static_cast<float*>(mem_alloc(Device::kCuda, bytes));
  float* c = static_cast<float*>(mem_alloc(Device::kCuda, bytes));
  cudaEvent_t start = nullptr, stop = nullptr;
  double best = 0;
  try {
    GW_CUDA_CHECK(cudaMemsetAsync(b, 0, bytes, stream));
    GW_CUDA_CHECK(cudaMemsetAsync(c, 0, bytes, stream));
    GW_CUDA_CHECK(cudaEventCreate(&start));
    GW_CUDA_CHECK(cudaEventCreate(&stop));
    int sms = 0, dev = 0;
    GW_CUDA_CHECK(cudaGetDevice(&dev));
    GW_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    unsigned grid = static_cast<unsigned>(std::min<int64_t>(ceil_div(n / 4, 256), int64_t(sms) * 8));
    for (int r = 0; r <= reps; ++r) {  // pass 0 warms up
      GW_CUDA_CHECK(cudaEventRecord(start, stream));
      gw::launch<triad_kernel>(grid, 256, 0, stream, reinterpret_cast<float4*>(a), reinterpret_cast<const float4*>(b),
                               reinterpret_cast<const float4*>(c), 0.5f, n / 4);
      GW_CUDA_CHECK(cudaEventRecord(stop, stream));
      GW_CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      GW_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      if (r > 0) best = std::max(best, 3.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9);
    }
  } catch (...) {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    mem_free(Device::kCuda, a, bytes);
    mem_free(Device::kCuda, b, bytes);
    mem_free(Device::kCuda, c, bytes);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  mem_free(Device::kCuda, a, bytes);
  mem_free(Device::kCuda, b, bytes);
  mem_free(Device::kCuda, c, bytes);
  return best;
}

}  // namespace gw::cuda
