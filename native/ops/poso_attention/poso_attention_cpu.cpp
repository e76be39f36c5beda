// poso_attention — CPU twin and test oracle. See poso_attention.h.
// One task per sample b (parallel over the batch); inside it, per head:
//   qg = σ·gk⊙q (Lq, dh) and vmix = Σ_i gv_i·V⁽ⁱ⁾ (valid keys, dh) once, then per query row
//   the scores, an exact two-pass softmax, and o = C·Σ_l p_l·vmix_l / Σ p.
// The backward recomputes qg, vmix and p (from the saved lse) and accumulates dvmix, dk and
// dqg per query row, in order; dv, dgv, dq and dgk follow from them. The inner loops are
// dot products with 8 partial sums and axpys over head_dim, compiled per ISA
// (GW_CPU_CLONES). The order of every sum is fixed by the shape: deterministic.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../../core/parallel.h"
#include "../../core/blas1.h"
#include "../../core/simd.h"
#include "poso_attention.h"
#include "poso_attention_math.h"

namespace gw::cpu {
namespace {

/// Per-task buffers, sized once per chunk of samples.
struct Scratch {
  std::vector<float> qg, vmix, dvmix, dqg, scores;
  std::vector<uint8_t> valid;
  explicit Scratch(const PosoAttentionArgs& a)
      : qg(a.queries * a.head_dim), vmix(a.keys * a.head_dim), scores(a.keys), valid(a.keys) {}
};

/// qg = σ·gk⊙q for sample b, head h (Lq, dh); valid[l] for l < end; vmix for the valid keys.
GW_ALWAYS_INLINE void prepare_head(const PosoAttentionArgs& a, int64_t b, int64_t h, int64_t end, Scratch& s) {
  const int64_t dh = a.head_dim, D = a.heads * dh, N = a.folds;
  const float* gk = a.gk ? a.gk + b * D + h * dh : nullptr;
  for (int64_t q = 0; q < a.queries; ++q) {
    const float* src = a.q + (b * a.queries + q) * D + h * dh;
    float* dst = s.qg.data() + q * dh;
    for (int64_t d = 0; d < dh; ++d) dst[d] = a.softmax_scale * src[d] * (gk ? gk[d] : 1.f);
  }
  float gates[kPosoMaxFolds];
  for (int64_t i = 0; i < N; ++i) gates[i] = poso::fold_gate(a, b, i, h);
  for (int64_t l = 0; l < end; ++l) {
    s.valid[l] = poso::key_valid(a, b, l);
    if (!s.valid[l]) continue;
    float* vm = s.vmix.data() + l * dh;
    const float* vl = a.v + (b * a.keys + l) * N * D + h * dh;
    for (int64_t d = 0; d < dh; ++d) vm[d] = gates[0] * vl[d];
    for (int64_t i = 1; i < N; ++i) axpy(gates[i], vl + i * D, vm, dh);
  }
}

GW_CPU_CLONES void forward_samples(const PosoAttentionArgs& a, const PosoAttentionOut& o, int64_t lo, int64_t hi) {
  const int64_t dh = a.head_dim, D = a.heads * dh;
  Scratch s(a);
  std::vector<float> acc(dh);
  for (int64_t b = lo; b < hi; ++b) {
    const int64_t end = poso::key_end(a, b);
    for (int64_t h = 0; h < a.heads; ++h) {
      prepare_head(a, b, h, end, s);
      for (int64_t q = 0; q < a.queries; ++q) {
        const float* qg = s.qg.data() + q * dh;
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t l = 0; l < end; ++l) {
          if (!s.valid[l]) continue;
          s.scores[l] = dot(qg, a.k + (b * a.keys + l) * D + h * dh, dh);
          m = std::max(m, s.scores[l]);
        }
        float* dst = o.out + (b * a.queries + q) * D + h * dh;
        float* lse = o.lse ? o.lse + (b * a.heads + h) * a.queries + q : nullptr;
        if (m == -std::numeric_limits<float>::infinity()) {  // no valid key
          for (int64_t d = 0; d < dh; ++d) dst[d] = 0.f;
          if (lse) *lse = std::numeric_limits<float>::infinity();
          continue;
        }
        float sum = 0.f;
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int64_t l = 0; l < end; ++l) {
          if (!s.valid[l]) continue;
          const float p = std::exp(s.scores[l] - m);
          sum += p;
          axpy(p, s.vmix.data() + l * dh, acc.data(), dh);
        }
        const float r = a.scale / sum;
        for (int64_t d = 0; d < dh; ++d) dst[d] = r * acc[d];
        if (lse) *lse = m + std::log(sum);
      }
    }
  }
}

GW_CPU_CLONES void backward_samples(const PosoAttentionArgs& a, const PosoAttentionGrads& g, int64_t lo, int64_t hi) {
  const int64_t dh = a.head_dim, D = a.heads * dh, N = a.folds, L = a.keys, Lq = a.queries;
  Scratch s(a);
  s.dvmix.resize(L * dh);
  s.dqg.resize(Lq * dh);
  float dgv_sum[kPosoMaxFolds];
  for (int64_t b = lo; b < hi; ++b) {
    const int64_t end = poso::key_end(a, b);
    for (int64_t i = 0; i < N; ++i) dgv_sum[i] = 0.f;
    for (int64_t h = 0; h < a.heads; ++h) {
      prepare_head(a, b, h, end, s);
      std::fill(s.dvmix.begin(), s.dvmix.begin() + end * dh, 0.f);
      std::fill(s.dqg.begin(), s.dqg.end(), 0.f);
      if (g.dk)
        for (int64_t l = 0; l < L; ++l)
          for (int64_t d = 0; d < dh; ++d) g.dk[(b * L + l) * D + h * dh + d] = 0.f;
      for (int64_t q = 0; q < Lq; ++q) {
        const float lse = g.lse[(b * a.heads + h) * Lq + q];
        if (std::isinf(lse)) continue;  // no valid key: no gradient
        const float* qg = s.qg.data() + q * dh;
        const float* dout = g.dout + (b * Lq + q) * D + h * dh;
        const float Dq = dot(dout, g.out + (b * Lq + q) * D + h * dh, dh);
        float* dqg = s.dqg.data() + q * dh;
        for (int64_t l = 0; l < end; ++l) {
          if (!s.valid[l]) continue;
          const float* kl = a.k + (b * L + l) * D + h * dh;
          const float p = std::exp(dot(qg, kl, dh) - lse);
          const float ds = p * (a.scale * dot(dout, s.vmix.data() + l * dh, dh) - Dq);
          axpy(a.scale * p, dout, s.dvmix.data() + l * dh, dh);
          if (g.dk) axpy(ds, qg, g.dk + (b * L + l) * D + h * dh, dh);
          axpy(ds, kl, dqg, dh);
        }
      }
      const float* gk = a.gk ? a.gk + b * D + h * dh : nullptr;
      for (int64_t q = 0; q < Lq; ++q) {
        const float* dqg = s.dqg.data() + q * dh;
        if (g.dq) {
          float* dq = g.dq + (b * Lq + q) * D + h * dh;
          for (int64_t d = 0; d < dh; ++d) dq[d] = a.softmax_scale * (gk ? gk[d] : 1.f) * dqg[d];
        }
      }
      if (g.dgk) {
        float* dgk = g.dgk + b * D + h * dh;
        for (int64_t d = 0; d < dh; ++d) dgk[d] = 0.f;
        for (int64_t q = 0; q < Lq; ++q) {
          const float* src = a.q + (b * Lq + q) * D + h * dh;
          const float* dqg = s.dqg.data() + q * dh;
          for (int64_t d = 0; d < dh; ++d) dgk[d] += a.softmax_scale * src[d] * dqg[d];
        }
      }
      float dgv_head[kPosoMaxFolds];
      for (int64_t i = 0; i < N; ++i) dgv_head[i] = 0.f;
      for (int64_t l = 0; l < L; ++l) {
        const bool live = l < end && s.valid[l];
        const float* dvm = s.dvmix.data() + l * dh;
        for (int64_t i = 0; i < N; ++i) {
          const int64_t at = ((b * L + l) * N + i) * D + h * dh;
          if (g.dv) {
            const float gi = poso::fold_gate(a, b, i, h);
            for (int64_t d = 0; d < dh; ++d) g.dv[at + d] = live ? gi * dvm[d] : 0.f;
          }
          if (g.dgv && live) dgv_head[i] += dot(a.v + at, dvm, dh);
        }
      }
      if (g.dgv) {
        for (int64_t i = 0; i < N; ++i) {
          if (a.gate_heads == 1) dgv_sum[i] += dgv_head[i];
          else g.dgv[(b * N + i) * a.gate_heads + h] = dgv_head[i];
        }
      }
    }
    if (g.dgv && a.gate_heads == 1)
      for (int64_t i = 0; i < N; ++i) g.dgv[b * N + i] = dgv_sum[i];
  }
}

/// Samples per task: about 2^16 multiply-adds of attention each, at least one sample.
int64_t grain(const PosoAttentionArgs& a) {
  const int64_t work = std::max<int64_t>(1, a.heads * a.queries * a.keys * a.head_dim * (a.folds + 2));
  return std::max<int64_t>(1, (int64_t{1} << 16) / work);
}

}  // namespace

void poso_attention_forward(const PosoAttentionArgs& a, const PosoAttentionOut& o) {
  poso::check_forward(a, o);
  if (a.batch * a.queries * a.heads == 0) return;
  parallel_for(0, a.batch, grain(a), [&](int64_t lo, int64_t hi) { forward_samples(a, o, lo, hi); });
}

void poso_attention_backward(const PosoAttentionArgs& a, const PosoAttentionGrads& g) {
  poso::check_backward(a, g);
  if (a.batch * a.heads == 0) return;
  parallel_for(0, a.batch, grain(a), [&](int64_t lo, int64_t hi) { backward_samples(a, g, lo, hi); });
}

}  // namespace gw::cpu
