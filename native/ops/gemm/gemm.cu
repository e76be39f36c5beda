// gemm — CUDA. See gemm.h for the math and layouts.
// A tiled SIMT fp32 SGEMM (no cuBLAS): each block computes a BM×BN tile of C for one batch
// item (blockIdx.z), stepping through K in BK slices staged in double-buffered shared
// memory; each of its 256 threads owns a TM×TN register tile, made of 4×4 sub-tiles spread
// BM/(TM/4) rows and BN/(TN/4) columns apart so shared-memory reads are conflict-free float4s.
//   large problems: 128×128 tiles, BK 8, 8×8 per thread
//   small problems (fewer 128-tiles than SMs): 64×64 tiles, BK 16, 4×4 per thread
// Global loads are one float4 per thread per operand and K slice when the operand's inner
// dimension is a multiple of 4 and its pointer 16-byte aligned, four bounds-checked scalar
// loads otherwise. Out-of-range rows/columns/k load as zero. The epilogue (alpha, beta,
// bias, pre, act, gate) is applied in registers before the single store of C.

#include <algorithm>
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/launch.cuh"
#include "gemm.h"
#include "../activation/act_math.h"

namespace {

struct Params {
  int64_t m, n, k;
  const float* a;
  int64_t stride_a;
  const float* b;
  int64_t stride_b;
  float* c;
  int64_t stride_c;
  const float* bias;
  int64_t stride_bias;
  float* pre;
  const float* gate;
  int64_t stride_gate;
  float gate_scale;
  float alpha, beta;
  gw::Act act;
  float slope;
  bool vec_a, vec_b, vec_c;  ///< float4 loads of A / B, float4 load-store of C (and pre, gate)
  int64_t z0;                ///< first batch item of this launch
};

constexpr int kPad = 4;  // smem row padding: transposed stores hit distinct banks, rows stay 16B-aligned

// ---- kernels

// Loads this thread's 4 elements of an operand tile (BR "rows" × BK k) into registers, then
// stores them to shared memory k-major (s[k][row]). For A the rows are M; for B they are
// N (the columns of op(B)). KMAJOR: the operand is stored with the row index contiguous,
// element (row, p) at src[p·rows + row] (A transposed, B plain); otherwise at src[row·k + p].
template <int BR, int BK, bool KMAJOR>
struct TileLoader {
  float4 v;
  int64_t r, kk;  // tile coordinates of this thread's first element

  __device__ void load(const float* __restrict__ src, int64_t rows, int64_t k, int64_t r0, int64_t k0, bool vec,
                       int tid) {
    if (KMAJOR) {
      // element (row, p) at src[p * rows + row]; 4 consecutive rows per thread
      kk = tid / (BR / 4);
      r = (tid % (BR / 4)) * 4;
      const int64_t gp = k0 + kk, gr = r0 + r;
      if (vec) {
        v = (gp < k && gr < rows) ? *reinterpret_cast<const float4*>(src + gp * rows + gr) : make_float4(0, 0, 0, 0);
      } else {
        const float* s = src + gp * rows + gr;
        const bool kin = gp < k;
        v.x = kin && gr + 0 < rows ? s[0] : 0.f;
        v.y = kin && gr + 1 < rows ? s[1] : 0.f;
        v.z = kin && gr + 2 < rows ? s[2] : 0.f;
        v.w = kin && gr + 3 < rows ? s[3] : 0.f;
      }
    } else {
      // element (row, p) at src[row * k + p]; 4 consecutive k per thread
      r = tid / (BK / 4);
      kk = (tid % (BK / 4)) * 4;
      const int64_t gp = k0 + kk, gr = r0 + r;
      if (vec) {
        v = (gr < rows && gp < k) ? *reinterpret_cast<const float4*>(src + gr * k + gp) : make_float4(0, 0, 0, 0);
      } else {
        const float* s = src + gr * k + gp;
        const bool rin = gr < rows;
        v.x = rin && gp + 0 < k ? s[0] : 0.f;
        v.y = rin && gp + 1 < k ? s[1] : 0.f;
        v.z = rin && gp + 2 < k ? s[2] : 0.f;
        v.w = rin && gp + 3 < k ? s[3] : 0.f;
      }
    }
  }

  __device__ void store(float (*s)[BR + kPad]) const {
    if (KMAJOR) {
      *reinterpret_cast<float4*>(&s[kk][r]) = v;
    } else {
      s[kk + 0][r] = v.x;
      s[kk + 1][r] = v.y;
      s[kk + 2][r] = v.z;
      s[kk + 3][r] = v.w;
    }
  }
};

// 2 blocks per SM (≤ 128 registers a thread) hide the latency of the next slice's loads.
template <int BM, int BN, int BK, int TM, int TN, bool TA, bool TB>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2) gemm_kernel(Params p) {
  constexpr int kThreads = (BM / TM) * (BN / TN);
  static_assert(BM * BK == 4 * kThreads && BN * BK == 4 * kThreads, "one float4 per thread per operand");
  static_assert(TM % 4 == 0 && TN % 4 == 0, "register tile made of 4x4 sub-tiles");
  constexpr int kRowStep = BM / (TM / 4);  // distance between a thread's 4-row groups
  constexpr int kColStep = BN / (TN / 4);

  GW_SHARED_ALIGNED(16, float[2][BK][BM + kPad], as);
  GW_SHARED_ALIGNED(16, float[2][BK][BN + kPad], bs);

  const int tid = threadIdx.x;
  const int tx = tid % (BN / TN), ty = tid / (BN / TN);
  const int64_t z = p.z0 + blockIdx.z;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.y) * BN;
  const float* a = p.a + z * p.stride_a;
  const float* b = p.b + z * p.stride_b;

  // A: op(A) rows are M; stored (M, K) → k contiguous (not k-major); (K, M) when TA → k-major.
  // B: op(B) "rows" are N; stored (K, N) → k-major; (N, K) when TB → k contiguous.
  TileLoader<BM, BK, TA> la;
  TileLoader<BN, BK, !TB> lb;

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  const int64_t ntiles = (p.k + BK - 1) / BK;
  if (ntiles > 0) {
    la.load(a, p.m, p.k, m0, 0, p.vec_a, tid);
    lb.load(b, p.n, p.k, n0, 0, p.vec_b, tid);
    la.store(as[0]);
    lb.store(bs[0]);
  }
  __syncthreads();

  for (int64_t t = 0; t < ntiles; ++t) {
    const int cur = static_cast<int>(t & 1);
    const bool more = t + 1 < ntiles;
    if (more) {  // next slice into registers while this one is multiplied
      la.load(a, p.m, p.k, m0, (t + 1) * BK, p.vec_a, tid);
      lb.load(b, p.n, p.k, n0, (t + 1) * BK, p.vec_b, tid);
    }
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float ra[TM], rb[TN];
#pragma unroll
      for (int g = 0; g < TM / 4; ++g) {
        const float4 v = *reinterpret_cast<const float4*>(&as[cur][kk][g * kRowStep + ty * 4]);
        ra[g * 4 + 0] = v.x, ra[g * 4 + 1] = v.y, ra[g * 4 + 2] = v.z, ra[g * 4 + 3] = v.w;
      }
#pragma unroll
      for (int g = 0; g < TN / 4; ++g) {
        const float4 v = *reinterpret_cast<const float4*>(&bs[cur][kk][g * kColStep + tx * 4]);
        rb[g * 4 + 0] = v.x, rb[g * 4 + 1] = v.y, rb[g * 4 + 2] = v.z, rb[g * 4 + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
    }
    if (more) {  // the other buffer was last read before the previous barrier
      la.store(as[cur ^ 1]);
      lb.store(bs[cur ^ 1]);
    }
    __syncthreads();
  }

  // ---- epilogue: v = alpha·acc + beta·C + bias; pre = v; C = act(v) or gate_scale·gate ⊙ act(v)
  float* c = p.c + z * p.stride_c;
  float* pre = p.pre ? p.pre + z * p.m * p.n : nullptr;
  const float* gate = p.gate ? p.gate + z * p.stride_gate : nullptr;
  const float* bias = p.bias ? p.bias + z * p.stride_bias : nullptr;
#pragma unroll
  for (int gi = 0; gi < TM / 4; ++gi)
#pragma unroll
    for (int ri = 0; ri < 4; ++ri) {
      const int64_t i = m0 + gi * kRowStep + ty * 4 + ri;
      if (i >= p.m) continue;
#pragma unroll
      for (int gj = 0; gj < TN / 4; ++gj) {
        const int64_t j = n0 + gj * kColStep + tx * 4;
        if (j >= p.n) continue;
        float v[4];
        if (p.vec_c) {  // n % 4 == 0: the 4 columns are all in range
          float4 old = make_float4(0, 0, 0, 0);
          if (p.beta != 0.f) old = *reinterpret_cast<const float4*>(c + i * p.n + j);
          const float o[4] = {old.x, old.y, old.z, old.w};
#pragma unroll
          for (int e = 0; e < 4; ++e)
            v[e] = p.alpha * acc[gi * 4 + ri][gj * 4 + e] + p.beta * o[e] + (bias ? bias[j + e] : 0.f);
          if (pre) *reinterpret_cast<float4*>(pre + i * p.n + j) = make_float4(v[0], v[1], v[2], v[3]);
#pragma unroll
          for (int e = 0; e < 4; ++e) v[e] = gw::act_apply(p.act, p.slope, v[e]);
          if (gate) {
            const float4 gv = *reinterpret_cast<const float4*>(gate + i * p.n + j);
            v[0] = p.gate_scale * gv.x * v[0], v[1] = p.gate_scale * gv.y * v[1];
            v[2] = p.gate_scale * gv.z * v[2], v[3] = p.gate_scale * gv.w * v[3];
          }
          *reinterpret_cast<float4*>(c + i * p.n + j) = make_float4(v[0], v[1], v[2], v[3]);
        } else {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            if (j + e >= p.n) break;
            const int64_t o = i * p.n + j + e;
            const float old = p.beta != 0.f ? p.beta * c[o] : 0.f;  // beta == 0: C is never read
            const float x = p.alpha * acc[gi * 4 + ri][gj * 4 + e] + old + (bias ? bias[j + e] : 0.f);
            if (pre) pre[o] = x;
            const float y = gw::act_apply(p.act, p.slope, x);
            c[o] = gate ? p.gate_scale * gate[o] * y : y;
          }
        }
      }
    }
}

}  // namespace

// ---- launchers

namespace {

template <int BM, int BN, int BK, int TM, int TN, bool TA, bool TB>
void launch(const Params& base, int64_t batch, gw::Stream stream) {
  const int64_t grid_x = (base.m + BM - 1) / BM, grid_y = (base.n + BN - 1) / BN;
  GW_CHECK(grid_x <= 2147483647LL && grid_y <= 65535, kArgument, "gemm: C of ", base.m, "×", base.n,
           " is too large for one launch");
  constexpr int kThreads = (BM / TM) * (BN / TN);
  for (int64_t z0 = 0; z0 < batch; z0 += 65535) {
    Params p = base;
    p.z0 = z0;
    const dim3 grid(static_cast<unsigned>(grid_x), static_cast<unsigned>(grid_y),
                    static_cast<unsigned>(std::min<int64_t>(65535, batch - z0)));
    gw::launch<gemm_kernel<BM, BN, BK, TM, TN, TA, TB>>(grid, kThreads, 0, stream, p);
  }
}

template <int BM, int BN, int BK, int TM, int TN>
void launch_transposed(const Params& p, bool ta, bool tb, int64_t batch, gw::Stream stream) {
  if (!ta && !tb) launch<BM, BN, BK, TM, TN, false, false>(p, batch, stream);
  else if (ta && !tb) launch<BM, BN, BK, TM, TN, true, false>(p, batch, stream);
  else if (!ta && tb) launch<BM, BN, BK, TM, TN, false, true>(p, batch, stream);
  else launch<BM, BN, BK, TM, TN, true, true>(p, batch, stream);
}

int sm_count() {
  int dev = 0, sms = 0;
  GW_CUDA_CHECK(cudaGetDevice(&dev));
  GW_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  return sms;
}

}  // namespace

namespace gw::cuda {

void gemm(const GemmArgs& g, Stream stream) {
  GW_CHECK(g.batch >= 0 && g.m >= 0 && g.n >= 0 && g.k >= 0, kArgument, "gemm: negative size (batch ", g.batch,
           ", m ", g.m, ", n ", g.n, ", k ", g.k, ")");
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  GW_CHECK(g.c && (g.k == 0 || (g.a && g.b)), kArgument, "gemm: null matrix pointer");
  Params p{};
  p.m = g.m, p.n = g.n, p.k = g.k;
  p.a = g.a, p.stride_a = g.stride_a, p.b = g.b, p.stride_b = g.stride_b, p.c = g.c, p.stride_c = g.stride_c;
  p.bias = g.bias, p.stride_bias = g.stride_bias, p.pre = g.pre;
  p.alpha = g.alpha, p.beta = g.beta, p.act = g.act, p.slope = g.leaky_slope;
  p.gate = g.gate, p.stride_gate = g.stride_gate, p.gate_scale = g.gate_scale;
  // float4 along each operand's contiguous dimension: (M, K) → K, (K, M) → M, (K, N) → N, (N, K) → K.
  const int64_t a_inner = g.trans_a ? g.m : g.k, b_inner = g.trans_b ? g.k : g.n;
  p.vec_a = a_inner % 4 == 0 && g.stride_a % 4 == 0 && gw::is_aligned16(g.a);
  p.vec_b = b_inner % 4 == 0 && g.stride_b % 4 == 0 && gw::is_aligned16(g.b);
  p.vec_c = g.n % 4 == 0 && g.stride_c % 4 == 0 && gw::is_aligned16(g.c) && (!g.pre || gw::is_aligned16(g.pre)) &&
            (!g.gate || (gw::is_aligned16(g.gate) && g.stride_gate % 4 == 0));

  const int64_t big_tiles = ((g.m + 127) / 128) * ((g.n + 127) / 128) * g.batch;
  if (big_tiles >= sm_count()) launch_transposed<128, 128, 8, 8, 8>(p, g.trans_a, g.trans_b, g.batch, stream);
  else launch_transposed<64, 64, 16, 4, 4>(p, g.trans_a, g.trans_b, g.batch, stream);
}

}  // namespace gw::cuda
