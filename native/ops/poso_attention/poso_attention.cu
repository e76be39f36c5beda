// poso_attention — CUDA. See poso_attention.h for the math and poso_attention_math.h for the
// tile plan (tile sizes follow from head_dim and Lq; shared memory stays under 48 KiB).
//   forward_kernel   one block of 128 threads per (sample, head, tile of query rows). It
//                    walks the valid keys in tiles: loads the K tile, mixes the N value
//                    folds into one V tile as it reads them (the folds are never combined in
//                    memory), scores the (query, key) pairs, and keeps an online softmax per
//                    row (running max and sum, one warp per row) with the output rows in
//                    registers. Writes out and the row's log-sum-exp.
//   backward_kernel  one block per (sample, head), so every gradient it writes is its own:
//                    no atomics, a fixed order. For each key tile: load K and the mixed V,
//                    then for each query tile recompute p from the saved lse and accumulate
//                    dvmix, dk (shared memory) and dqg (global, this block's rows of dq or a
//                    scratch). Then dk and dv = gv_i·dvmix are stored and dgv's partials
//                    kept per thread. Last, dq = σ·gk⊙dqg and dgk = σ·Σ_q q⊙dqg, and the
//                    block's dgv sums.
//   dgv_heads_kernel dgv[b, i] = Σ_h partial[b, h, i] when one gate is shared by the heads.
// Key tiles past lengths[b] are skipped (their dk, dv are stored as zeros).
#include <cmath>
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/cuda_warp.cuh"
#include "../../core/launch.cuh"
#include "../reduce/scratch.h"
#include "poso_attention.h"
#include "poso_attention_math.h"

// ---- kernels

namespace {

using gw::PosoAttentionArgs;
namespace poso = gw::poso;

constexpr int kThreads = poso::kThreads;
constexpr int kWarps = static_cast<int>(poso::kWarps);
constexpr int kFolds = static_cast<int>(gw::kPosoMaxFolds);
constexpr int kAcc = static_cast<int>(poso::kTileElems / poso::kThreads);  ///< output floats per thread

/// The tile plan as the kernels take it.
struct Plan {
  int lt, qt, ks;  ///< key rows, query rows, padded K/V row stride
};

__device__ __forceinline__ float dot(const float* a, const float* b, int n) {
  float s = 0.f;
  for (int d = 0; d < n; ++d) s = fmaf(a[d], b[d], s);
  return s;
}

/// The fold gates of (b, h) into shared memory.
__device__ __forceinline__ void load_gates(const PosoAttentionArgs& a, int64_t b, int64_t h, float* gates) {
  for (int i = threadIdx.x; i < a.folds; i += kThreads) gates[i] = poso::fold_gate(a, b, i, h);
}

/// K rows [l0, l0+nl) of (b, h) into ks and their mixed values Σ_i gates_i·V⁽ⁱ⁾ into vs
/// (both with row stride `stride`); rows nl..lt are zeroed.
__device__ __forceinline__ void load_keys(const PosoAttentionArgs& a, int64_t b, int64_t h, int64_t l0, int nl,
                                          int lt, int stride, const float* gates, float* ks, float* vs) {
  const int dh = static_cast<int>(a.head_dim);
  const int64_t D = a.heads * a.head_dim;
  for (int e = threadIdx.x; e < lt * dh; e += kThreads) {
    const int li = e / dh, d = e - li * dh;
    float kv = 0.f, vm = 0.f;
    if (li < nl) {
      const int64_t row = b * a.keys + l0 + li;
      kv = a.k[row * D + h * dh + d];
      const float* vr = a.v + row * a.folds * D + h * dh + d;
      for (int i = 0; i < a.folds; ++i) vm = fmaf(gates[i], vr[i * D], vm);
    }
    ks[li * stride + d] = kv;
    vs[li * stride + d] = vm;
  }
}

/// σ·gk⊙q for query rows [q0, q0+nq) of (b, h) into qs (qt, dh).
__device__ __forceinline__ void load_queries(const PosoAttentionArgs& a, int64_t b, int64_t h, int64_t q0, int nq,
                                             float* qs) {
  const int dh = static_cast<int>(a.head_dim);
  const int64_t D = a.heads * a.head_dim;
  for (int e = threadIdx.x; e < nq * dh; e += kThreads) {
    const int qi = e / dh, d = e - qi * dh;
    const float g = a.gk ? a.gk[b * D + h * dh + d] : 1.f;
    qs[e] = a.softmax_scale * g * a.q[(b * a.queries + q0 + qi) * D + h * dh + d];
  }
}

__global__ void __launch_bounds__(kThreads) forward_kernel(const PosoAttentionArgs a, float* __restrict__ out,
                                                           float* __restrict__ lse, const Plan t,
                                                           const int64_t qtiles) {
  GW_DYNAMIC_SHARED(float, smem);
  const int dh = static_cast<int>(a.head_dim);
  const int64_t D = a.heads * a.head_dim, Lq = a.queries;
  int64_t blk = blockIdx.x;
  const int64_t q0 = (blk % qtiles) * t.qt;
  blk /= qtiles;
  const int64_t h = blk % a.heads, b = blk / a.heads;
  const int nq = static_cast<int>(Lq - q0 < t.qt ? Lq - q0 : t.qt);
  float* ks = smem;                 // (lt, ks)
  float* vs = ks + t.lt * t.ks;     // (lt, ks)
  float* qs = vs + t.lt * t.ks;     // (qt, dh)
  float* ps = qs + t.qt * dh;       // (qt, lt) scores, then probabilities
  float* row_m = ps + t.qt * t.lt;  // (qt) running max
  float* row_l = row_m + t.qt;      // (qt) running sum
  float* row_a = row_l + t.qt;      // (qt) this tile's rescale of the running output
  float* gates = row_a + t.qt;      // (N)
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

  load_queries(a, b, h, q0, nq, qs);
  load_gates(a, b, h, gates);
  for (int r = tid; r < t.qt; r += kThreads) row_m[r] = -INFINITY, row_l[r] = 0.f;
  float acc[kAcc];
#pragma unroll
  for (int j = 0; j < kAcc; ++j) acc[j] = 0.f;

  const int64_t end = poso::key_end(a, b);
  for (int64_t l0 = 0; l0 < end; l0 += t.lt) {
    const int nl = static_cast<int>(end - l0 < t.lt ? end - l0 : t.lt);
    __syncthreads();  // the previous tile's readers are done; the first time: qs, gates ready
    load_keys(a, b, h, l0, nl, t.lt, t.ks, gates, ks, vs);
    __syncthreads();
    for (int p = tid; p < nq * t.lt; p += kThreads) {
      const int qi = p / t.lt, li = p - qi * t.lt;
      float s = -INFINITY;
      if (li < nl && poso::key_valid(a, b, l0 + li)) s = dot(qs + qi * dh, ks + li * t.ks, dh);
      ps[p] = s;
    }
    __syncthreads();
    for (int qi = warp; qi < nq; qi += kWarps) {  // online softmax, a warp per row
      float* row = ps + qi * t.lt;
      float mt = -INFINITY;
      for (int li = lane; li < t.lt; li += 32) mt = fmaxf(mt, row[li]);
      mt = gw::warp_max(mt);
      const float mo = row_m[qi], mn = fmaxf(mo, mt);
      float sum = 0.f;
      for (int li = lane; li < t.lt; li += 32) {
        const float p = row[li] == -INFINITY ? 0.f : expf(row[li] - mn);
        row[li] = p;
        sum += p;
      }
      sum = gw::warp_sum(sum);
      if (lane == 0) {
        const float alpha = mo == -INFINITY ? 0.f : expf(mo - mn);
        row_l[qi] = alpha * row_l[qi] + sum;
        row_m[qi] = mn;
        row_a[qi] = alpha;
      }
    }
    __syncthreads();
#pragma unroll
    for (int j = 0; j < kAcc; ++j) {
      const int e = tid + j * kThreads;
      if (e < nq * dh) {
        const int qi = e / dh, d = e - qi * dh;
        const float* prow = ps + qi * t.lt;
        float s = acc[j] * row_a[qi];
        for (int li = 0; li < nl; ++li) s = fmaf(prow[li], vs[li * t.ks + d], s);
        acc[j] = s;
      }
    }
  }
  __syncthreads();
#pragma unroll
  for (int j = 0; j < kAcc; ++j) {
    const int e = tid + j * kThreads;
    if (e < nq * dh) {
      const int qi = e / dh, d = e - qi * dh;
      const float l = row_l[qi];
      out[(b * Lq + q0 + qi) * D + h * dh + d] = l > 0.f ? a.scale * acc[j] / l : 0.f;
    }
  }
  if (lse)
    for (int qi = tid; qi < nq; qi += kThreads)
      lse[(b * a.heads + h) * Lq + q0 + qi] = row_l[qi] > 0.f ? row_m[qi] + logf(row_l[qi]) : INFINITY;
}

/// What the backward kernel writes; dqg is dq itself or a scratch (null: neither dq nor dgk).
struct BwdOut {
  const float* dout;
  const float* out;
  const float* lse;
  float* dqg;
  float* dq;
  float* dk;
  float* dv;
  float* dgk;
  float* dgv;       ///< (B, N, H) when G = heads; else the (B, H, N) partials
};

__global__ void __launch_bounds__(kThreads) backward_kernel(const PosoAttentionArgs a, const BwdOut g,
                                                            const Plan t) {
  GW_DYNAMIC_SHARED(float, smem);
  const int dh = static_cast<int>(a.head_dim);
  const int64_t D = a.heads * a.head_dim, Lq = a.queries, L = a.keys, N = a.folds;
  const int64_t h = blockIdx.x % a.heads, b = blockIdx.x / a.heads;
  float* ks = smem;                  // (lt, ks)
  float* vs = ks + t.lt * t.ks;      // (lt, ks) mixed values
  float* dks = vs + t.lt * t.ks;     // (lt, dh)
  float* dvs = dks + t.lt * dh;      // (lt, dh) dvmix
  float* qs = dvs + t.lt * dh;       // (qt, dh)
  float* dos = qs + t.qt * dh;       // (qt, dh)
  float* ps = dos + t.qt * dh;       // (qt, lt)
  float* dss = ps + t.qt * t.lt;     // (qt, lt)
  float* lse_s = dss + t.qt * t.lt;  // (qt)
  float* dq_s = lse_s + t.qt;        // (qt) Dq = dout·out
  float* gates = dq_s + t.qt;        // (N)
  float* red = gates + kFolds;       // (warps, N) dgv partials
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

  load_gates(a, b, h, gates);
  if (g.dqg)
    for (int64_t e = tid; e < Lq * dh; e += kThreads) g.dqg[(b * Lq + e / dh) * D + h * dh + e % dh] = 0.f;
  float gacc[kFolds];
#pragma unroll
  for (int i = 0; i < kFolds; ++i) gacc[i] = 0.f;

  const int64_t end = poso::key_end(a, b);
  for (int64_t l0 = 0; l0 < L; l0 += t.lt) {
    const int nl = static_cast<int>(L - l0 < t.lt ? L - l0 : t.lt);
    const int nle = static_cast<int>(end - l0 <= 0 ? 0 : (end - l0 < nl ? end - l0 : nl));  // rows < end
    __syncthreads();  // the previous tile's readers are done; the first time: gates, dqg zeros
    if (nle > 0) {
      load_keys(a, b, h, l0, nle, t.lt, t.ks, gates, ks, vs);
      for (int e = tid; e < t.lt * dh; e += kThreads) dks[e] = 0.f, dvs[e] = 0.f;
      for (int64_t q0 = 0; q0 < Lq; q0 += t.qt) {
        const int nq = static_cast<int>(Lq - q0 < t.qt ? Lq - q0 : t.qt);
        __syncthreads();  // the previous query tile's readers are done
        load_queries(a, b, h, q0, nq, qs);
        for (int e = tid; e < nq * dh; e += kThreads) {
          const int qi = e / dh, d = e - qi * dh;
          dos[e] = g.dout[(b * Lq + q0 + qi) * D + h * dh + d];
        }
        for (int qi = warp; qi < nq; qi += kWarps) {
          const int64_t row = (b * Lq + q0 + qi) * D + h * dh;
          float s = 0.f;
          for (int d = lane; d < dh; d += 32) s = fmaf(g.dout[row + d], g.out[row + d], s);
          s = gw::warp_sum(s);
          if (lane == 0) dq_s[qi] = s, lse_s[qi] = g.lse[(b * a.heads + h) * Lq + q0 + qi];
        }
        __syncthreads();
        for (int p = tid; p < nq * t.lt; p += kThreads) {
          const int qi = p / t.lt, li = p - qi * t.lt;
          float pr = 0.f, ds = 0.f;
          if (li < nle && poso::key_valid(a, b, l0 + li)) {
            pr = expf(dot(qs + qi * dh, ks + li * t.ks, dh) - lse_s[qi]);
            ds = pr * (a.scale * dot(dos + qi * dh, vs + li * t.ks, dh) - dq_s[qi]);
          }
          ps[p] = pr;
          dss[p] = ds;
        }
        __syncthreads();
        for (int e = tid; e < nle * dh; e += kThreads) {
          const int li = e / dh, d = e - li * dh;
          float sv = 0.f, sk = 0.f;
          for (int qi = 0; qi < nq; ++qi) {
            sv = fmaf(ps[qi * t.lt + li], dos[qi * dh + d], sv);
            sk = fmaf(dss[qi * t.lt + li], qs[qi * dh + d], sk);
          }
          dvs[e] += a.scale * sv;
          dks[e] += sk;
        }
        if (g.dqg)
          for (int e = tid; e < nq * dh; e += kThreads) {
            const int qi = e / dh, d = e - qi * dh;
            float s = 0.f;
            for (int li = 0; li < nle; ++li) s = fmaf(dss[qi * t.lt + li], ks[li * t.ks + d], s);
            g.dqg[(b * Lq + q0 + qi) * D + h * dh + d] += s;
          }
      }
      __syncthreads();
    }
    // store this tile's dk and dv (zeros past end), and dgv's partials
    for (int e = tid; e < nl * dh; e += kThreads) {
      const int li = e / dh, d = e - li * dh;
      const bool live = li < nle;
      const int64_t row = b * L + l0 + li;
      const float dkv = live ? dks[e] : 0.f, dvm = live ? dvs[e] : 0.f;
      if (g.dk) g.dk[row * D + h * dh + d] = dkv;
      const float* vr = a.v + row * N * D + h * dh + d;
#pragma unroll
      for (int i = 0; i < kFolds; ++i) {
        if (i >= N) break;
        if (g.dv) g.dv[(row * N + i) * D + h * dh + d] = gates[i] * dvm;
        if (g.dgv && live) gacc[i] = fmaf(vr[i * D], dvm, gacc[i]);
      }
    }
  }
  __syncthreads();  // dqg complete
  if (g.dqg) {
    const float* gk = a.gk ? a.gk + b * D + h * dh : nullptr;
    for (int d = tid; d < dh; d += kThreads) {
      float sg = 0.f;
      for (int64_t q = 0; q < Lq; ++q) {
        const int64_t at = (b * Lq + q) * D + h * dh + d;
        const float x = g.dqg[at];
        if (g.dgk) sg = fmaf(a.q[at], x, sg);
        if (g.dq) g.dq[at] = a.softmax_scale * (gk ? gk[d] : 1.f) * x;
      }
      if (g.dgk) g.dgk[b * D + h * dh + d] = a.softmax_scale * sg;
    }
  }
  if (g.dgv) {
#pragma unroll
    for (int i = 0; i < kFolds; ++i) {
      if (i >= N) break;
      const float s = gw::warp_sum(gacc[i]);
      if (lane == 0) red[warp * kFolds + i] = s;
    }
    __syncthreads();
    for (int i = tid; i < N; i += kThreads) {
      float s = 0.f;
      for (int w = 0; w < kWarps; ++w) s += red[w * kFolds + i];
      if (a.gate_heads == a.heads) g.dgv[(b * N + i) * a.heads + h] = s;
      else g.dgv[(b * a.heads + h) * N + i] = s;  // partials, summed over heads below
    }
  }
}

__global__ void dgv_heads_kernel(const float* __restrict__ part, float* __restrict__ dgv, int64_t batch,
                                 int64_t heads, int64_t folds) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < batch * folds;
       e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t b = e / folds, i = e % folds;
    float s = 0.f;
    for (int64_t h = 0; h < heads; ++h) s += part[(b * heads + h) * folds + i];
    dgv[e] = s;
  }
}

Plan plan_of(const poso::Tiles& t) {
  return Plan{static_cast<int>(t.lt), static_cast<int>(t.qt), static_cast<int>(t.kstride)};
}

/// Blocks of a 1-D grid, checked against the launch limit.
unsigned blocks(int64_t n, const char* what) {
  GW_CHECK(n <= 2147483647LL, kArgument, "poso_attention: ", n, " ", what, " are too many for one launch");
  return static_cast<unsigned>(n);
}

}  // namespace

// ---- launchers

namespace gw::cuda {

void poso_attention_forward(const PosoAttentionArgs& a, const PosoAttentionOut& o, Stream stream) {
  poso::check_forward(a, o);
  if (a.batch * a.queries * a.heads == 0) return;
  const poso::Tiles t = poso::forward_tiles(a);
  const int64_t qtiles = (a.queries + t.qt - 1) / t.qt;
  gw::launch<forward_kernel>(blocks(a.batch * a.heads * qtiles, "query tiles"), kThreads, static_cast<size_t>(t.bytes),
                             stream, a, o.out, o.lse, plan_of(t), qtiles);
}

void poso_attention_backward(const PosoAttentionArgs& a, const PosoAttentionGrads& g, Stream stream) {
  poso::check_backward(a, g);
  if (a.batch * a.heads == 0) return;
  const poso::Tiles t = poso::backward_tiles(a);
  const int64_t D = a.heads * a.head_dim;
  DeviceScratch<float> dqg(!g.dq && g.dgk ? static_cast<size_t>(a.batch * a.queries * D) : 0);
  const bool shared_gate = g.dgv && a.gate_heads != a.heads;
  DeviceScratch<float> part(shared_gate ? static_cast<size_t>(a.batch * a.heads * a.folds) : 0);
  BwdOut o{g.dout, g.out, g.lse, g.dq ? g.dq : (g.dgk ? dqg.get() : nullptr), g.dq, g.dk, g.dv, g.dgk,
           shared_gate ? part.get() : g.dgv};
  gw::launch<backward_kernel>(blocks(a.batch * a.heads, "samples × heads"), kThreads, static_cast<size_t>(t.bytes),
                              stream, a, o, plan_of(t));
  if (shared_gate) {
    gw::launch<dgv_heads_kernel>(grid_for(a.batch * a.folds), kPointwiseBlock, 0, stream, part.get(), g.dgv, a.batch,
                                 a.heads, a.folds);
  }
}

}  // namespace gw::cuda
