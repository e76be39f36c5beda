// gatewise — GW_HD marks small math functions usable from host code and CUDA kernels alike
// (one definition of each formula for the CPU twin and the kernel).
#pragma once

#ifdef __CUDACC__
#define GW_HD __host__ __device__ __forceinline__
#else
#define GW_HD inline
#endif
