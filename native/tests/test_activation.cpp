// activation — CPU against float64 formulas (forward; backward from x and from y); CUDA
// against CPU with poisoned outputs.
#include <vector>

#include "harness.h"
#include "ops/activation/act_math.h"
#include "ops/activation/activation.h"

namespace {

using gw::Act;

struct Spec {
  Act act;
  const char* name;
  float slope;
};
const Spec kSpecs[] = {{Act::kIdentity, "identity", 0}, {Act::kRelu, "relu", 0},     {Act::kLeakyRelu, "leaky_relu", 0.1f},
                       {Act::kSigmoid, "sigmoid", 0},   {Act::kTanh, "tanh", 0},     {Act::kGelu, "gelu", 0}};
const int64_t kSizes[] = {1, 7, 33, 1037, 100003};

double ref_fwd(const Spec& s, double x) {
  switch (s.act) {
    case Act::kIdentity: return x;
    case Act::kRelu: return x > 0 ? x : 0;
    case Act::kLeakyRelu: return x > 0 ? x : s.slope * x;
    case Act::kSigmoid: return 1 / (1 + std::exp(-x));
    case Act::kTanh: return std::tanh(x);
    case Act::kGelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  }
  return 0;
}
double ref_deriv(const Spec& s, double x) {
  switch (s.act) {
    case Act::kIdentity: return 1;
    case Act::kRelu: return x > 0 ? 1 : 0;
    case Act::kLeakyRelu: return x > 0 ? 1 : s.slope;
    case Act::kSigmoid: { double y = 1 / (1 + std::exp(-x)); return y * (1 - y); }
    case Act::kTanh: { double y = std::tanh(x); return 1 - y * y; }
    case Act::kGelu:
      return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
  }
  return 0;
}

std::vector<float> inputs(int64_t n, uint64_t seed) {
  auto x = gwtest::random_floats(n, seed, -6.f, 6.f);
  if (n > 3) x[3] = 0.0f;  // the kink of relu / leaky_relu
  return x;
}

}  // namespace

GW_TEST(activation_cpu_vs_f64) {
  uint64_t seed = 1;
  for (const Spec& s : kSpecs) {
    for (int64_t n : kSizes) {
      auto x = inputs(n, seed++), g = gwtest::random_floats(n, seed++);
      std::vector<double> want(n), gwant(n);
      for (int64_t i = 0; i < n; ++i) want[i] = ref_fwd(s, x[i]), gwant[i] = g[i] * ref_deriv(s, x[i]);
      std::vector<float> y = gwtest::poisoned(n), gx = gwtest::poisoned(n);
      gw::cpu::activation(s.act, s.slope, x.data(), y.data(), n);
      gwtest::expect_close(y, want, 2e-6, 1e-6, s.name);
      gw::cpu::activation_backward(s.act, s.slope, g.data(), x.data(), nullptr, gx.data(), n);
      gwtest::expect_close(gx, gwant, 1e-5, 1e-6, s.name);
      if (s.act != Act::kGelu) {
        std::vector<float> gy = gwtest::poisoned(n);
        gw::cpu::activation_backward(s.act, s.slope, g.data(), nullptr, y.data(), gy.data(), n);
        gwtest::expect_close(gy, gwant, 1e-5, 1e-6, s.name);
      }
    }
  }
}

GW_TEST(activation_cpu_argument_errors) {
  std::vector<float> v(4, 1.0f);
  auto throws = [&](Act act, float slope, const float* x, const float* y) {
    try {
      gw::cpu::activation_backward(act, slope, v.data(), x, y, v.data(), 4);
    } catch (const gw::Error& e) {
      return e.code() == gw::ErrorCode::kArgument;
    }
    return false;
  };
  GW_EXPECT(throws(Act::kGelu, 0, nullptr, v.data()), "gelu backward without x");
  GW_EXPECT(throws(Act::kLeakyRelu, -0.5f, nullptr, v.data()), "leaky_relu from y with a negative slope");
  GW_EXPECT(throws(Act::kSigmoid, 0, nullptr, nullptr), "sigmoid backward with neither x nor y");
}

GW_TEST(activation_fused_helpers_match) {
  auto x = inputs(1037, 77);
  for (const Spec& s : kSpecs) {
    std::vector<float> y(x.size());
    gw::cpu::activation(s.act, s.slope, x.data(), y.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      // The op runs in a vectorized, FMA-contracted clone and this call may not: allow 2 ulp
      // (of x too: gelu's 1 + erf cancels for x < 0).
      const float a = gw::act_apply(s.act, s.slope, x[i]);
      GW_EXPECT(std::fabs(a - y[i]) <= 2.4e-7f * (std::fabs(y[i]) + std::fabs(x[i])), s.name, " act_apply at ", i, ": ", a, " vs ", y[i]);
      double want = 0.5 * ref_deriv(s, x[i]);
      GW_EXPECT(std::fabs(gw::act_grad(s.act, s.slope, 0.5f, x[i]) - want) <= 1e-6 + 1e-5 * std::fabs(want), s.name,
                " act_grad at ", i);
    }
  }
}

#ifdef GW_WITH_CUDA
GW_TEST(activation_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  uint64_t seed = 900;
  auto st = gw::cudart::compute_stream();
  for (const Spec& s : kSpecs) {
    for (int64_t n : kSizes) {
      auto x = inputs(n + 1, seed++), g = gwtest::random_floats(n + 1, seed++);
      std::vector<float> y(n + 1), gx(n + 1), gy(n + 1);
      gw::cpu::activation(s.act, s.slope, x.data(), y.data(), n + 1);
      gw::cpu::activation_backward(s.act, s.slope, g.data(), x.data(), nullptr, gx.data(), n + 1);
      gwtest::DeviceArray<float> dx(x), dg(g), dy(n + 1), dgx(n + 1);
      for (int off = 0; off < 2; ++off) {  // aligned (float4) and unaligned paths
        auto slice = [&](const std::vector<float>& v) { return std::vector<float>(v.begin() + off, v.begin() + off + n); };
        dy.poison(), dgx.poison();
        gw::cuda::activation(s.act, s.slope, dx.get() + off, dy.get() + off, n, st);
        gwtest::expect_close(slice(dy.download()), slice(y), 2e-6, 1e-6, s.name);
        gw::cuda::activation_backward(s.act, s.slope, dg.get() + off, dx.get() + off, nullptr, dgx.get() + off, n, st);
        gwtest::expect_close(slice(dgx.download()), slice(gx), 1e-5, 1e-6, s.name);
        if (s.act != Act::kGelu) {
          dgx.poison();
          gw::cuda::activation_backward(s.act, s.slope, dg.get() + off, nullptr, dy.get() + off, dgx.get() + off, n, st);
          gwtest::expect_close(slice(dgx.download()), slice(gx), 1e-5, 1e-6, s.name);
        }
      }
    }
  }
}
#endif
