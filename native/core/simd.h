// gatewise — portable vectorization for simple CPU loops.
// GW_CPU_CLONES compiles a function three times (x86-64-v4 = AVX-512, v3 = AVX2+FMA,
// baseline) and picks one at load through an ifunc, so element-wise loops vectorize for
// the running CPU from one binary. Hot kernels with intrinsics (GEMM) use per-ISA files
// (*_avx2.cpp, *_avx512.cpp) and cpu_isa() instead.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(GW_NO_CLONES)
#define GW_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GW_CPU_CLONES
#endif

#define GW_RESTRICT __restrict__
#define GW_ALWAYS_INLINE inline __attribute__((always_inline))

#include <cstdint>

namespace gw {
/// y[i] = f.fwd(x[i]): the point-wise loop of the unary and activation CPU twins, inlined
/// into their cloned functions so it vectorizes for each ISA.
template <typename F>
GW_ALWAYS_INLINE void map_run(F f, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f.fwd(x[i]);
}
}  // namespace gw
