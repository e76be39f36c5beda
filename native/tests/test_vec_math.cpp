// vec_math — each function against float64 libm: every float bit pattern at a stride of
// 509 (both signs) plus special values, through two loops: one in a GW_CPU_CLONES function
// (the vectorized, FMA-contracted code the ops run on this CPU) and one compiled for the
// baseline ISA (SSE2, no FMA). Prints the max error in ulp of each.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/simd.h"
#include "core/vec_math.h"
#include "harness.h"

namespace {

enum class Fn { kExp, kLog, kLog1p, kTanh, kErf, kSigmoid };

struct Spec {
  Fn fn;
  const char* name;
  double max_ulp;  ///< the bound the test holds each function to
};
const Spec kSpecs[] = {{Fn::kExp, "exp", 1.5},  {Fn::kLog, "log", 1.5}, {Fn::kLog1p, "log1p", 2.5},
                       {Fn::kTanh, "tanh", 2.5}, {Fn::kErf, "erf", 2.5}, {Fn::kSigmoid, "sigmoid", 2.5}};

template <Fn F>
inline __attribute__((always_inline)) void apply(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    switch (F) {
      case Fn::kExp: y[i] = gw::vm::exp(x[i]); break;
      case Fn::kLog: y[i] = gw::vm::log(x[i]); break;
      case Fn::kLog1p: y[i] = gw::vm::log1p(x[i]); break;
      case Fn::kTanh: y[i] = gw::vm::tanh(x[i]); break;
      case Fn::kErf: y[i] = gw::vm::erf(x[i]); break;
      case Fn::kSigmoid: y[i] = gw::vm::sigmoid(x[i]); break;
    }
  }
}

#define GW_FN_SWITCH(fn, CALL)                      \
  switch (fn) {                                     \
    case Fn::kExp: CALL(Fn::kExp); break;           \
    case Fn::kLog: CALL(Fn::kLog); break;           \
    case Fn::kLog1p: CALL(Fn::kLog1p); break;       \
    case Fn::kTanh: CALL(Fn::kTanh); break;         \
    case Fn::kErf: CALL(Fn::kErf); break;           \
    case Fn::kSigmoid: CALL(Fn::kSigmoid); break;   \
  }
#define GW_CALL(F) apply<F>(x, y, n)

GW_CPU_CLONES void eval_clones(Fn fn, const float* x, float* y, int64_t n) { GW_FN_SWITCH(fn, GW_CALL) }
__attribute__((noinline)) void eval_baseline(Fn fn, const float* x, float* y, int64_t n) {
  GW_FN_SWITCH(fn, GW_CALL)
}
#undef GW_CALL

double reference(Fn fn, double x) {
  switch (fn) {
    case Fn::kExp: return std::exp(x);
    case Fn::kLog: return std::log(x);
    case Fn::kLog1p: return std::log1p(x);
    case Fn::kTanh: return std::tanh(x);
    case Fn::kErf: return std::erf(x);
    case Fn::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
  }
  return 0;
}

/// |got − want| in units of the float ulp at want; inf when a NaN, an inf or an overflow
/// does not match.
double ulp_error(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : INFINITY;
  const float wf = static_cast<float>(want);
  if (std::isnan(got)) return INFINITY;
  if (std::isinf(wf) || std::isinf(got)) return got == wf ? 0 : INFINITY;
  int e = 0;
  std::frexp(want, &e);  // want = m·2ᵉ, m in [0.5, 1): ulp = 2^(e − 24), at least 2⁻¹⁴⁹
  const double ulp = std::ldexp(1.0, want == 0 ? -149 : std::max(e - 24, -149));
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

std::vector<float> inputs() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f, -0.0f, inf, -inf, std::nanf(""), -std::nanf(""), 1.0f, -1.0f, 0.5f, 0.625f,
                          0.927734375f, 88.72283f, 88.72284f, 89.0f, -87.33654f, -103.97208f, -104.0f,
                          std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::max(), 1e-30f, 9.0f, 10.0f, 3.9192059f};
  for (size_t i = 0, n = x.size(); i < n; ++i) x.push_back(-x[i]);
  for (uint32_t u = 0; u < 0x7f800000u; u += 509) x.push_back(from_bits(u)), x.push_back(-from_bits(u));
  return x;
}

GW_TEST(vec_math_matches_libm) {
  const std::vector<float> x = inputs();
  std::vector<float> yc(x.size()), yb(x.size());
  for (const Spec& s : kSpecs) {
    eval_clones(s.fn, x.data(), yc.data(), static_cast<int64_t>(x.size()));
    eval_baseline(s.fn, x.data(), yb.data(), static_cast<int64_t>(x.size()));
    double worst_c = 0, worst_b = 0;
    size_t at_c = 0, at_b = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = reference(s.fn, x[i]);
      const double ec = ulp_error(yc[i], want), eb = ulp_error(yb[i], want);
      if (ec > worst_c) worst_c = ec, at_c = i;
      if (eb > worst_b) worst_b = eb, at_b = i;
    }
    std::printf("      vm::%-8s max error %.3f ulp (clones, at %.9g), %.3f ulp (baseline, at %.9g) over %zu inputs\n",
                s.name, worst_c, x[at_c], worst_b, x[at_b], x.size());
    GW_EXPECT(worst_c <= s.max_ulp, s.name, ": ", worst_c, " ulp at x = ", x[at_c], " got ", yc[at_c], " want ",
              reference(s.fn, x[at_c]));
    GW_EXPECT(worst_b <= s.max_ulp, s.name, " (baseline): ", worst_b, " ulp at x = ", x[at_b], " got ", yb[at_b],
              " want ", reference(s.fn, x[at_b]));
  }
}

GW_TEST(vec_math_special_values) {
  const float inf = std::numeric_limits<float>::infinity();
  using namespace gw::vm;
  GW_EXPECT(exp(-inf) == 0.0f && exp(inf) == inf && exp(100.0f) == inf && exp(-110.0f) == 0.0f, "exp limits");
  GW_EXPECT(exp(-100.0f) > 0.0f, "exp gives subnormals");
  GW_EXPECT(log(0.0f) == -inf && log(-0.0f) == -inf && log(inf) == inf && std::isnan(log(-1.0f)), "log limits");
  GW_EXPECT(log1p(-1.0f) == -inf && log1p(inf) == inf && std::isnan(log1p(-2.0f)), "log1p limits");
  GW_EXPECT(tanh(inf) == 1.0f && tanh(-inf) == -1.0f && tanh(10.0f) == 1.0f && tanh(-20.0f) == -1.0f, "tanh saturates");
  GW_EXPECT(erf(inf) == 1.0f && erf(-inf) == -1.0f && erf(5.0f) == 1.0f && erf(-1e30f) == -1.0f, "erf saturates");
  GW_EXPECT(sigmoid(inf) == 1.0f && sigmoid(-inf) == 0.0f && sigmoid(20.0f) == 1.0f, "sigmoid saturates");
  GW_EXPECT(sigmoid(-95.0f) > 0.0f, "sigmoid gives subnormals");
  GW_EXPECT(std::signbit(tanh(-0.0f)) && std::signbit(erf(-0.0f)), "odd functions keep −0");
  const float nan = std::nanf("");
  GW_EXPECT(std::isnan(exp(nan)) && std::isnan(log(nan)) && std::isnan(log1p(nan)) && std::isnan(tanh(nan)) &&
                std::isnan(erf(nan)) && std::isnan(sigmoid(nan)),
            "NaN propagates");
}

}  // namespace
