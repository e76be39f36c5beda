// loss — the per-element formulas of loss.h, shared by the CPU twin and the CUDA kernels.
#pragma once
#include "../../core/hd.h"
#include "../../core/hd_math.h"

namespace gw::loss {

/// log(1 + e^−|t|): softplus(t) = log(1 + eᵗ) = max(t, 0) + softplus_tail(t) without
/// overflow, and softplus(−t) = max(−t, 0) + the same tail.
GW_HD float softplus_tail(float t) { return fm::log1p(fm::exp(-fabsf(t))); }

struct Bce {
  float pos_weight = 1.f;
  /// (1 − y)·softplus(z) + pos_weight·y·softplus(−z), the shared tail computed once.
  GW_HD float value(float z, float y) const {
    const float tail = softplus_tail(z);
    return (1.f - y) * ((z > 0.f ? z : 0.f) + tail) + pos_weight * y * ((z < 0.f ? -z : 0.f) + tail);
  }
  GW_HD float grad(float z, float y) const { return (1.f - y) * fm::sigmoid(z) - pos_weight * y * fm::sigmoid(-z); }
};

struct Mse {
  GW_HD float value(float z, float y) const { return (z - y) * (z - y); }
  GW_HD float grad(float z, float y) const { return 2.f * (z - y); }
};

}  // namespace gw::loss
