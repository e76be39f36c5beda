// loss — CPU twin. See loss.h. Reductions sum fixed blocks of kBlock elements in float64
// (in parallel, each over fixed lanes: core/lanes.h), then the block partials in order, so results
// never depend on the thread count or the ISA.
#include <algorithm>
#include <vector>

#include "../../core/error.h"
#include "../../core/lanes.h"
#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "loss.h"
#include "loss_math.h"

namespace gw::cpu {

namespace {

constexpr int64_t kBlock = 4096;

/// out[i] = w[i] · f.value(z[i], y[i]) (w null: weights 1), vectorized per ISA.
template <typename F>
GW_CPU_CLONES void values(F f, const float* GW_RESTRICT z, const float* GW_RESTRICT y, const float* GW_RESTRICT w,
                          float* GW_RESTRICT out, int64_t n) {
  if (w) {
    for (int64_t i = 0; i < n; ++i) out[i] = w[i] * f.value(z[i], y[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = f.value(z[i], y[i]);
  }
}

/// gz[i] = g_i · w[i] · f.grad(z[i], y[i]), g_i = gout[i] or c when gout is null.
template <typename F>
GW_CPU_CLONES void grads(F f, const float* GW_RESTRICT z, const float* GW_RESTRICT y, const float* GW_RESTRICT w,
                         const float* GW_RESTRICT gout, float c, float* GW_RESTRICT gz, int64_t n) {
  if (gout && w) {
    for (int64_t i = 0; i < n; ++i) gz[i] = gout[i] * w[i] * f.grad(z[i], y[i]);
  } else if (gout) {
    for (int64_t i = 0; i < n; ++i) gz[i] = gout[i] * f.grad(z[i], y[i]);
  } else if (w) {
    for (int64_t i = 0; i < n; ++i) gz[i] = c * w[i] * f.grad(z[i], y[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) gz[i] = c * f.grad(z[i], y[i]);
  }
}

/// Σ a[i] in float64 over fixed lanes (core/lanes.h), vectorized per ISA.
GW_CPU_CLONES double block_sum(const float* GW_RESTRICT a, int64_t n) { return lane_sum(a, n); }

/// Σ w_i f(z_i, y_i) and Σ w_i (or n), deterministically.
template <typename F>
void reduce(const F& f, const float* z, const float* y, const float* w, int64_t n, double& loss_sum,
            double& weight_sum) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> part_l(static_cast<size_t>(blocks)), part_w(static_cast<size_t>(blocks));
  parallel_for(0, blocks, 1, [&](int64_t lo, int64_t hi) {
    float v[kBlock];
    for (int64_t b = lo; b < hi; ++b) {
      const int64_t i = b * kBlock, len = std::min(n - i, kBlock);
      values(f, z + i, y + i, w ? w + i : nullptr, v, len);
      part_l[b] = block_sum(v, len);
      part_w[b] = w ? block_sum(w + i, len) : static_cast<double>(len);
    }
  });
  loss_sum = weight_sum = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    loss_sum += part_l[b];
    weight_sum += part_w[b];
  }
}

template <typename F>
void forward(const F& f, const float* z, const float* y, const float* w, int64_t n, Reduction red, float* out) {
  if (red == Reduction::kNone) {
    parallel_for(0, n, 1 << 14, [&](int64_t lo, int64_t hi) {
      values(f, z + lo, y + lo, w ? w + lo : nullptr, out + lo, hi - lo);
    });
    return;
  }
  double l, ws;
  reduce(f, z, y, w, n, l, ws);
  out[0] = red == Reduction::kSum ? static_cast<float>(l) : (ws == 0 ? 0.f : static_cast<float>(l / ws));
}

template <typename F>
void backward(const F& f, const float* z, const float* y, const float* w, int64_t n, Reduction red, const float* gout,
              float* gz) {
  float c = 1.f;  // gout[0] / D for kMean, gout[0] for kSum
  if (red != Reduction::kNone) {
    double denom = static_cast<double>(n);
    if (red == Reduction::kMean && w) {
      denom = 0;
      for (int64_t i = 0; i < n; i += kBlock) denom += block_sum(w + i, std::min(n - i, kBlock));  // as reduce()
    }
    c = red == Reduction::kSum ? gout[0] : (denom == 0 ? 0.f : static_cast<float>(gout[0] / denom));
  }
  const float* g = red == Reduction::kNone ? gout : nullptr;
  parallel_for(0, n, 1 << 14, [&](int64_t lo, int64_t hi) {
    grads(f, z + lo, y + lo, w ? w + lo : nullptr, g ? g + lo : nullptr, c, gz + lo, hi - lo);
  });
}

}  // namespace

void bce_with_logits_forward(const float* z, const float* y, const float* w, float pos_weight, int64_t n,
                             Reduction red, float* out) {
  forward(loss::Bce{pos_weight}, z, y, w, n, red, out);
}
void bce_with_logits_backward(const float* z, const float* y, const float* w, float pos_weight, int64_t n,
                              Reduction red, const float* gout, float* gz) {
  backward(loss::Bce{pos_weight}, z, y, w, n, red, gout, gz);
}
void mse_forward(const float* z, const float* y, const float* w, int64_t n, Reduction red, float* out) {
  forward(loss::Mse{}, z, y, w, n, red, out);
}
void mse_backward(const float* z, const float* y, const float* w, int64_t n, Reduction red, const float* gout,
                  float* gz) {
  backward(loss::Mse{}, z, y, w, n, red, gout, gz);
}

}  // namespace gw::cpu
