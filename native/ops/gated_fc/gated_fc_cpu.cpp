// gated_fc — CPU twin and test oracle. See gated_fc.h.
//   forward   lazy:  gemm with the gate in its epilogue
//             eager: xg = C·gate⊙x (flat pass), then gemm + bias + act
//   backward  rows pass over (B, out): dz, dgate (lazy) and the bias partial sums
//             lazy:  dx = dz·W, dW += dzᵀ·x
//             eager: dW += dzᵀ·xg, dxg = dz·W, then dx = C·gate⊙dxg, dgate = C·x⊙dxg (flat pass)
// The element-wise loops are compiled per ISA (GW_CPU_CLONES) over the formulas of
// gated_fc_math.h. The bias gradient sums rows in chunks fixed by the shape (at most 64,
// each over whole rows), partials in double added in chunk order: bit-identical for any
// thread count.
#include <algorithm>
#include <vector>

#include "../../core/allocator.h"
#include "../../core/error.h"
#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "../activation/act_math.h"
#include "../gemm/gemm.h"
#include "gated_fc.h"
#include "gated_fc_math.h"

namespace gw::cpu {
namespace {

constexpr int64_t kGrain = 1 << 14;      ///< elements per task of the flat passes
constexpr int64_t kRowBlock = 1 << 12;   ///< elements of whole rows computed before their bias sums (L1)
constexpr int64_t kChunkElems = 1 << 15; ///< about this many elements per bias-sum chunk ...
constexpr int64_t kMaxChunks = 64;       ///< ... and at most this many chunks

/// A host buffer from the caching allocator for the duration of one call.
class HostScratch {
 public:
  explicit HostScratch(int64_t n) : bytes_(static_cast<size_t>(n > 0 ? n : 1) * sizeof(float)),
                                    p_(static_cast<float*>(mem_alloc(Device::kCpu, bytes_))) {}
  ~HostScratch() { mem_free(Device::kCpu, p_, bytes_); }
  HostScratch(const HostScratch&) = delete;
  HostScratch& operator=(const HostScratch&) = delete;
  float* get() const { return p_; }

 private:
  size_t bytes_;
  float* p_;
};


// ---- element-wise loops (inlined into the cloned functions below, so they vectorize per ISA)

template <typename A>
GW_ALWAYS_INLINE void lazy_run(A f, float s, const float* GW_RESTRICT dy, const float* GW_RESTRICT z,
                               const float* GW_RESTRICT gate, float* GW_RESTRICT dz, float* GW_RESTRICT dgate,
                               int64_t n) {
  if (dgate)
    for (int64_t i = 0; i < n; ++i) gfc::lazy_dz_dgate(f, s, dy[i], z[i], gate[i], dz[i], dgate[i]);
  else
    for (int64_t i = 0; i < n; ++i) dz[i] = gfc::lazy_dz(f, s, dy[i], z[i], gate[i]);
}

template <typename A>
GW_ALWAYS_INLINE void eager_run(A f, const float* GW_RESTRICT dy, const float* GW_RESTRICT z, float* GW_RESTRICT dz,
                                int64_t n) {
  for (int64_t i = 0; i < n; ++i) dz[i] = gfc::eager_dz(f, dy[i], z[i]);
}

/// Lazy: dz (and dgate when non-null) over n elements.
GW_CPU_CLONES void lazy_elems(Act act, float slope, float s, const float* GW_RESTRICT dy,
                              const float* GW_RESTRICT z, const float* GW_RESTRICT gate, float* GW_RESTRICT dz,
                              float* GW_RESTRICT dgate, int64_t n) {
#define GW_CALL(A) lazy_run(A{slope}, s, dy, z, gate, dz, dgate, n)
  GW_ACT_SWITCH(act, GW_CALL)
#undef GW_CALL
}

/// Eager: dz = dy·act′(z) over n elements.
GW_CPU_CLONES void eager_elems(Act act, float slope, const float* GW_RESTRICT dy, const float* GW_RESTRICT z,
                               float* GW_RESTRICT dz, int64_t n) {
#define GW_CALL(A) eager_run(A{slope}, dy, z, dz, n)
  GW_ACT_SWITCH(act, GW_CALL)
#undef GW_CALL
}

/// out = s·g⊙x  (eager forward: xg; eager backward without dx: dgate = C·x⊙dxg)
GW_CPU_CLONES void scaled_product(float s, const float* GW_RESTRICT g, const float* GW_RESTRICT x,
                                  float* GW_RESTRICT out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = s * g[i] * x[i];
}

/// Eager backward: dx = s·gate⊙dxg and dgate = s·x⊙dxg in one pass.
GW_CPU_CLONES void gate_input_backward(float s, const float* GW_RESTRICT gate, const float* GW_RESTRICT x,
                                       const float* GW_RESTRICT dxg, float* GW_RESTRICT dx,
                                       float* GW_RESTRICT dgate, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float d = dxg[i];
    dx[i] = s * gate[i] * d;
    dgate[i] = s * x[i] * d;
  }
}

/// part[j] += row[j] in double.
GW_CPU_CLONES void add_row(double* GW_RESTRICT part, const float* GW_RESTRICT row, int64_t n) {
  for (int64_t j = 0; j < n; ++j) part[j] += static_cast<double>(row[j]);
}

/// Runs fn(lo, hi) over [0, n) on the pool in tasks of about kGrain elements.
template <typename F>
void flat(int64_t n, F&& fn) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) { fn(lo, hi); });
}

/// The rows pass of backward over (B, out):
///   lazy (gate non-null): dz = C·gate·dy·act′(z), dgate = C·act(z)·dy (when non-null)
///   eager (gate null):    dz = dy·act′(z); dz null: nothing written (identity, dz is dy)
///   dbias (when non-null) += Σ_rows dz
void rows_pass(const GatedFcArgs& a, const float* dy, const float* z, const float* gate, float* dz, float* dgate,
               float* dbias) {
  const int64_t rows = a.rows, n = a.out;
  if (rows == 0 || n == 0) return;
  int64_t chunks = std::min(std::min<int64_t>(kMaxChunks, rows), std::max<int64_t>(1, rows * n / kChunkElems));
  const int64_t per = (rows + chunks - 1) / chunks;
  chunks = (rows + per - 1) / per;
  std::vector<double> part(dbias ? static_cast<size_t>(chunks * n) : 0, 0.0);
  const float* sums_of = dz ? dz : dy;
  const int64_t block = std::max<int64_t>(1, kRowBlock / n);  // rows computed, then summed while in L1
  parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const int64_t r1 = std::min(rows, (c + 1) * per);
      for (int64_t r = c * per; r < r1; r += block) {
        const int64_t off = r * n, len = std::min(block, r1 - r) * n;
        if (gate) lazy_elems(a.act, a.leaky_slope, a.scale, dy + off, z + off, gate + off, dz + off,
                             dgate ? dgate + off : nullptr, len);
        else if (dz) eager_elems(a.act, a.leaky_slope, dy + off, z + off, dz + off, len);
        if (dbias)
          for (int64_t i = 0; i < len; i += n) add_row(part.data() + c * n, sums_of + off + i, n);
      }
    }
  });
  if (!dbias) return;
  parallel_for(0, n, 1024, [&](int64_t lo, int64_t hi) {
    for (int64_t j = lo; j < hi; ++j) {
      double s = 0;
      for (int64_t c = 0; c < chunks; ++c) s += part[static_cast<size_t>(c * n + j)];
      dbias[j] += static_cast<float>(s);
    }
  });
}

}  // namespace

void gated_fc_forward(const GatedFcArgs& a, const GatedFcOut& o) {
  gfc::check_forward(a, o);
  const bool eager = a.placement == GatePlacement::kEager;
  if (eager)
    flat(a.rows * a.in, [&](int64_t lo, int64_t hi) { scaled_product(a.scale, a.gate + lo, a.x + lo, o.xg + lo, hi - lo); });
  gemm(gfc::forward_gemm(a, eager ? o.xg : a.x, o.y, o.z));
}

void gated_fc_backward(const GatedFcArgs& a, const GatedFcGrads& g) {
  const bool identity_dz = gfc::check_backward(a, g);  // dz is dy itself
  const bool eager = a.placement == GatePlacement::kEager;
  const bool want_dz = g.dx || g.dweight || g.dgate;  // eager: dgate comes from dz·W
  if (!want_dz && !g.dbias) return;
  HostScratch dz_buf(identity_dz ? 0 : a.rows * a.out);  // lazy: the rows pass always writes dz
  const float* dz = identity_dz ? g.dy : dz_buf.get();

  if (!eager) {
    rows_pass(a, g.dy, g.z, a.gate, dz_buf.get(), g.dgate, g.dbias);
    if (g.dx) gemm(gfc::input_grad_gemm(a, dz, g.dx, nullptr));
    if (g.dweight) gemm(gfc::weight_grad_gemm(a, dz, a.x, g.dweight));
    return;
  }
  if (want_dz || g.dbias) rows_pass(a, g.dy, g.z, nullptr, identity_dz ? nullptr : dz_buf.get(), nullptr, g.dbias);
  if (g.dweight) gemm(gfc::weight_grad_gemm(a, dz, g.xg, g.dweight));
  if (!g.dgate) {  // dx = C·gate ⊙ (dz·W) in the GEMM's epilogue
    if (g.dx) gemm(gfc::input_grad_gemm(a, dz, g.dx, a.gate));
    return;
  }
  HostScratch dxg(a.rows * a.in);
  gemm(gfc::input_grad_gemm(a, dz, dxg.get(), nullptr));
  flat(a.rows * a.in, [&](int64_t lo, int64_t hi) {
    if (g.dx) gate_input_backward(a.scale, a.gate + lo, a.x + lo, dxg.get() + lo, g.dx + lo, g.dgate + lo, hi - lo);
    else scaled_product(a.scale, a.x + lo, dxg.get() + lo, g.dgate + lo, hi - lo);
  });
}

}  // namespace gw::cpu
