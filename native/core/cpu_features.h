// gatewise — run-time CPU feature detection, so one prebuilt binary picks AVX-512,
// AVX2+FMA or plain SSE code paths on whatever x86-64 it lands on.
#pragma once

namespace gw {

enum class CpuIsa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

CpuIsa cpu_isa();             ///< best ISA supported (and not disabled by GATEWISE_CPU_ISA)
const char* cpu_isa_name(CpuIsa isa);

}  // namespace gw
