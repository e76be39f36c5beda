// gatewise — CUDA error checks for .cu files and the CUDA core. Throw, never exit.
#pragma once
#include <cuda_runtime.h>

#include "error.h"

#define GW_CUDA_CHECK(expr)                                                                  \
  do {                                                                                       \
    cudaError_t gw_err_ = (expr);                                                            \
    if (gw_err_ != cudaSuccess) {                                                            \
      (void)cudaGetLastError();                                                              \
      if (gw_err_ == cudaErrorMemoryAllocation)                                              \
        GW_THROW(kOom, "CUDA out of memory in ", #expr);                                     \
      GW_THROW(kCuda, "CUDA error ", cudaGetErrorName(gw_err_), " (", cudaGetErrorString(gw_err_), \
               ") in ", #expr);                                                              \
    }                                                                                        \
  } while (0)

/// After every kernel launch: a bad configuration shows up here, at the launch site.
#define GW_CUDA_CHECK_LAUNCH() GW_CUDA_CHECK(cudaGetLastError())

namespace gw {
inline unsigned ceil_div(long long a, long long b) { return static_cast<unsigned>((a + b - 1) / b); }

constexpr int kPointwiseBlock = 256;          ///< threads per block of the grid-stride kernels
constexpr unsigned kMaxGrid = 65535u * 8;     ///< enough blocks to fill any GPU; the stride loop does the rest

/// Blocks for a grid-stride kernel over n items (at least one, at most kMaxGrid).
inline unsigned grid_for(long long n, int block = kPointwiseBlock) {
  unsigned g = ceil_div(n, block);
  return g > kMaxGrid ? kMaxGrid : (g ? g : 1u);
}

/// Whether float4 loads/stores may be used on p.
inline bool is_aligned16(const void* p) { return (reinterpret_cast<unsigned long long>(p) & 15) == 0; }
}  // namespace gw
