// loss — CPU twin. See loss.h. Reductions sum fixed blocks of kBlock elements in float64
// (in parallel), then the block partials in order, so results never depend on the thread count.
#include <algorithm>
#include <vector>

#include "../../core/error.h"
#include "../../core/parallel.h"
#include "loss.h"
#include "loss_math.h"

namespace gw::cpu {

namespace {

constexpr int64_t kBlock = 4096;

/// Σ w_i f(z_i, y_i) and Σ w_i (or n), deterministically.
template <typename F>
void reduce(const F& f, const float* z, const float* y, const float* w, int64_t n, double& loss_sum,
            double& weight_sum) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> part_l(static_cast<size_t>(blocks)), part_w(static_cast<size_t>(blocks));
  parallel_for(0, blocks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      double l = 0, ws = 0;
      for (int64_t i = b * kBlock, e = std::min(n, i + kBlock); i < e; ++i) {
        const double wi = w ? w[i] : 1.0;
        l += wi * f.value(z[i], y[i]);
        ws += wi;
      }
      part_l[b] = l;
      part_w[b] = ws;
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
      for (int64_t i = lo; i < hi; ++i) out[i] = (w ? w[i] : 1.f) * f.value(z[i], y[i]);
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
      for (int64_t b = 0; b * kBlock < n; ++b) {  // Σ w in the same block order as reduce()
        double s = 0;
        for (int64_t i = b * kBlock, e = std::min(n, i + kBlock); i < e; ++i) s += w[i];
        denom += s;
      }
    }
    c = red == Reduction::kSum ? gout[0] : (denom == 0 ? 0.f : static_cast<float>(gout[0] / denom));
  }
  parallel_for(0, n, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float g = red == Reduction::kNone ? gout[i] : c;
      gz[i] = g * (w ? w[i] : 1.f) * f.grad(z[i], y[i]);
    }
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
