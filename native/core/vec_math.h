// gatewise — vec_math: float32 exp, log, log1p, tanh, erf and sigmoid for CPU loops.
//
// Why: GCC cannot vectorize calls to libm's expf / logf / tanhf / erff (without -ffast-math
// and libmvec), so a loop calling one runs one element at a time, far below memory
// bandwidth. These functions are branch-free plain arithmetic (polynomials, selects, and
// bit moves through memcpy; no tables, no libm), always inlined, so a loop calling them
// inside a GW_CPU_CLONES function vectorizes for AVX-512, AVX2 and SSE2 alike. CPU only:
// CUDA code keeps libdevice (hd_math.h picks one or the other for the shared formulas).
//
// The math:
//   exp(x)   x = n·ln2 + r, |r| ≤ ln2/2: n rounded with the 1.5·2²³ trick, r by Cody–Waite
//            (ln2 = C1 + C2, C1 exact in 9 bits). e^r = 1 + r + r²·P(r), P of degree 5 from
//            Cephes expf. 2ⁿ is applied as 2^⌊n/2⌋ · 2^(n−⌊n/2⌋), so results that overflow
//            give inf, and subnormal results are rounded once. Outside [−104, 89], e^x is
//            0 or inf.
//   log(x)   x = m·2ᵉ with m in [√½, √2) (subnormals through their integer mantissa); f = m − 1;
//            log(1+f) = f − f²/2 + f³·P(f), P of degree 8 from Cephes logf; e·ln2 added in
//            two parts (C1 + C2 as above).
//   log1p(x) u = 1 + x; log(u) + (x − (u − 1))/u: the quotient restores what rounding
//            1 + x lost (Goldberg), so small x keep full relative accuracy.
//   tanh(x)  |x| < 0.625: x + x³·P(x²), P of degree 4 from Cephes tanhf; otherwise with
//            e = exp(−2|x|): sign(x)·(1 − e)/(1 + e), which saturates to ±1.
//   erf(x)   |x| ≤ 0.927734375: x + x·P(x²), P of degree 5; otherwise
//            1 − exp(Q(|x|)) with sign(x), Q of degree 7: minimax fits published by
//            N. Juffa (stackoverflow.com/a/35148199, also used by MLX and PyTorch MPS).
//   sigmoid  e = exp(−|x|): (x < 0 ? e : 1)/(1 + e): no overflow, and subnormal results
//            for x < −87 instead of 0.
//
// Measured max error against float64 libm (native/tests/test_vec_math.cpp: every float bit
// pattern at a stride of 509, both signs, plus special values; FMA-contracted AVX-512 clone /
// SSE2 baseline without FMA):
//   exp 0.99 / 0.96 ulp, log 0.78 / 0.78, log1p 1.44 / 1.44, tanh 1.49 / 1.49,
//   erf 0.96 / 1.10, sigmoid 2.12 / 2.12.
// Special values follow libm: NaN in gives NaN out, exp(−inf) = 0, exp(inf) = inf,
// log(0) = −inf, log(x < 0) = NaN, tanh(±inf) = ±1, erf(±inf) = ±1, sigmoid(±inf) = 1 / 0.
//
// Build flags: callers need -fno-trapping-math (CMakeLists.txt sets it with -fno-math-errno),
// without which GCC will not if-convert the selects here and leaves the loop scalar. They
// assume IEEE semantics otherwise: no -ffast-math, which may drop the NaN and inf handling
// and undo the rounding trick in exp.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__GNUC__)
#define GW_VM_INLINE inline __attribute__((always_inline))
#else
#define GW_VM_INLINE inline
#endif

namespace gw::vm {

namespace detail {

GW_VM_INLINE uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
GW_VM_INLINE float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
GW_VM_INLINE float abs(float x) { return from_bits(bits(x) & 0x7fffffffu); }
/// |magnitude| with the sign of sign.
GW_VM_INLINE float with_sign(float magnitude, float sign) {
  return from_bits((bits(magnitude) & 0x7fffffffu) | (bits(sign) & 0x80000000u));
}
/// 2ⁿ for n in [−126, 127].
GW_VM_INLINE float pow2(int32_t n) { return from_bits(static_cast<uint32_t>(n + 127) << 23); }

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kLn2Hi = 0.693359375f;       // 355/512: n·kLn2Hi is exact for |n| < 2¹⁵
constexpr float kLn2Lo = -2.12194440e-4f;    // ln2 − kLn2Hi

}  // namespace detail

/// eˣ, ≤ 1 ulp.
GW_VM_INLINE float exp(float x) {
  using namespace detail;
  constexpr float kRound = 12582912.0f;  // 1.5·2²³: adding it rounds to an integer
  const float t = x * 1.44269504088896341f + kRound;
  const float n = t - kRound;
  const int32_t ni = static_cast<int32_t>(bits(t) - bits(kRound));  // n as an integer
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const int32_t n1 = ni >> 1;  // n in [−150, 128] for x in [−104, 89]: both factors are normal
  const float y = p * pow2(n1) * pow2(ni - n1);
  // Outside [−104, 89] (±inf included) the answer is 0 or inf; NaN compares false and stays.
  return x > 89.0f ? kInf : (x < -104.0f ? 0.0f : y);
}

/// ln x, ≤ 1 ulp.
GW_VM_INLINE float log(float x) {
  using namespace detail;
  const bool tiny = x < 1.17549435e-38f;  // subnormal (or ≤ 0, handled at the end)
  const uint32_t ux = bits(x);
  const uint32_t us = bits(static_cast<float>(static_cast<int32_t>(ux & 0x007fffffu)));  // x·2¹⁴⁹, exact
  const uint32_t u = tiny ? us : ux;
  float e = static_cast<float>(static_cast<int32_t>(u >> 23) - (tiny ? 126 + 149 : 126));
  const uint32_t mb = (u & 0x007fffffu) | 0x3f000000u;  // m in [0.5, 1)
  const bool low = from_bits(mb) < 0.707106781186547524f;
  e -= low ? 1.0f : 0.0f;
  const float f = from_bits(low ? mb + 0x00800000u : mb) - 1.0f;  // 2m − 1 or m − 1, exact
  const float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float y = f * z * p + e * kLn2Lo - 0.5f * z;
  y = f + y + e * kLn2Hi;
  y = x > 0.0f ? y : kNaN;
  y = x == 0.0f ? -kInf : y;
  y = x == kInf ? kInf : y;
  return x != x ? x : y;  // NaN in, the same NaN out
}

/// ln(1 + x), ≤ 2 ulp.
GW_VM_INLINE float log1p(float x) {
  using namespace detail;
  const float u = 1.0f + x;
  const float lu = vm::log(u);
  const float c = (x - (u - 1.0f)) / u;
  const float y = u < kInf ? lu + c : lu;  // u = 0, inf or NaN: log(u) is the answer
  return u > 0.0f ? y : lu;
}

/// tanh x, ≤ 2 ulp.
GW_VM_INLINE float tanh(float x) {
  using namespace detail;
  const float a = abs(x);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = x + x * z * p;
  const float e = vm::exp(-2.0f * a);
  const float large = (1.0f - e) / (1.0f + e);
  return with_sign(a < 0.625f ? small : large, x);  // NaN takes `large`, which is NaN
}

/// erf x, ≤ 2 ulp.
GW_VM_INLINE float erf(float x) {
  using namespace detail;
  float a = abs(x);
  const float z = x * x;
  float p = -5.96761703e-4f;
  p = p * z + 4.99119423e-3f;
  p = p * z - 2.67681349e-2f;
  p = p * z + 1.12819925e-1f;
  p = p * z - 3.76125336e-1f;
  p = p * z + 1.28379166e-1f;
  const float small = p * x + x;
  a = a > 10.0f ? 10.0f : a;  // erf(10) rounds to 1; keeps Q(a) finite. NaN stays NaN
  const float a2 = a * a;
  float q = -1.72853470e-5f * a + 3.83197126e-4f;
  const float q2 = -3.88396438e-3f * a + 2.42546219e-2f;
  q = q * a2 + q2;
  q = q * a - 1.06777877e-1f;
  q = q * a - 6.34846687e-1f;
  q = q * a - 1.28717512e-1f;
  q = q * a - a;
  const float large = 1.0f - vm::exp(q);
  return with_sign(abs(x) > 0.927734375f ? large : small, x);  // NaN takes `small`, which is NaN
}

/// 1 / (1 + e⁻ˣ), ≤ 2.2 ulp.
GW_VM_INLINE float sigmoid(float x) {
  using namespace detail;
  const float e = vm::exp(-abs(x));
  return (x < 0.0f ? e : 1.0f) / (1.0f + e);
}

}  // namespace gw::vm
