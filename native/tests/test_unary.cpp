// unary — CPU against float64 formulas (forward and backward, from x and from y); CUDA
// against CPU with poisoned outputs.
#include <vector>

#include "harness.h"
#include "ops/unary/unary.h"

namespace {

using gw::UnaryOp;

struct Spec {
  UnaryOp op;
  const char* name;
  float lo, hi;  ///< input range
  float p0, p1;
};
const Spec kSpecs[] = {
    {UnaryOp::kNeg, "neg", -3, 3, 0, 0},           {UnaryOp::kExp, "exp", -5, 5, 0, 0},
    {UnaryOp::kLog, "log", 0.1f, 10, 0, 0},        {UnaryOp::kSqrt, "sqrt", 0.1f, 10, 0, 0},
    {UnaryOp::kRsqrt, "rsqrt", 0.1f, 10, 0, 0},    {UnaryOp::kAbs, "abs", -3, 3, 0, 0},
    {UnaryOp::kSquare, "square", -3, 3, 0, 0},     {UnaryOp::kReciprocal, "reciprocal", 0.2f, 5, 0, 0},
    {UnaryOp::kSin, "sin", -6, 6, 0, 0},           {UnaryOp::kCos, "cos", -6, 6, 0, 0},
    {UnaryOp::kAffine, "affine", -3, 3, 1.5f, -0.25f}, {UnaryOp::kPowScalar, "pow_scalar", 0.1f, 3, 2.5f, 0},
    {UnaryOp::kPowScalar, "pow_scalar_int", -3, 3, 3.0f, 0}, {UnaryOp::kClamp, "clamp", -3, 3, -1.0f, 0.5f},
};
const int64_t kSizes[] = {1, 7, 33, 1037, 100003};

double ref_fwd(const Spec& s, double x) {
  switch (s.op) {
    case UnaryOp::kNeg: return -x;
    case UnaryOp::kExp: return std::exp(x);
    case UnaryOp::kLog: return std::log(x);
    case UnaryOp::kSqrt: return std::sqrt(x);
    case UnaryOp::kRsqrt: return 1 / std::sqrt(x);
    case UnaryOp::kAbs: return std::fabs(x);
    case UnaryOp::kSquare: return x * x;
    case UnaryOp::kReciprocal: return 1 / x;
    case UnaryOp::kSin: return std::sin(x);
    case UnaryOp::kCos: return std::cos(x);
    case UnaryOp::kAffine: return x * s.p0 + s.p1;
    case UnaryOp::kPowScalar: return std::pow(x, double(s.p0));
    case UnaryOp::kClamp: return x < s.p0 ? s.p0 : x > s.p1 ? s.p1 : x;
  }
  return 0;
}
double ref_deriv(const Spec& s, double x) {
  switch (s.op) {
    case UnaryOp::kNeg: return -1;
    case UnaryOp::kExp: return std::exp(x);
    case UnaryOp::kLog: return 1 / x;
    case UnaryOp::kSqrt: return 0.5 / std::sqrt(x);
    case UnaryOp::kRsqrt: return -0.5 * std::pow(x, -1.5);
    case UnaryOp::kAbs: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case UnaryOp::kSquare: return 2 * x;
    case UnaryOp::kReciprocal: return -1 / (x * x);
    case UnaryOp::kSin: return std::cos(x);
    case UnaryOp::kCos: return -std::sin(x);
    case UnaryOp::kAffine: return s.p0;
    case UnaryOp::kPowScalar: return s.p0 * std::pow(x, double(s.p0) - 1);
    case UnaryOp::kClamp: return x >= s.p0 && x <= s.p1 ? 1 : 0;
  }
  return 0;
}

}  // namespace

GW_TEST(unary_cpu_vs_f64) {
  uint64_t seed = 1;
  for (const Spec& s : kSpecs) {
    for (int64_t n : kSizes) {
      auto x = gwtest::random_floats(n, seed++, s.lo, s.hi), g = gwtest::random_floats(n, seed++);
      std::vector<double> want(n), gwant(n);
      for (int64_t i = 0; i < n; ++i) want[i] = ref_fwd(s, x[i]), gwant[i] = g[i] * ref_deriv(s, x[i]);
      std::vector<float> y = gwtest::poisoned(n), gx = gwtest::poisoned(n);
      gw::cpu::unary(s.op, s.p0, s.p1, x.data(), y.data(), n);
      gwtest::expect_close(y, want, 2e-6, 1e-6, s.name);
      gw::cpu::unary_backward(s.op, s.p0, s.p1, g.data(), x.data(), y.data(), gx.data(), n);
      gwtest::expect_close(gx, gwant, 1e-5, 1e-6, s.name);
      // From y alone where the contract allows it; from x alone (y recomputed) otherwise.
      std::vector<float> gx2 = gwtest::poisoned(n);
      bool x_needed = gw::unary_needs_x(s.op);
      gw::cpu::unary_backward(s.op, s.p0, s.p1, g.data(), x_needed ? x.data() : nullptr, x_needed ? nullptr : y.data(),
                              gx2.data(), n);
      gwtest::expect_close(gx2, gwant, 1e-5, 1e-6, s.name);
      std::vector<float> gx3 = gwtest::poisoned(n);
      gw::cpu::unary_backward(s.op, s.p0, s.p1, g.data(), x.data(), nullptr, gx3.data(), n);
      gwtest::expect_close(gx3, gwant, 1e-5, 1e-6, s.name);
    }
  }
}

GW_TEST(unary_cpu_in_place_and_nan) {
  std::vector<float> x = {-2.f, NAN, 0.25f, 3.f};
  gw::cpu::unary(UnaryOp::kClamp, -1.f, 1.f, x.data(), x.data(), 4);
  GW_EXPECT(x[0] == -1.f && std::isnan(x[1]) && x[2] == 0.25f && x[3] == 1.f, "clamp in place keeps NaN");
  bool threw = false;
  try {
    gw::cpu::unary_backward(UnaryOp::kLog, 0, 0, x.data(), nullptr, x.data(), x.data(), 4);
  } catch (const gw::Error& e) {
    threw = e.code() == gw::ErrorCode::kArgument;
  }
  GW_EXPECT(threw, "log backward without x must throw");
}

#ifdef GW_WITH_CUDA
GW_TEST(unary_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  uint64_t seed = 500;
  auto s_ = gw::cudart::compute_stream();
  for (const Spec& s : kSpecs) {
    for (int64_t n : kSizes) {
      auto x = gwtest::random_floats(n + 1, seed++, s.lo, s.hi), g = gwtest::random_floats(n + 1, seed++);
      std::vector<float> y(n + 1), gx(n + 1);
      gw::cpu::unary(s.op, s.p0, s.p1, x.data(), y.data(), n + 1);
      gw::cpu::unary_backward(s.op, s.p0, s.p1, g.data(), x.data(), y.data(), gx.data(), n + 1);
      gwtest::DeviceArray<float> dx(x), dg(g), dy(n + 1), dgx(n + 1);
      for (int off = 0; off < 2; ++off) {  // aligned (float4) and unaligned paths
        dy.poison(), dgx.poison();
        gw::cuda::unary(s.op, s.p0, s.p1, dx.get() + off, dy.get() + off, n, s_);
        auto got = dy.download();
        std::vector<float> want(y.begin() + off, y.begin() + off + n);
        gwtest::expect_close(std::vector<float>(got.begin() + off, got.begin() + off + n), want, 2e-6, 1e-6, s.name);
        gw::cuda::unary_backward(s.op, s.p0, s.p1, dg.get() + off, dx.get() + off, dy.get() + off, dgx.get() + off, n, s_);
        auto ggot = dgx.download();
        std::vector<float> gwant(gx.begin() + off, gx.begin() + off + n);
        gwtest::expect_close(std::vector<float>(ggot.begin() + off, ggot.begin() + off + n), gwant, 1e-5, 1e-6, s.name);
      }
    }
  }
}
#endif
