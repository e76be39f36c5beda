// gemm — batched fp32 matrix product with a fused epilogue.
//   for every batch item b:
//     pre = alpha · op(A_b) · op(B_b) + beta · C_b + bias        (bias broadcast over rows)
//     C_b = act(pre)                                   without a gate
//     C_b = gate_scale · gate_b ⊙ act(pre)              with one (the gated FC's lazy form)
//   op(A) (M, K): A stored (M, K), or (K, M) when trans_a
//   op(B) (K, N): B stored (K, N), or (N, K) when trans_b
//   C     (M, N), overwritten (beta = 1 accumulates into it, e.g. for parameter gradients)
//   bias  (N) per batch item or null, item b at bias + b·stride_bias (0: one for all);
//   pre (batch, M, N) contiguous or null, receives the value before act.
//   gate  (M, N) per batch item or null, item b at gate + b·stride_gate (0: one for all).
// Every matrix is contiguous row-major float32 on the op's device; batch item b of A starts
// at a + b·stride_a (stride 0: every item uses the same matrix), likewise B and C.
// When beta == 0, C is never read (it may hold NaN). C must not overlap A, B, bias, pre or gate.
// The whole epilogue (beta, bias, pre, act, gate) runs on the tile in registers / L1 before
// the single store of C: no extra pass over memory.
// act: identity, relu, leaky_relu (slope leaky_slope), sigmoid, tanh, gelu (exact erf form),
// the same math on CPU and CUDA (activation/act_math.h).
//
// CPU: packed, cache-blocked, register-blocked (AVX-512 / AVX2+FMA micro-kernels picked at
// run time by cpu_isa(), plain C++ otherwise), threaded with gw::parallel_for; deterministic.
// Weight-gradient shapes (Aᵀ·B with K ≫ M, N, small M·N) split K into chunks fixed by the
// shape, one thread each, and sum the partial products in chunk order.
// CUDA: tiled SIMT SGEMM (128×128 or 64×64 block tiles by size), all transpose combinations,
// batch on blockIdx.z.
#pragma once
#include <cstdint>

#include "../../core/cpu_features.h"
#include "../../core/dtype.h"
#include "../../core/stream.h"

namespace gw {

struct GemmArgs {
  int64_t batch = 1;             ///< number of independent products
  int64_t m = 0, n = 0, k = 0;   ///< op(A) is (m, k), op(B) is (k, n), C is (m, n)
  bool trans_a = false;          ///< A stored (K, M) instead of (M, K)
  bool trans_b = false;          ///< B stored (N, K) instead of (K, N)
  float alpha = 1.f;             ///< scales op(A)·op(B)
  float beta = 0.f;              ///< scales the old C; 0 = C is write-only
  const float* a = nullptr;      ///< first batch item of A
  int64_t stride_a = 0;          ///< elements between batch items of A; 0 = one A for every item
  const float* b = nullptr;      ///< first batch item of B
  int64_t stride_b = 0;          ///< elements between batch items of B; 0 = one B for every item
  float* c = nullptr;            ///< first batch item of C
  int64_t stride_c = 0;          ///< elements between batch items of C (m·n when contiguous)
  const float* bias = nullptr;   ///< (n) per item, added before the activation; may be null
  int64_t stride_bias = 0;       ///< elements between batch items of bias; 0 = one bias for every item
  float* pre = nullptr;          ///< optional (batch, m, n) contiguous: the value before act
  Act act = Act::kIdentity;      ///< activation applied after bias (and pre)
  float leaky_slope = 0.01f;     ///< negative-side slope of leaky_relu
  const float* gate = nullptr;   ///< optional (m, n) per item, like C: C = gate_scale·gate ⊙ act(v)
  int64_t stride_gate = 0;       ///< elements between batch items of gate; 0 = one gate for every item
  float gate_scale = 1.f;        ///< scales the gate (used only with gate)
};

}  // namespace gw

namespace gw::cpu {
void gemm(const GemmArgs& args);
/// gemm() with the micro-kernel of `isa` (must be supported by this CPU): for tests and benches.
void gemm_with_isa(const GemmArgs& args, CpuIsa isa);
/// Measured single-precision FMA throughput of all pool threads, in GFLOP/s (2 flops per FMA
/// lane), using the best ISA cpu_isa() allows; runs for about `seconds` (best of 4 rounds).
double fma_peak_gflops(double seconds);
}  // namespace gw::cpu

namespace gw::cuda {
void gemm(const GemmArgs& args, Stream stream);
}  // namespace gw::cuda
