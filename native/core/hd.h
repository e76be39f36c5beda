// gatewise — GW_HD marks small math functions usable from host code and CUDA kernels alike
// (one definition of each formula for the CPU twin and the kernel). On the host they are
// always inlined, so that loops calling them in GW_CPU_CLONES functions vectorize.
#pragma once

#ifdef __CUDACC__
#define GW_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
#define GW_HD inline __attribute__((always_inline))
#else
#define GW_HD inline
#endif
