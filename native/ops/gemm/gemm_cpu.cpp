// gemm — CPU driver (GotoBLAS/BLIS blocking) and the plain C++ fallback micro-kernel.
//   for each N block (NC) · for each K block (KC): pack B block (threads share it)
//     for each task = (M block of MC rows, slice of the N block), on the pool:
//       pack the A block (thread-local) · for each MR row panel · for each NR column panel:
//         micro-kernel (alpha, beta folded into its store; later K blocks accumulate)
//         after the last K block: bias, pre, activation, gate on the tile while it is in L1
// Items with M or N ≤ kSkinnyMax take the skinny path instead (gemm_skinny.h), on every ISA.
// Weight-gradient items (Aᵀ·B, K ≫ M, N) split K instead (gemm_split_k).
// Every output element is written by one task in a fixed order: results do not depend on
// the thread count or scheduling.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "../../core/error.h"
#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "gemm.h"
#include "../activation/act_math.h"
#include "gemm_kernel.h"
#include "gemm_pack.h"
#include "gemm_skinny.h"

namespace gw::cpu {
namespace gemm_detail {
namespace {

// ---- plain C++ micro-kernel (any x86-64 or other CPU; the compiler vectorizes the j loop)

constexpr int kScalarMr = 4;
constexpr int kScalarNr = 16;

void ukernel_scalar(int64_t kc, const float* pa, const float* pb, float* c, const TileStore& st) {
  float acc[kScalarMr][kScalarNr] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int r = 0; r < kScalarMr; ++r) {
      const float a = pa[r];
      for (int j = 0; j < kScalarNr; ++j) acc[r][j] += a * pb[j];
    }
    pa += kScalarMr;
    pb += kScalarNr;
  }
  for (int r = 0; r < st.m; ++r) {
    float* row = c + r * st.ldc;
    for (int j = 0; j < st.n; ++j) row[j] = st.alpha * acc[r][j] + (st.load_c ? st.beta * row[j] : 0.f);
  }
}

KernelDesc kernel_scalar() { return {kScalarMr, kScalarNr, 256, 128, 1024, &ukernel_scalar}; }

double fma_burst_scalar(int64_t iters) {
  constexpr int kAcc = 16;
  float acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = 0.5f + 0.01f * j;
  for (int64_t i = 0; i < iters; ++i)
    for (int j = 0; j < kAcc; ++j) acc[j] = acc[j] * 0.999f + 0.001f;
  float s = 0.f;
  for (float v : acc) s += v;
  volatile float sink = s;
  (void)sink;
  return double(iters) * kAcc * 2;
}

KernelDesc kernel_for(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512: return kernel_avx512();
    case CpuIsa::kAvx2: return kernel_avx2();
    default: return kernel_scalar();
  }
}

// ---- 64-byte aligned scratch that lives as long as its thread and only grows

class Scratch {
 public:
  ~Scratch() { std::free(p_); }
  float* get(size_t n) {
    if (n > cap_) {
      size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
      GW_CHECK(p, kOom, "gemm: cannot allocate ", bytes, " bytes of packing buffer");
      std::free(p_);
      p_ = p;
      cap_ = n;
    }
    return p_;
  }

 private:
  float* p_ = nullptr;
  size_t cap_ = 0;
};

float* scratch_b(size_t n) {
  thread_local Scratch s;
  return s.get(n);
}
float* scratch_a(size_t n) {
  thread_local Scratch s;
  return s.get(n);
}

// ---- epilogue: v = C + bias; pre = v; C = act(v), or C = gate_scale·gate ⊙ act(v), on an
// m×n tile of C (in L1: the micro-kernel has just stored it)

template <Act A>
GW_CPU_CLONES void act_row(float* GW_RESTRICT row, int64_t n, float slope) {
  for (int64_t j = 0; j < n; ++j) row[j] = act_apply(A, slope, row[j]);
}

template <Act A>
GW_CPU_CLONES void act_gate_row(float* GW_RESTRICT row, const float* GW_RESTRICT gate, float scale, int64_t n,
                                float slope) {
  for (int64_t j = 0; j < n; ++j) row[j] = scale * gate[j] * act_apply(A, slope, row[j]);
}

struct Epilogue {
  const float* bias;  ///< (N) or null
  float* pre;         ///< this item's (M, N) or null
  const float* gate;  ///< this item's (M, N) or null
  float gate_scale;
  Act act;
  float slope;
  bool active() const { return bias || pre || gate || act != Act::kIdentity; }
};

GW_CPU_CLONES void add_bias_row(float* GW_RESTRICT row, const float* GW_RESTRICT bias, int64_t n) {
  for (int64_t j = 0; j < n; ++j) row[j] += bias[j];
}

template <Act A>
void act_tile_row(const Epilogue& e, float* row, const float* gate, int64_t n) {
  if (gate) act_gate_row<A>(row, gate, e.gate_scale, n, e.slope);
  else if (A != Act::kIdentity) act_row<A>(row, n, e.slope);
}

void epilogue_tile(const Epilogue& e, float* c, int64_t ldc, int64_t i0, int64_t j0, int64_t m, int64_t n) {
  for (int64_t r = 0; r < m; ++r) {
    float* row = c + (i0 + r) * ldc + j0;
    if (e.bias) add_bias_row(row, e.bias + j0, n);
    if (e.pre) std::copy(row, row + n, e.pre + (i0 + r) * ldc + j0);
    const float* gate = e.gate ? e.gate + (i0 + r) * ldc + j0 : nullptr;
    switch (e.act) {
      case Act::kIdentity: act_tile_row<Act::kIdentity>(e, row, gate, n); break;
      case Act::kRelu: act_tile_row<Act::kRelu>(e, row, gate, n); break;
      case Act::kLeakyRelu: act_tile_row<Act::kLeakyRelu>(e, row, gate, n); break;
      case Act::kSigmoid: act_tile_row<Act::kSigmoid>(e, row, gate, n); break;
      case Act::kTanh: act_tile_row<Act::kTanh>(e, row, gate, n); break;
      case Act::kGelu: act_tile_row<Act::kGelu>(e, row, gate, n); break;
    }
  }
}

// K == 0: C = act(beta·C + bias), gated when a gate is given (alpha·op(A)·op(B) is an empty sum).
void gemm_empty_k(const GemmArgs& g, float* c, const Epilogue& e) {
  parallel_for(0, g.m, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.n)), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      float* row = c + i * g.n;
      for (int64_t j = 0; j < g.n; ++j) row[j] = g.beta == 0.f ? 0.f : g.beta * row[j];
    }
    epilogue_tile(e, c, g.n, lo, 0, hi - lo, g.n);
  });
}

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
int64_t div_up(int64_t x, int64_t d) { return (x + d - 1) / d; }

bool use_split_k(const GemmArgs& g);
void gemm_split_k(const GemmArgs& g, const float* a, const float* b, float* c, const Epilogue& e,
                  const KernelDesc& kd);

// One batch item: C (m, n) from A, B per the args' shapes and flags (split_k: may take the
// split-K path below; its chunks run without it).
void gemm_one(const GemmArgs& g, const float* a, const float* b, float* c, const Epilogue& e,
              const KernelDesc& kd, bool split_k = true) {
  const int64_t M = g.m, N = g.n, K = g.k;
  if (K == 0) return gemm_empty_k(g, c, e);
  if (std::min(M, N) <= kSkinnyMax) return gemm_skinny(g, a, b, c, e.bias, e.pre, e.gate);
  if (split_k && use_split_k(g)) return gemm_split_k(g, a, b, c, e, kd);
  const int64_t T = num_threads();
  const int mr = kd.mr, nr = kd.nr;

  // Balanced blocks: M blocks in a multiple of the thread count, N and K blocks of equal size.
  int64_t mblocks = div_up(M, kd.mc);
  if (mblocks % T) mblocks = std::min(mblocks + T - mblocks % T, div_up(M, mr));
  const int64_t mc = round_up(div_up(M, mblocks), mr);
  mblocks = div_up(M, mc);
  const int64_t nc_max = round_up(div_up(N, div_up(N, kd.nc)), nr);
  const int64_t kc_max = div_up(K, div_up(K, kd.kc));

  float* pb = scratch_b(static_cast<size_t>(round_up(nc_max, nr) * kc_max));
  for (int64_t j0 = 0; j0 < N; j0 += nc_max) {
    const int64_t nc = std::min(nc_max, N - j0);
    const int64_t npanels = div_up(nc, nr);
    // Few M blocks: also split the N block so every thread has work.
    const int64_t nsplit = std::min(npanels, std::max<int64_t>(1, div_up(2 * T, mblocks)));
    const int64_t per_split = div_up(npanels, nsplit);
    for (int64_t p0 = 0; p0 < K; p0 += kc_max) {
      const int64_t kc = std::min(kc_max, K - p0);
      const bool first = p0 == 0, last = p0 + kc == K;
      parallel_for(0, npanels, 4, [&](int64_t lo, int64_t hi) {
        pack_b(b, g.trans_b, K, N, p0, kc, j0, nc, nr, lo, hi, pb);
      });
      TileStore st{g.alpha, first ? g.beta : 1.f, !(first && g.beta == 0.f), N, mr, nr};
      parallel_for(0, mblocks * nsplit, 1, [&](int64_t lo, int64_t hi) {
        float* pa = scratch_a(static_cast<size_t>(mc * kc));
        for (int64_t t = lo; t < hi; ++t) {
          const int64_t i0 = (t / nsplit) * mc, m_blk = std::min(mc, M - i0);
          const int64_t q_lo = (t % nsplit) * per_split, q_hi = std::min(npanels, q_lo + per_split);
          if (q_lo >= q_hi) continue;
          pack_a(a, g.trans_a, M, K, i0, m_blk, p0, kc, mr, pa);
          for (int64_t ip = 0; ip < m_blk; ip += mr) {
            TileStore ts = st;
            ts.m = static_cast<int>(std::min<int64_t>(mr, m_blk - ip));
            for (int64_t q = q_lo; q < q_hi; ++q) {
              const int64_t jc = j0 + q * nr;
              ts.n = static_cast<int>(std::min<int64_t>(nr, N - jc));
              kd.fn(kc, pa + ip * kc, pb + q * nr * kc, c + (i0 + ip) * N + jc, ts);
              if (last && e.active()) epilogue_tile(e, c, N, i0 + ip, jc, ts.m, ts.n);
            }
          }
        }
      });
    }
  }
}

// Weight-gradient shapes (op(A) = Aᵀ with A stored (K, M), B stored (K, N); K = the rows of a
// batch, M·N small): blocking over M and N leaves the threads too little work per K block, and
// every K block pays two pool synchronizations. Instead the K rows are cut into chunks fixed
// by the shape (never the thread count), each chunk's product runs on one thread into its own
// partial C, and the partials are summed in chunk order: deterministic on any thread count.
constexpr int64_t kSplitKChunk = 1024;   ///< K rows per chunk (at least)
constexpr int64_t kSplitKMaxChunks = 16;
constexpr int64_t kSplitKMaxMN = 1 << 16;

bool use_split_k(const GemmArgs& g) {
  return g.trans_a && !g.trans_b && std::min(g.m, g.n) > kSkinnyMax && g.m * g.n <= kSplitKMaxMN &&
         g.k >= 4 * kSplitKChunk && g.k >= 8 * std::max(g.m, g.n);
}

void gemm_split_k(const GemmArgs& g, const float* a, const float* b, float* c, const Epilogue& e,
                  const KernelDesc& kd) {
  const int64_t M = g.m, N = g.n, K = g.k;
  const int64_t chunks = std::min(kSplitKMaxChunks, K / kSplitKChunk);
  const int64_t per = div_up(K, chunks);
  std::vector<float> partial(static_cast<size_t>(chunks * M * N));
  parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t ch = lo; ch < hi; ++ch) {
      const int64_t k0 = ch * per, k1 = std::min(K, k0 + per);
      GemmArgs sub = g;
      sub.k = k1 - k0, sub.beta = 0.f, sub.bias = nullptr, sub.pre = nullptr, sub.gate = nullptr;
      sub.act = Act::kIdentity;
      // A (K, M) and B (K, N) are row-major with K outermost: a chunk of K rows is contiguous.
      gemm_one(sub, a + k0 * M, b + k0 * N, partial.data() + ch * M * N, Epilogue{}, kd, false);
    }
  });
  parallel_for(0, M, std::max<int64_t>(1, 8192 / N), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      float* row = c + i * N;
      for (int64_t j = 0; j < N; ++j) {
        float v = g.beta == 0.f ? 0.f : g.beta * row[j];
        float sum = 0.f;
        for (int64_t ch = 0; ch < chunks; ++ch) sum += partial[static_cast<size_t>((ch * M + i) * N + j)];
        row[j] = v + sum;
      }
    }
    if (e.active()) epilogue_tile(e, c, N, lo, 0, hi - lo, N);
  });
}

}  // namespace
}  // namespace gemm_detail

/// Flops below which a whole call runs on the caller's thread (about 15 us of one core's work).
constexpr double kSerialFlops = 2e6;

void gemm_with_isa(const GemmArgs& g, CpuIsa isa) {
  using namespace gemm_detail;
  GW_CHECK(g.batch >= 0 && g.m >= 0 && g.n >= 0 && g.k >= 0, kArgument, "gemm: negative size (batch ", g.batch,
           ", m ", g.m, ", n ", g.n, ", k ", g.k, ")");
  GW_CHECK(isa <= cpu_isa(), kArgument, "gemm: ISA ", cpu_isa_name(isa), " is not available on this CPU (best is ",
           cpu_isa_name(cpu_isa()), ")");
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  GW_CHECK(g.c && (g.k == 0 || (g.a && g.b)), kArgument, "gemm: null matrix pointer");
  const KernelDesc kd = kernel_for(isa);
  auto item = [&](int64_t i) {
    Epilogue e{g.bias ? g.bias + i * g.stride_bias : nullptr, g.pre ? g.pre + i * g.m * g.n : nullptr,
               g.gate ? g.gate + i * g.stride_gate : nullptr, g.gate_scale, g.act, g.leaky_slope};
    gemm_one(g, g.a + i * g.stride_a, g.b + i * g.stride_b, g.c + i * g.stride_c, e, kd);
  };
  // Many small products: one per thread at a time (the inner parallel_for runs inline). A
  // problem of under kSerialFlops in all runs on the caller alone: less work than the pool's
  // round trip costs.
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
  if (flops * double(g.batch) < kSerialFlops) {
    SerialRegion serial;
    for (int64_t i = 0; i < g.batch; ++i) item(i);
  } else if (g.batch > 1 && flops < 8e6) {
    parallel_for(0, g.batch, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) item(i);
    });
  } else {
    for (int64_t i = 0; i < g.batch; ++i) item(i);
  }
}

void gemm(const GemmArgs& g) { gemm_with_isa(g, cpu_isa()); }

double fma_peak_gflops(double seconds) {
  using namespace gemm_detail;
  using Clock = std::chrono::steady_clock;
  GW_CHECK(seconds > 0 && seconds <= 60, kArgument, "Expected seconds in (0, 60] but received ", seconds);
  const CpuIsa isa = cpu_isa();
  double (*burst)(int64_t) = isa == CpuIsa::kAvx512 ? fma_burst_avx512
                             : isa == CpuIsa::kAvx2 ? fma_burst_avx2
                                                    : fma_burst_scalar;
  // Calibrate on this thread: iterations per second of one burst.
  int64_t iters = 1 << 12;
  double dt = 0;
  for (;;) {
    auto t0 = Clock::now();
    burst(iters);
    dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (dt > 0.01 || iters > (int64_t(1) << 40)) break;
    iters *= 4;
  }
  // Four rounds of eight bursts per thread (taken dynamically) fill the requested time; the
  // best round is reported, so a neighbour process stealing a core briefly does not count.
  const int64_t threads = num_threads(), items = 8 * threads;
  const int64_t per_item = std::max<int64_t>(1, int64_t(double(iters) / dt * seconds / 32));
  std::vector<double> flops(static_cast<size_t>(items), 0.0);
  double best = 0;
  for (int round = 0; round < 4; ++round) {
    auto t0 = Clock::now();
    parallel_for(0, items, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) flops[static_cast<size_t>(i)] = burst(per_item);
    });
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    double total = 0;
    for (double f : flops) total += f;
    best = std::max(best, total / wall * 1e-9);
  }
  return best;
}

}  // namespace gw::cpu
