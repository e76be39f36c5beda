// loss — the per-element formulas of loss.h, shared by the CPU twin and the CUDA kernels.
#pragma once
#include <cmath>

#if defined(__CUDACC__)
#define GW_LOSS_FN __host__ __device__ __forceinline__
#else
#define GW_LOSS_FN inline
#endif

namespace gw::loss {

/// softplus(t) = log(1 + exp(t)), without overflow.
GW_LOSS_FN float softplus(float t) { return fmaxf(t, 0.f) + log1pf(expf(-fabsf(t))); }
GW_LOSS_FN float sigmoid(float t) { return 1.f / (1.f + expf(-t)); }

struct Bce {
  float pos_weight = 1.f;
  GW_LOSS_FN float value(float z, float y) const { return (1.f - y) * softplus(z) + pos_weight * y * softplus(-z); }
  GW_LOSS_FN float grad(float z, float y) const { return (1.f - y) * sigmoid(z) - pos_weight * y * sigmoid(-z); }
};

struct Mse {
  GW_LOSS_FN float value(float z, float y) const { return (z - y) * (z - y); }
  GW_LOSS_FN float grad(float z, float y) const { return 2.f * (z - y); }
};

}  // namespace gw::loss
