// reduce — CPU against float64 references (axis reductions with indices and backward,
// sum_to_shape, full sums, non-finite counts), CPU determinism across thread counts, and
// CUDA against CPU with poisoned outputs.
#include <vector>

#include "core/parallel.h"
#include "harness.h"
#include "ops/reduce/reduce.h"

namespace {

using gw::Dims;
using gw::ReduceOp;

struct Axis {
  int64_t outer, n, inner;
};
const Axis kAxes[] = {{1, 1, 1}, {3, 7, 1}, {2, 1000, 1}, {2, 5000, 1}, {5, 33, 7}, {1, 4099, 3}, {4, 3, 1001}, {9, 1, 5}};
const ReduceOp kOps[] = {ReduceOp::kSum, ReduceOp::kMean, ReduceOp::kMax, ReduceOp::kMin};
const char* kNames[] = {"sum", "mean", "max", "min"};

struct Sts {
  std::vector<int64_t> in, out;
};
const Sts kSts[] = {
    {{7, 33}, {33}},        {{7, 33}, {7, 1}},          {{2, 3, 4, 5}, {3, 1, 5}}, {{33, 7, 5}, {1, 7, 1}},
    {{1000, 3}, {1}},       {{1003}, {1003}},           {{0, 5}, {5}},             {{65539, 19}, {19}},
    {{3, 70001}, {3, 1}},   {{5, 4, 3}, {4, 1}},        {{6, 1, 9}, {1, 9}},       {{2, 33, 1000}, {2, 1, 1000}},
};

Dims dims(const std::vector<int64_t>& s) { return gw::make_dims(s.data(), static_cast<int>(s.size())); }

/// out index → in offsets: the float64 sum over every in element that maps onto it.
std::vector<double> ref_sum_to_shape(const std::vector<float>& x, const Dims& in, const Dims& out) {
  std::vector<double> r(out.numel(), 0.0);
  for (int64_t i = 0; i < in.numel(); ++i) {
    int64_t rem = i, o = 0, ro = 1;
    for (int d = in.ndim - 1; d >= 0; --d) {
      int64_t c = rem % in.d[d];
      rem /= in.d[d];
      int od = out.ndim - in.ndim + d;
      if (od >= 0) {
        if (out.d[od] != 1) o += c * ro;
        ro *= out.d[od];
      }
    }
    r[o] += x[i];
  }
  return r;
}

void ref_axis(ReduceOp op, const std::vector<float>& x, const Axis& a, std::vector<double>& out,
              std::vector<int64_t>& idx) {
  out.assign(a.outer * a.inner, 0.0);
  idx.assign(a.outer * a.inner, 0);
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t k = 0; k < a.inner; ++k) {
      double s = 0, best = x[o * a.n * a.inner + k];
      int64_t bi = 0;
      for (int64_t j = 0; j < a.n; ++j) {
        double v = x[(o * a.n + j) * a.inner + k];
        s += v;
        if ((op == ReduceOp::kMax && v > best) || (op == ReduceOp::kMin && v < best)) best = v, bi = j;
      }
      double r = op == ReduceOp::kSum ? s : op == ReduceOp::kMean ? s / a.n : best;
      out[o * a.inner + k] = r;
      idx[o * a.inner + k] = bi;
    }
}

std::vector<float> axis_input(const Axis& a, uint64_t seed) {
  auto x = gwtest::random_floats(a.outer * a.n * a.inner, seed, -2.f, 3.f);
  // repeated values: ties must resolve to the first index
  for (size_t i = 5; i < x.size(); i += 17) x[i] = x[i - 5];
  return x;
}

}  // namespace

GW_TEST(reduce_axis_cpu_vs_f64) {
  uint64_t seed = 1;
  for (const Axis& a : kAxes) {
    for (int k = 0; k < 4; ++k) {
      auto x = axis_input(a, seed++);
      std::vector<double> want;
      std::vector<int64_t> widx;
      ref_axis(kOps[k], x, a, want, widx);
      std::vector<float> out = gwtest::poisoned(a.outer * a.inner);
      std::vector<int64_t> idx(a.outer * a.inner, -1);
      gw::cpu::reduce_axis(kOps[k], x.data(), a.outer, a.n, a.inner, out.data(), idx.data());
      gwtest::expect_close(out, want, 1e-6, 1e-6, kNames[k]);
      if (k >= 2) GW_EXPECT(idx == widx, kNames[k], " indices (", a.outer, ", ", a.n, ", ", a.inner, ")");
      // backward
      auto g = gwtest::random_floats(a.outer * a.inner, seed++);
      std::vector<double> gwant(x.size(), 0.0);
      for (int64_t o = 0; o < a.outer; ++o)
        for (int64_t j = 0; j < a.n; ++j)
          for (int64_t c = 0; c < a.inner; ++c) {
            double gv = g[o * a.inner + c];
            double v = k == 0 ? gv : k == 1 ? gv / a.n : (widx[o * a.inner + c] == j ? gv : 0.0);
            gwant[(o * a.n + j) * a.inner + c] = v;
          }
      std::vector<float> gx = gwtest::poisoned(x.size());
      gw::cpu::reduce_axis_backward(kOps[k], g.data(), idx.data(), a.outer, a.n, a.inner, gx.data());
      gwtest::expect_close(gx, gwant, 1e-6, 0, kNames[k]);
    }
  }
}

GW_TEST(reduce_axis_cpu_nan_wins) {
  std::vector<float> x = {1.f, NAN, 5.f, NAN, -1.f};
  float out;
  int64_t idx;
  gw::cpu::reduce_axis(ReduceOp::kMax, x.data(), 1, 5, 1, &out, &idx);
  GW_EXPECT(std::isnan(out) && idx == 1, "max propagates the first NaN");
  gw::cpu::reduce_axis(ReduceOp::kMin, x.data(), 1, 5, 1, &out, &idx);
  GW_EXPECT(std::isnan(out) && idx == 1, "min propagates the first NaN");
}

GW_TEST(sum_to_shape_cpu_vs_f64) {
  uint64_t seed = 300;
  for (const Sts& c : kSts) {
    Dims in = dims(c.in), out = dims(c.out);
    auto x = gwtest::random_floats(in.numel(), seed++);
    auto want = ref_sum_to_shape(x, in, out);
    for (double& w : want) w *= -0.5;
    std::vector<float> got = gwtest::poisoned(out.numel());
    gw::cpu::sum_to_shape(x.data(), in, out, got.data(), -0.5f);
    gwtest::expect_close(got, want, 1e-6, 1e-6, "sum_to_shape");
  }
}

GW_TEST(full_sums_cpu_vs_f64) {
  const int64_t sizes[] = {0, 1, 7, 33, 1000, 1000003};
  for (int64_t n : sizes) {
    auto x = gwtest::random_floats(n, n + 5, -1.f, 2.f);
    double s = 0, q = 0;
    for (float v : x) s += v, q += double(v) * v;
    float got_s = NAN, got_q = NAN;
    gw::cpu::sum_all(x.data(), n, &got_s);
    gw::cpu::sum_squares(x.data(), n, &got_q);
    gwtest::expect_close({got_s}, std::vector<double>{s}, 1e-6, 1e-6, "sum_all");
    gwtest::expect_close({got_q}, std::vector<double>{q}, 1e-6, 1e-6, "sum_squares");
    if (n >= 33) {
      x[3] = NAN, x[n - 1] = INFINITY, x[n / 2] = -INFINITY;
      GW_EXPECT(gw::cpu::count_nonfinite(x.data(), n) == 3, "3 non-finite in ", n);
    } else {
      GW_EXPECT(gw::cpu::count_nonfinite(x.data(), n) == 0, "all finite in ", n);
    }
  }
}

GW_TEST(reduce_cpu_deterministic_across_threads) {
  auto x = gwtest::random_floats(3000017, 9);
  Dims in = dims({3000017 / 17, 17}), out = dims({17});
  int saved = gw::num_threads();
  std::vector<float> a(17), b(17);
  float sa, sb;
  gw::set_num_threads(1);
  gw::cpu::sum_to_shape(x.data(), in, out, a.data(), 1.0f);
  gw::cpu::sum_all(x.data(), 3000017, &sa);
  gw::set_num_threads(saved > 1 ? saved : 4);
  gw::cpu::sum_to_shape(x.data(), in, out, b.data(), 1.0f);
  gw::cpu::sum_all(x.data(), 3000017, &sb);
  gw::set_num_threads(saved);
  GW_EXPECT(a == b && sa == sb, "sums differ between 1 and several threads");
}

#ifdef GW_WITH_CUDA
GW_TEST(reduce_axis_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  auto st = gw::cudart::compute_stream();
  uint64_t seed = 700;
  for (const Axis& a : kAxes) {
    for (int k = 0; k < 4; ++k) {
      auto x = axis_input(a, seed++);
      int64_t m = a.outer * a.inner;
      std::vector<float> out(m), gx(x.size());
      std::vector<int64_t> idx(m);
      gw::cpu::reduce_axis(kOps[k], x.data(), a.outer, a.n, a.inner, out.data(), idx.data());
      auto g = gwtest::random_floats(m, seed++);
      gw::cpu::reduce_axis_backward(kOps[k], g.data(), idx.data(), a.outer, a.n, a.inner, gx.data());
      gwtest::DeviceArray<float> dx(x), dout(m), dg(g), dgx(x.size());
      gwtest::DeviceArray<int64_t> didx(m);
      dout.poison(), didx.poison(), dgx.poison();
      gw::cuda::reduce_axis(kOps[k], dx.get(), a.outer, a.n, a.inner, dout.get(), didx.get(), st);
      gwtest::expect_close(dout.download(), out, 1e-6, 1e-6, kNames[k]);
      if (k >= 2) GW_EXPECT(didx.download() == idx, kNames[k], " cuda indices");
      gw::cuda::reduce_axis_backward(kOps[k], dg.get(), k >= 2 ? didx.get() : nullptr, a.outer, a.n, a.inner,
                                     dgx.get(), st);
      gwtest::expect_close(dgx.download(), gx, 1e-6, 0, kNames[k]);
    }
  }
}

GW_TEST(sum_to_shape_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  uint64_t seed = 800;
  for (const Sts& c : kSts) {
    Dims in = dims(c.in), out = dims(c.out);
    auto x = gwtest::random_floats(in.numel(), seed++);
    std::vector<float> want(out.numel());
    gw::cpu::sum_to_shape(x.data(), in, out, want.data(), 2.0f);
    gwtest::DeviceArray<float> dx(x), dout(out.numel());
    dout.poison();
    gw::cuda::sum_to_shape(dx.get(), in, out, dout.get(), 2.0f, gw::cudart::compute_stream());
    gwtest::expect_close(dout.download(), want, 1e-5, 1e-5, "sum_to_shape cuda");
  }
}

GW_TEST(full_sums_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  auto st = gw::cudart::compute_stream();
  const int64_t sizes[] = {0, 1, 7, 33, 1000, 1000003, 40000001};
  for (int64_t n : sizes) {
    auto x = gwtest::random_floats(n + 1, n + 9, -1.f, 2.f);
    for (int off = 0; off < 2; ++off) {
      float s, q;
      gw::cpu::sum_all(x.data() + off, n, &s);
      gw::cpu::sum_squares(x.data() + off, n, &q);
      gwtest::DeviceArray<float> dx(x), dout(2);
      dout.poison();
      gw::cuda::sum_all(dx.get() + off, n, dout.get(), st);
      gw::cuda::sum_squares(dx.get() + off, n, dout.get() + 1, st);
      gwtest::expect_close(dout.download(), std::vector<float>{s, q}, 1e-5, 1e-5, "full sums cuda");
      if (n >= 33) {
        std::vector<float> y = x;
        y[off + 3] = NAN, y[off + n - 1] = INFINITY, y[off + n / 2] = -INFINITY;
        dx.upload(y);
        int64_t got = gw::cuda::count_nonfinite(dx.get() + off, n, st);
        GW_EXPECT(got == 3, "count_nonfinite cuda: ", got);
      }
    }
  }
}
#endif
