// gemm — the fused epilogue's activation, one definition for host and device code.
//   identity: x        relu: max(x, 0)       leaky_relu: x ≥ 0 ? x : slope·x
//   sigmoid: 1/(1+e^−x)  tanh: tanh(x)      gelu: x·½·(1 + erf(x/√2))  (exact, PyTorch's default)
#pragma once
#include <math.h>

#include "../../core/dtype.h"

#if defined(__CUDACC__)
#define GW_GEMM_HD __host__ __device__ __forceinline__
#else
#define GW_GEMM_HD inline
#endif

namespace gw {

GW_GEMM_HD float gemm_act(float x, Act act, float slope) {
  switch (act) {
    case Act::kIdentity: return x;
    case Act::kRelu: return x > 0.f ? x : 0.f;
    case Act::kLeakyRelu: return x >= 0.f ? x : slope * x;
    case Act::kSigmoid: return 1.f / (1.f + expf(-x));
    case Act::kTanh: return tanhf(x);
    case Act::kGelu: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
  }
  return x;
}

}  // namespace gw
