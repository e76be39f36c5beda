// gemm — internal interface between the CPU driver (gemm_cpu.cpp) and the per-ISA
// micro-kernels (gemm_avx512.cpp, gemm_avx2.cpp, compiled with their ISA flags).
// Only plain declarations live here: the ISA files must not instantiate inline code that
// generic code could end up sharing.
//
// Packed layouts (zero-padded to full panels):
//   A micro-panel: MR rows × kc, stored k-major:  pa[p·MR + r] = op(A)[i0 + r, p0 + p]
//   B micro-panel: kc × NR columns, k-major:       pb[p·NR + j] = op(B)[p0 + p, j0 + j]
// A micro-kernel computes the MR×NR product of one A and one B micro-panel and stores the
// valid m×n corner of it into C (row stride ldc):
//   C = alpha·AB + (load_c ? beta·C : 0)
#pragma once
#include <cstdint>

namespace gw::cpu::gemm_detail {

struct TileStore {
  float alpha;
  float beta;   ///< used only when load_c
  bool load_c;  ///< false: C is write-only (first K block with beta == 0)
  int64_t ldc;
  int m, n;     ///< valid rows / columns of the tile (1..MR, 1..NR)
};

using Ukernel = void (*)(int64_t kc, const float* pa, const float* pb, float* c, const TileStore& st);

struct KernelDesc {
  int mr, nr;      ///< register tile
  int64_t kc;      ///< K block: an A micro-panel (MR×KC) stays in L1
  int64_t mc;      ///< largest M block (multiple of MR) one task packs
  int64_t nc;      ///< N block: the packed KC×NC B block stays in L2
  Ukernel fn;
};

KernelDesc kernel_avx512();
KernelDesc kernel_avx2();

/// Runs `iters` iterations of an independent-FMA loop; returns the flops performed.
double fma_burst_avx512(int64_t iters);
double fma_burst_avx2(int64_t iters);

}  // namespace gw::cpu::gemm_detail
