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
}  // namespace gw
