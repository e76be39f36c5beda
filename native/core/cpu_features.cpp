#include "cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace gw {

static CpuIsa detect() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  CpuIsa best = CpuIsa::kScalar;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = CpuIsa::kAvx2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    best = CpuIsa::kAvx512;
  // GATEWISE_CPU_ISA=avx2|scalar caps the choice (for testing every path on one machine).
  if (const char* cap = std::getenv("GATEWISE_CPU_ISA")) {
    if (!std::strcmp(cap, "scalar")) best = CpuIsa::kScalar;
    else if (!std::strcmp(cap, "avx2") && best > CpuIsa::kAvx2) best = CpuIsa::kAvx2;
  }
  return best;
#else
  return CpuIsa::kScalar;
#endif
}

CpuIsa cpu_isa() {
  static const CpuIsa isa = detect();
  return isa;
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512: return "avx512";
    case CpuIsa::kAvx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace gw
