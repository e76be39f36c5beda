// sample_linear — the CPU twin against a float64 reference, forward (every activation, with
// and without bias, pre) and backward (dx, dW, each optional), shapes with in or out 0, 1,
// below and above a warp; determinism across thread counts. CUDA against the CPU twin on the
// same cases (skipped, saying why, without a GPU).
#include <cmath>
#include <string>

#include "core/parallel.h"
#include "harness.h"
#include "ops/sample_linear/sample_linear.h"

namespace {

using gw::Act;

struct Spec {
  int64_t B, in, out;
  Act act = Act::kIdentity;
  bool bias = true;
  std::string name() const {
    return gw::detail::cat("B ", B, " in ", in, " out ", out, " act ", int(act), " bias ", bias);
  }
};

double act_ref(Act act, double x) {
  switch (act) {
    case Act::kIdentity: return x;
    case Act::kRelu: return x > 0 ? x : 0;
    case Act::kLeakyRelu: return x > 0 ? x : 0.05 * x;
    case Act::kSigmoid: return 1 / (1 + std::exp(-x));
    case Act::kTanh: return std::tanh(x);
    case Act::kGelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  }
  return x;
}

struct Problem {
  Spec s;
  std::vector<float> x, w, bias, dpre;
  Problem(const Spec& spec, uint64_t seed) : s(spec) {
    x = gwtest::random_floats(size_t(s.B * s.in), seed);
    w = gwtest::random_floats(size_t(s.B * s.in * s.out), seed + 1);
    bias = gwtest::random_floats(size_t(s.B * s.out), seed + 2);
    dpre = gwtest::random_floats(size_t(s.B * s.out), seed + 3);
  }
  gw::SampleLinearArgs args(const float* x_, const float* w_, const float* b_) const {
    gw::SampleLinearArgs a;
    a.batch = s.B, a.in = s.in, a.out = s.out, a.act = s.act, a.leaky_slope = 0.05f;
    a.x = x_, a.w = w_, a.bias = s.bias ? b_ : nullptr;
    return a;
  }
};

struct Outs {
  std::vector<float> y, pre, dx, dw;
};

Outs run_cpu(const Problem& p) {
  const Spec& s = p.s;
  Outs o{gwtest::poisoned(size_t(s.B * s.out)), gwtest::poisoned(size_t(s.B * s.out)), gwtest::poisoned(p.x.size()),
         gwtest::poisoned(p.w.size())};
  const auto a = p.args(p.x.data(), p.w.data(), p.bias.data());
  gw::cpu::sample_linear_forward(a, o.y.data(), o.pre.data());
  gw::cpu::sample_linear_backward(a, p.dpre.data(), o.dx.data(), o.dw.data());
  return o;
}

std::vector<Spec> specs() {
  std::vector<Spec> v = {{5, 8, 8}, {3, 1, 1}, {4, 0, 6}, {4, 6, 0}, {7, 33, 70, Act::kRelu}, {2, 100, 17, Act::kTanh, false}};
  for (Act act : {Act::kLeakyRelu, Act::kSigmoid, Act::kGelu}) v.push_back({6, 16, 40, act});
  return v;
}

void check_cpu(const Spec& s, uint64_t seed) {
  const Problem p(s, seed);
  const Outs got = run_cpu(p);
  std::vector<double> y(got.y.size()), pre(got.y.size()), dx(p.x.size(), 0), dw(p.w.size());
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t j = 0; j < s.out; ++j) {
      double acc = s.bias ? p.bias[size_t(b * s.out + j)] : 0.0;
      for (int64_t i = 0; i < s.in; ++i) acc += double(p.x[size_t(b * s.in + i)]) * p.w[size_t((b * s.in + i) * s.out + j)];
      pre[size_t(b * s.out + j)] = acc;
      y[size_t(b * s.out + j)] = act_ref(s.act, acc);
    }
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t i = 0; i < s.in; ++i)
      for (int64_t j = 0; j < s.out; ++j) {
        const size_t wi = size_t((b * s.in + i) * s.out + j);
        const double d = p.dpre[size_t(b * s.out + j)];
        dx[size_t(b * s.in + i)] += p.w[wi] * d;
        dw[wi] = p.x[size_t(b * s.in + i)] * d;
      }
  const std::string w = "cpu " + s.name();
  gwtest::expect_close(got.y, y, 1e-5, 1e-5, (w + " y").c_str());
  gwtest::expect_close(got.pre, pre, 1e-5, 1e-5, (w + " pre").c_str());
  gwtest::expect_close(got.dx, dx, 1e-5, 1e-5, (w + " dx").c_str());
  gwtest::expect_close(got.dw, dw, 1e-6, 1e-7, (w + " dW").c_str());
}

}  // namespace

GW_TEST(sample_linear_cpu_matches_reference) {
  uint64_t seed = 10;
  for (const Spec& s : specs()) check_cpu(s, seed += 4);
}

GW_TEST(sample_linear_cpu_optional_outputs_and_determinism) {
  const Problem p({300, 24, 40, Act::kRelu}, 3);
  const Outs full = run_cpu(p);
  const auto a = p.args(p.x.data(), p.w.data(), p.bias.data());
  std::vector<float> y(full.y.size()), dx = gwtest::poisoned(p.x.size()), dw = gwtest::poisoned(p.w.size());
  const int threads = gw::num_threads();
  gw::set_num_threads(threads == 1 ? 3 : 1);
  gw::cpu::sample_linear_forward(a, y.data(), nullptr);
  gw::cpu::sample_linear_backward(a, p.dpre.data(), dx.data(), nullptr);
  gw::set_num_threads(threads);
  gwtest::expect_close(y, full.y, 0, 0, "y bitwise across thread counts, without pre");
  gwtest::expect_close(dx, full.dx, 0, 0, "dx bitwise, without dW");
  for (float f : dw) GW_EXPECT(std::isnan(f), "dW written though not wanted");
}

#ifdef GW_WITH_CUDA
namespace {
void check_cuda(const Spec& s, uint64_t seed) {
  using gwtest::DeviceArray;
  const Problem p(s, seed);
  const Outs want = run_cpu(p);
  DeviceArray<float> x(p.x), w(p.w), bias(p.bias), dpre(p.dpre), y{want.y.size()}, pre{want.y.size()},
      dx{p.x.size()}, dw{p.w.size()};
  for (auto* t : {&y, &pre, &dx, &dw}) t->poison();
  const auto a = p.args(x.get(), w.get(), bias.get());
  auto stream = gw::cudart::compute_stream();
  gw::cuda::sample_linear_forward(a, y.get(), pre.get(), stream);
  gw::cuda::sample_linear_backward(a, dpre.get(), dx.get(), dw.get(), stream);
  const std::string n = "cuda " + s.name();
  gwtest::expect_close(y.download(), want.y, 1e-5, 1e-5, (n + " y").c_str());
  gwtest::expect_close(pre.download(), want.pre, 1e-5, 1e-5, (n + " pre").c_str());
  gwtest::expect_close(dx.download(), want.dx, 1e-5, 1e-5, (n + " dx").c_str());
  gwtest::expect_close(dw.download(), want.dw, 0, 0, (n + " dW").c_str());
}
}  // namespace
#endif

GW_TEST(sample_linear_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
#ifdef GW_WITH_CUDA
  uint64_t seed = 100;
  for (const Spec& s : specs()) check_cuda(s, seed += 4);
  check_cuda({gwtest::kEmulated ? 2048 : 16384, 32, 32}, seed += 4);   // APG's K×K core (fewer samples emulated)
  check_cuda({1024, 256, 64, Act::kRelu}, seed += 4);  // an M2M meta unit
#endif
}
