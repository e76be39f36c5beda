// moe — the mixture-of-experts pieces of MMoE / POSO-MMoE that are not plain GEMMs: the task
// gates (a softmax with gate dropout) and the fused gate-weighted combination of the experts.
// The experts themselves run as one batched GEMM launch per layer (gemm.h with a per-item
// bias: batch = E experts).
//
// ---- moe_gate_forward: task gates with gate dropout (YouTube, RecSys 2019)
//   rows R = B·T, sample-major (row r is sample r / T, task r % T); E experts per row.
//   With drop probability p > 0 each expert's gate is dropped independently:
//     draw index  i = d·E + j,  d = r (per-sample mask) or r % T (one mask per task, shared
//                 by the whole batch);  u_i is Philox word i of the stream (dropout.h:
//                 counter offset + i / 4, word i % 4), and keep[r, j] = u_i ≥ p.
//     A row that would drop every expert keeps the one with the largest u (the first on a tie),
//     so a row is never all dropped.
//   gates[r, j] = keep ? exp(z_j − m) / Σ_{k kept} exp(z_k − m) : 0,  m = max over kept z:
//   the softmax renormalized over the surviving experts. p = 0 keeps every expert (no draws).
//   A call consumes ceil(draws·E / 4) counters, draws = R (per sample) or T (shared).
//   Backward is the softmax backward (softmax.h, with y = gates): dropped gates are 0, so
//   their logits get zero gradient without the mask.
//     logits (R, E) f32   gates (R, E) f32, written   keep (R, E) u8 or null, written
//
// ---- moe_combine_forward / _backward: the gate-weighted combination, for every task at once
//   out[t, b, :] = C · Σ_e w[b, t, e] · x[e, b, :],   w[b, t, e] = g[b, t, e] · pg[b, e]
//   (pg = 1 when null: MMoE; POSO-MMoE's scalar personal gate per expert otherwise)
//   backward, with s[b, t, e] = ⟨x[e, b, :], dout[t, b, :]⟩:
//     dx[e, b, :]  = C · pg[b, e] · Σ_t g[b, t, e] · dout[t, b, :]
//     dg[b, t, e]  = C · pg[b, e] · s[b, t, e]
//     dpg[b, e]    = C · Σ_t g[b, t, e] · s[b, t, e]
//   All gradients OVERWRITE (they are activation gradients); any may be null (not wanted).
//     x    (E, B, H)  the experts' outputs, expert-major as the batched GEMM writes them, or
//          (B, E, H) with batch_major (as one GEMM over every expert's rows writes them)
//     g    (B, T, E)  task gates          pg (B, E) or null      out, dout (T, B, H)
//     dx like x, dg like g, dpg like pg
//   Every sum runs in an order fixed by the shape alone: deterministic on a device, and the
//   CPU and CUDA results agree to rounding. No atomics.
// All tensors float32 (keep: uint8), contiguous row-major, on the op's device; outputs must
// not overlap inputs or each other.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw {

struct MoeGateArgs {
  int64_t rows = 0;              ///< R = B·T
  int64_t experts = 0;           ///< E (≥ 1)
  int64_t tasks = 1;             ///< T (≥ 1; R must be a multiple of T)
  float p = 0.f;                 ///< gate drop probability in [0, 1)
  bool shared = false;           ///< one mask per task for the whole batch (else per sample)
  uint64_t seed = 0;             ///< Philox key
  uint64_t offset = 0;           ///< first Philox counter
  const float* logits = nullptr; ///< (R, E)
  float* gates = nullptr;        ///< (R, E), written
  uint8_t* keep = nullptr;       ///< (R, E) or null, written: 1 = the expert survived
};

struct MoeCombineArgs {
  int64_t experts = 0;           ///< E
  int64_t batch = 0;             ///< B
  int64_t tasks = 0;             ///< T
  int64_t hidden = 0;            ///< H, the experts' output width
  float scale = 1.f;             ///< C
  bool batch_major = false;      ///< x and dx laid out (B, E, H) instead of (E, B, H)
  const float* x = nullptr;      ///< (E, B, H), or (B, E, H) with batch_major
  const float* g = nullptr;      ///< (B, T, E)
  const float* pg = nullptr;     ///< (B, E) or null
};

struct MoeCombineGrads {
  const float* dout = nullptr;   ///< (T, B, H)
  float* dx = nullptr;           ///< like x, or null, overwritten
  float* dg = nullptr;           ///< (B, T, E) or null, overwritten
  float* dpg = nullptr;          ///< (B, E) or null (also null when pg is), overwritten
};

}  // namespace gw

namespace gw::cpu {
void moe_gate_forward(const MoeGateArgs& args);
void moe_combine_forward(const MoeCombineArgs& args, float* out);
void moe_combine_backward(const MoeCombineArgs& args, const MoeCombineGrads& grads);
}  // namespace gw::cpu

namespace gw::cuda {
void moe_gate_forward(const MoeGateArgs& args, Stream stream);
void moe_combine_forward(const MoeCombineArgs& args, float* out, Stream stream);
void moe_combine_backward(const MoeCombineArgs& args, const MoeCombineGrads& grads, Stream stream);
}  // namespace gw::cuda
