// sample_linear — CPU twin and test oracle. See sample_linear.h.
#include <algorithm>

#include "../../core/blas1.h"
#include "../../core/error.h"
#include "../../core/parallel.h"
#include "../activation/act_math.h"
#include "sample_linear.h"

namespace gw::cpu {

void sample_linear_forward(const SampleLinearArgs& a, float* y, float* pre) {
  sample_linear_detail::check(a, "sample_linear_forward");
  GW_CHECK(a.batch * a.out == 0 || y, kArgument, "sample_linear_forward: null y");
  const int64_t in = a.in, out = a.out;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, in * out));
  parallel_for(0, a.batch, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      float* yb = y + b * out;
      if (a.bias) std::copy(a.bias + b * out, a.bias + (b + 1) * out, yb);
      else std::fill(yb, yb + out, 0.f);
      const float* w = a.w + b * in * out;
      for (int64_t i = 0; i < in; ++i) axpy(a.x[b * in + i], w + i * out, yb, out);
      if (pre) std::copy(yb, yb + out, pre + b * out);
      for (int64_t j = 0; j < out; ++j) yb[j] = act_apply(a.act, a.leaky_slope, yb[j]);
    }
  });
}

void sample_linear_backward(const SampleLinearArgs& a, const float* dpre, float* dx, float* dw) {
  sample_linear_detail::check(a, "sample_linear_backward");
  GW_CHECK(a.batch * a.out == 0 || dpre, kArgument, "sample_linear_backward: null dpre");
  const int64_t in = a.in, out = a.out;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, in * out));
  parallel_for(0, a.batch, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      const float* d = dpre + b * out;
      for (int64_t i = 0; i < in; ++i) {
        if (dx) dx[b * in + i] = dot(a.w + (b * in + i) * out, d, out);
        if (dw) {
          const float xi = a.x[b * in + i];
          float* row = dw + (b * in + i) * out;
          for (int64_t j = 0; j < out; ++j) row[j] = xi * d[j];
        }
      }
    }
  });
}

}  // namespace gw::cpu
