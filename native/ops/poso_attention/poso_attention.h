// poso_attention — POSO multi-head attention: one attention map per head, shared by N value
// folds mixed by personal gates, forward and backward (POSO, Dai et al. 2021, §4.3).
// For sample b, head h, query row q, key position l, head channel d, value fold i:
//   s[q,l]   = σ · Σ_d q[b,q,h,d] · gk[b,h,d] · k[b,l,h,d]      σ = softmax_scale (1/√d_h);
//                                                                gk = 1 when null
//   p[q,·]   = softmax over the valid keys l of s[q,·]          (lengths or mask; see below)
//   vmix[l,d] = Σ_i gv[b,i,h] · v[b,l,i,h,d]                    gv = 1 when null (N = 1)
//   o[b,q,h,d] = C · Σ_l p[q,l] · vmix[l,d]                      C = scale
// The K gate is folded into the query (Q·(gk⊙K)ᵀ = (Q⊙gk)·Kᵀ: gk is constant over l), and the
// folds are mixed as V is read, so no gated K and none of the N per-fold outputs is ever
// stored. The naive form C·Σ_i g_i·softmax(Q(gk⊙K)ᵀσ)·V⁽ⁱ⁾ is the same function.
//
// Tensors (float32 unless stated, contiguous row-major, on the op's device; D = heads·head_dim):
//   q (B, Lq, D)      queries: one or many per sample
//   k (B, L, D)       keys
//   v (B, L, N·D)     the N value folds side by side: fold i of position l is v[b, l, i·D ..]
//   gk (B, D) | null  the K gate, one value per head channel, broadcast over positions
//   gv (B, N, G) | null   the V fold gates; G = heads (a gate per head) or 1 (shared by heads)
//   lengths (B) int32 | null   keys l < lengths[b] are valid (0 ≤ lengths[b] ≤ L)
//   mask (B, L) uint8 | null   keys with mask ≠ 0 are valid (at most one of lengths, mask;
//                              neither: every key is valid)
//   out (B, Lq, D)    written
//   lse (B, heads, Lq) | null   written: log Σ_l exp(s[q,l]), the softmax's normalizer, saved
//                     for backward (+inf for a row without valid keys)
// A query row without valid keys gives o = 0 and no gradient (PyTorch gives NaN there).
//
// backward: given dout (B, Lq, D) and the forward's out and lse,
//   dvmix[l] = C·Σ_q p[q,l]·dout[q]      Dq = Σ_d dout[q,d]·out[q,d]
//   ds[q,l]  = p[q,l]·(C·dout[q]·vmix[l] − Dq)
//   dk[l]    = Σ_q ds[q,l]·σ·(gk⊙q[q])  dq[q] = σ·gk ⊙ Σ_l ds[q,l]·k[l]
//   dgk      = σ·Σ_q q[q] ⊙ Σ_l ds[q,l]·k[l]
//   dv[l,i]  = gv_i·dvmix[l]             dgv_i = Σ_l Σ_d v[l,i,d]·dvmix[l,d]   (Σ over heads when G = 1)
// Every gradient is an activation gradient: OVERWRITTEN (=), null = not computed. Invalid key
// positions get dk = dv = 0.
//
// Limits: 1 ≤ head_dim ≤ 256, 1 ≤ folds ≤ 16. Every reduction runs in a fixed order set by the
// shape alone: bit-identical run to run on a device; CPU and CUDA agree to rounding.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw {

constexpr int64_t kPosoMaxHeadDim = 256;  ///< largest head_dim
constexpr int64_t kPosoMaxFolds = 16;     ///< most value folds N

struct PosoAttentionArgs {
  int64_t batch = 0;        ///< B
  int64_t queries = 0;      ///< Lq, query rows per sample
  int64_t keys = 0;         ///< L, key positions per sample (the padded length)
  int64_t heads = 1;        ///< heads
  int64_t head_dim = 0;     ///< d_h; D = heads·head_dim
  int64_t folds = 1;        ///< N value folds
  int64_t gate_heads = 1;   ///< G: gv's last dim, heads or 1 (unused when gv is null)
  float scale = 1.f;        ///< C, the gates' correction factor
  float softmax_scale = 1.f;  ///< σ, usually 1/√head_dim
  const float* q = nullptr;   ///< (B, Lq, D)
  const float* k = nullptr;   ///< (B, L, D)
  const float* v = nullptr;   ///< (B, L, N·D)
  const float* gk = nullptr;  ///< (B, D) or null
  const float* gv = nullptr;  ///< (B, N, G) or null (then N must be 1)
  const int32_t* lengths = nullptr;  ///< (B) or null
  const uint8_t* mask = nullptr;     ///< (B, L) or null
};

/// Forward outputs.
struct PosoAttentionOut {
  float* out = nullptr;  ///< (B, Lq, D), written
  float* lse = nullptr;  ///< (B, heads, Lq) or null (inference), written
};

/// Backward inputs saved by the forward, and the gradients to produce (null: not wanted).
struct PosoAttentionGrads {
  const float* dout = nullptr;  ///< (B, Lq, D)
  const float* out = nullptr;   ///< (B, Lq, D): the forward's out
  const float* lse = nullptr;   ///< (B, heads, Lq): the forward's lse
  float* dq = nullptr;          ///< (B, Lq, D)
  float* dk = nullptr;          ///< (B, L, D)
  float* dv = nullptr;          ///< (B, L, N·D)
  float* dgk = nullptr;         ///< (B, D); requires gk
  float* dgv = nullptr;         ///< (B, N, G); requires gv
};

}  // namespace gw

namespace gw::cpu {
void poso_attention_forward(const PosoAttentionArgs& args, const PosoAttentionOut& out);
void poso_attention_backward(const PosoAttentionArgs& args, const PosoAttentionGrads& grads);
}  // namespace gw::cpu

namespace gw::cuda {
void poso_attention_forward(const PosoAttentionArgs& args, const PosoAttentionOut& out, Stream stream);
void poso_attention_backward(const PosoAttentionArgs& args, const PosoAttentionGrads& grads, Stream stream);
}  // namespace gw::cuda
