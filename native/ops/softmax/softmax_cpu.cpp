// softmax — CPU twin. See softmax.h. One row at a time per task: a vectorized max, the
// exponentials (vm::exp, vectorized) with a float64 sum over fixed lanes, then a vectorized
// normalization.
#include <cmath>
#include <limits>

#include "../../core/lanes.h"
#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "../../core/vec_math.h"
#include "softmax.h"

namespace gw::cpu {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// z[j] = mask[j] ? scale · x[j] : −∞ (mask may be null); returns max_j z[j].
GW_CPU_CLONES float scaled_logits(const float* GW_RESTRICT x, const uint8_t* GW_RESTRICT mask, float scale,
                                  float* GW_RESTRICT z, int64_t n) {
  if (mask) {
    for (int64_t j = 0; j < n; ++j) z[j] = mask[j] ? scale * x[j] : kNegInf;
  } else {
    for (int64_t j = 0; j < n; ++j) z[j] = scale * x[j];
  }
  return lane_max(z, n, kNegInf);
}

/// Σ_j exp(y[j] − m) in float64 over fixed lanes (core/lanes.h); with STORE, also
/// y[j] = exp(y[j] − m). A chunk at a time: the exponentials, then their sum.
template <bool STORE>
GW_CPU_CLONES double exp_sum(float* GW_RESTRICT y, float m, int64_t n) {
  constexpr int64_t kChunk = 1024;
  float buf[kChunk];
  double sum = 0;
  for (int64_t j0 = 0; j0 < n; j0 += kChunk) {
    const int64_t len = n - j0 < kChunk ? n - j0 : kChunk;
    float* e = STORE ? y + j0 : buf;
    for (int64_t j = 0; j < len; ++j) e[j] = vm::exp(y[j0 + j] - m);  // exp(−∞) = 0
    sum += lane_sum(e, len);
  }
  return sum;
}

GW_CPU_CLONES void scale_row(float* GW_RESTRICT y, float c, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] *= c;
}

GW_CPU_CLONES void shift_row(float* GW_RESTRICT y, float c, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] -= c;  // −∞ stays −∞
}

/// gx[j] = scale · (gy[j] − exp(y[j]) · s), 0 where y[j] = −∞ (an excluded entry).
GW_CPU_CLONES void log_softmax_grad_row(const float* GW_RESTRICT gy, const float* GW_RESTRICT y, float s, float scale,
                                        float* GW_RESTRICT gx, int64_t n) {
  for (int64_t j = 0; j < n; ++j) gx[j] = y[j] == kNegInf ? 0.0f : scale * (gy[j] - vm::exp(y[j]) * s);
}

GW_CPU_CLONES void softmax_grad_row(const float* GW_RESTRICT gy, const float* GW_RESTRICT y, float dot, float scale,
                                    float* GW_RESTRICT gx, int64_t n) {
  for (int64_t j = 0; j < n; ++j) gx[j] = scale * y[j] * (gy[j] - dot);
}

void forward_row(const float* x, const uint8_t* mask, float scale, float* y, int64_t n, bool log) {
  const float m = scaled_logits(x, mask, scale, y, n);  // y holds z for now
  if (m == kNegInf) {  // every entry excluded
    for (int64_t j = 0; j < n; ++j) y[j] = log ? kNegInf : 0.0f;
    return;
  }
  if (log) {
    const double sum = exp_sum<false>(y, m, n);
    shift_row(y, m + static_cast<float>(std::log(sum)), n);
  } else {
    const double sum = exp_sum<true>(y, m, n);
    scale_row(y, static_cast<float>(1.0 / sum), n);
  }
}

void backward_row(const float* gy, const float* y, float* gx, int64_t n, bool log, float scale) {
  double acc = 0;
  if (log) {
    for (int64_t j = 0; j < n; ++j)
      if (y[j] != kNegInf) acc += gy[j];
    log_softmax_grad_row(gy, y, static_cast<float>(acc), scale, gx, n);
  } else {
    for (int64_t j = 0; j < n; ++j) acc += static_cast<double>(gy[j]) * y[j];
    softmax_grad_row(gy, y, static_cast<float>(acc), scale, gx, n);
  }
}

int64_t row_grain(int64_t cols) { return cols >= 4096 ? 1 : 4096 / (cols ? cols : 1); }

}  // namespace

void softmax_forward(const float* x, const uint8_t* mask, bool mask_per_row, float scale, float* out, int64_t rows,
                     int64_t cols, bool log) {
  parallel_for(0, rows, row_grain(cols), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const uint8_t* mr = mask ? (mask_per_row ? mask + r * cols : mask) : nullptr;
      forward_row(x + r * cols, mr, scale, out + r * cols, cols, log);
    }
  });
}

void softmax_backward(const float* gy, const float* y, float* gx, int64_t rows, int64_t cols, bool log, float scale) {
  parallel_for(0, rows, row_grain(cols), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) backward_row(gy + r * cols, y + r * cols, gx + r * cols, cols, log, scale);
  });
}

}  // namespace gw::cpu
