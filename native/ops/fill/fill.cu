// fill — CUDA. See fill.h.
#include "../../core/cuda_check.h"
#include "../../core/launch.cuh"
#include "fill.h"

// ---- kernels

__global__ void fill_kernel(float* out, float value, int64_t n) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) out[i] = value;
}

// ---- launchers

namespace gw::cuda {

void fill(float* out, float value, int64_t n, Stream stream) {
  if (n == 0) return;
  gw::launch<fill_kernel>(grid_for(n), kPointwiseBlock, 0, stream, out, value, n);
}

}  // namespace gw::cuda
