// gated_fc — CUDA. See gated_fc.h for the math; gated_fc_math.h holds the per-element
// formulas (shared with the CPU twin) and the GEMMs, which run on gw::cuda::gemm with the
// gate in its register epilogue. The element-wise passes, all grid-stride or chunked, with
// float4 loads and stores when every pointer is 16-byte aligned (and, for the row kernel,
// the row length a multiple of 4):
//   scaled_product_kernel   out = s·g⊙x                 eager forward xg; eager dgate alone
//   gate_input_bwd_kernel   dx = s·gate⊙dxg, dgate = s·x⊙dxg          eager backward, one pass
//   rows_kernel<A, kLazy>   lazy: dz = s·gate·dy·act′(z), dgate = s·act(z)·dy;
//                           eager: dz = dy·act′(z); both with the bias gradient's partial sums.
//                           A block of (tx, ty) = 256 threads covers 4·tx columns of a chunk
//                           of rows; each thread sums its column group over its rows (float),
//                           the block's ty row stripes are added in a fixed order (double), and
//                           the chunks' partials by bias_finish_kernel, in chunk order. Chunk
//                           sizes follow from the shape alone: deterministic, no atomics.
//   bias_finish_kernel      dbias += Σ_chunks partials
#include <algorithm>
#include <cstdint>

#include "../../core/cuda_map.cuh"
#include "../../core/cuda_check.h"
#include "../../core/launch.cuh"
#include "../activation/act_math.h"
#include "../gemm/gemm.h"
#include "../reduce/scratch.h"
#include "gated_fc.h"
#include "gated_fc_math.h"

// ---- kernels

namespace {

constexpr int kBlock = 256;
constexpr int64_t kTargetBlocks = 2048;  ///< rows_kernel: chunks are sized for about this many blocks

__global__ void scaled_product_kernel(float s, const float* __restrict__ g, const float* __restrict__ x,
                                      float* __restrict__ out, int64_t n, bool vec4) {
  gw::grid_stride_vec4(
      n, vec4,
      [&](int64_t i) {
        const float4 gv = reinterpret_cast<const float4*>(g)[i];
        const float4 xv = reinterpret_cast<const float4*>(x)[i];
        reinterpret_cast<float4*>(out)[i] =
            make_float4(s * gv.x * xv.x, s * gv.y * xv.y, s * gv.z * xv.z, s * gv.w * xv.w);
      },
      [&](int64_t i) { out[i] = s * g[i] * x[i]; });
}

__global__ void gate_input_bwd_kernel(float s, const float* __restrict__ gate, const float* __restrict__ x,
                                      const float* __restrict__ dxg, float* __restrict__ dx,
                                      float* __restrict__ dgate, int64_t n, bool vec4) {
  gw::grid_stride_vec4(
      n, vec4,
      [&](int64_t i) {
        const float4 d = reinterpret_cast<const float4*>(dxg)[i];
        const float4 g = reinterpret_cast<const float4*>(gate)[i];
        const float4 xv = reinterpret_cast<const float4*>(x)[i];
        reinterpret_cast<float4*>(dx)[i] = make_float4(s * g.x * d.x, s * g.y * d.y, s * g.z * d.z, s * g.w * d.w);
        reinterpret_cast<float4*>(dgate)[i] =
            make_float4(s * xv.x * d.x, s * xv.y * d.y, s * xv.z * d.z, s * xv.w * d.w);
      },
      [&](int64_t i) {
        const float d = dxg[i];
        dx[i] = s * gate[i] * d;
        dgate[i] = s * x[i] * d;
      });
}

struct RowsParams {
  const float* dy;    ///< (rows, cols)
  const float* z;     ///< (rows, cols); unread for eager without dz
  const float* gate;  ///< (rows, cols), lazy only
  float* dz;          ///< (rows, cols); eager may pass null (identity: the sums are of dy)
  float* dgate;       ///< (rows, cols) or null, lazy only
  double* part;       ///< (chunks, cols) partial sums, or null
  float* dbias;       ///< (cols): += the block's sums directly (one chunk), or null
  int64_t rows, cols, per_chunk;
  float s, slope;
  bool vec4;
};

__device__ __forceinline__ void load4(const float* __restrict__ p, int64_t o, int valid, bool vec4, float v[4]) {
  if (vec4) {
    const float4 t = *reinterpret_cast<const float4*>(p + o);
    v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) v[e] = e < valid ? p[o + e] : 0.f;
  }
}

__device__ __forceinline__ void store4(float* __restrict__ p, int64_t o, int valid, bool vec4, const float v[4]) {
  if (vec4) {
    *reinterpret_cast<float4*>(p + o) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (e < valid) p[o + e] = v[e];
  }
}

template <typename A, bool kLazy>
__global__ void __launch_bounds__(kBlock) rows_kernel(A f, RowsParams p) {
  const int64_t j0 = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * 4;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * p.per_chunk;
  const int64_t r1 = r0 + p.per_chunk < p.rows ? r0 + p.per_chunk : p.rows;
  const int valid = j0 < p.cols ? static_cast<int>(p.cols - j0 < 4 ? p.cols - j0 : 4) : 0;
  const bool sums = p.part || p.dbias;
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  if (valid > 0) {
    for (int64_t r = r0 + threadIdx.y; r < r1; r += blockDim.y) {
      const int64_t o = r * p.cols + j0;
      float dy[4], d[4];
      load4(p.dy, o, valid, p.vec4, dy);
      if (kLazy) {
        float z[4], g[4];
        load4(p.z, o, valid, p.vec4, z);
        load4(p.gate, o, valid, p.vec4, g);
        if (p.dgate) {
          float dg[4];
#pragma unroll
          for (int e = 0; e < 4; ++e) gw::gfc::lazy_dz_dgate(f, p.s, dy[e], z[e], g[e], d[e], dg[e]);
          store4(p.dgate, o, valid, p.vec4, dg);
        } else {
#pragma unroll
          for (int e = 0; e < 4; ++e) d[e] = gw::gfc::lazy_dz(f, p.s, dy[e], z[e], g[e]);
        }
        store4(p.dz, o, valid, p.vec4, d);
      } else if (p.dz) {
        float z[4];
        load4(p.z, o, valid, p.vec4, z);
#pragma unroll
        for (int e = 0; e < 4; ++e) d[e] = gw::gfc::eager_dz(f, dy[e], z[e]);
        store4(p.dz, o, valid, p.vec4, d);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) d[e] = dy[e];
      }
      if (sums) {
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[e] += d[e];
      }
    }
  }
  if (!sums) return;  // uniform over the block: no thread reaches the barrier below
  GW_SHARED(float[kBlock * 4], sm);
  const int t = threadIdx.y * blockDim.x + threadIdx.x;
#pragma unroll
  for (int e = 0; e < 4; ++e) sm[t * 4 + e] = acc[e];
  __syncthreads();
  if (threadIdx.y == 0) {
    for (int e = 0; e < valid; ++e) {
      double s = 0;
      for (unsigned y = 0; y < blockDim.y; ++y) s += sm[(y * blockDim.x + threadIdx.x) * 4 + e];
      if (p.part) p.part[blockIdx.y * p.cols + j0 + e] = s;
      else p.dbias[j0 + e] += static_cast<float>(s);
    }
  }
}

__global__ void bias_finish_kernel(const double* __restrict__ part, int64_t chunks, int64_t cols,
                                   float* __restrict__ dbias) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < cols; j += stride) {
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += part[c * cols + j];
    dbias[j] += static_cast<float>(s);
  }
}

}  // namespace

// ---- launchers

namespace {

bool aligned(const void* p) { return !p || gw::is_aligned16(p); }

void scaled_product(float s, const float* g, const float* x, float* out, int64_t n, gw::Stream stream) {
  if (n == 0) return;
  const bool vec4 = aligned(g) && aligned(x) && aligned(out);
  gw::launch<scaled_product_kernel>(gw::grid_for(vec4 ? (n + 3) / 4 : n), kBlock, 0, stream, s, g, x, out, n, vec4);
}

void gate_input_backward(float s, const float* gate, const float* x, const float* dxg, float* dx, float* dgate,
                         int64_t n, gw::Stream stream) {
  if (n == 0) return;
  const bool vec4 = aligned(gate) && aligned(x) && aligned(dxg) && aligned(dx) && aligned(dgate);
  gw::launch<gate_input_bwd_kernel>(gw::grid_for(vec4 ? (n + 3) / 4 : n), kBlock, 0, stream, s, gate, x, dxg, dx, dgate,
                                    n, vec4);
}

/// The rows pass (see rows_kernel); gate null = eager. dbias may be null.
void rows_pass(const gw::GatedFcArgs& a, const float* dy, const float* z, const float* gate, float* dz, float* dgate,
               float* dbias, gw::Stream stream) {
  const int64_t rows = a.rows, cols = a.out;
  if (rows == 0 || cols == 0) return;
  if (!gate && !dz && !dbias) return;
  // (tx, ty): tx threads of 4 columns each across a row (tx a power of two ≤ 32), ty rows.
  int tx = 1;
  while (tx < 32 && 4 * tx < cols) tx *= 2;
  const int ty = kBlock / tx;
  const int64_t col_blocks = (cols + 4 * tx - 1) / (4 * tx);
  const int64_t want_chunks = std::max<int64_t>(1, kTargetBlocks / col_blocks);
  int64_t per_chunk = std::max<int64_t>((rows + want_chunks - 1) / want_chunks, 4 * ty);
  per_chunk = std::max<int64_t>(per_chunk, (rows + 65534) / 65535);
  const int64_t chunks = (rows + per_chunk - 1) / per_chunk;
  GW_CHECK(col_blocks <= 2147483647LL, kArgument, "gated_fc: ", cols, " output units are too many for one launch");

  gw::DeviceScratch<double> part(dbias && chunks > 1 ? static_cast<size_t>(chunks * cols) : 0);
  RowsParams p{};
  p.dy = dy, p.z = z, p.gate = gate, p.dz = dz, p.dgate = dgate;
  p.part = dbias && chunks > 1 ? part.get() : nullptr;
  p.dbias = dbias && chunks == 1 ? dbias : nullptr;
  p.rows = rows, p.cols = cols, p.per_chunk = per_chunk, p.s = a.scale, p.slope = a.leaky_slope;
  p.vec4 = cols % 4 == 0 && aligned(dy) && aligned(z) && aligned(gate) && aligned(dz) && aligned(dgate);
  const dim3 grid(static_cast<unsigned>(col_blocks), static_cast<unsigned>(chunks));
  const dim3 block(static_cast<unsigned>(tx), static_cast<unsigned>(ty));
  gw::with_act(a.act, a.leaky_slope, [&](auto f) {
    if (gate) gw::launch<rows_kernel<decltype(f), true>>(grid, block, 0, stream, f, p);
    else gw::launch<rows_kernel<decltype(f), false>>(grid, block, 0, stream, f, p);
  });
  if (p.part) {
    gw::launch<bias_finish_kernel>(gw::grid_for(cols), kBlock, 0, stream, p.part, chunks, cols, dbias);
  }
}

}  // namespace

namespace gw::cuda {

void gated_fc_forward(const GatedFcArgs& a, const GatedFcOut& o, Stream stream) {
  gfc::check_forward(a, o);
  const bool eager = a.placement == GatePlacement::kEager;
  if (eager) scaled_product(a.scale, a.gate, a.x, o.xg, a.rows * a.in, stream);
  gemm(gfc::forward_gemm(a, eager ? o.xg : a.x, o.y, o.z), stream);
}

void gated_fc_backward(const GatedFcArgs& a, const GatedFcGrads& g, Stream stream) {
  const bool identity_dz = gfc::check_backward(a, g);  // dz is dy itself
  const bool eager = a.placement == GatePlacement::kEager;
  const bool want_dz = g.dx || g.dweight || g.dgate;  // eager: dgate comes from dz·W
  if (!want_dz && !g.dbias) return;
  DeviceScratch<float> dz_buf(identity_dz ? 0 : static_cast<size_t>(a.rows * a.out));
  const float* dz = identity_dz ? g.dy : dz_buf.get();

  if (!eager) {
    rows_pass(a, g.dy, g.z, a.gate, dz_buf.get(), g.dgate, g.dbias, stream);
    if (g.dx) gemm(gfc::input_grad_gemm(a, dz, g.dx, nullptr), stream);
    if (g.dweight) gemm(gfc::weight_grad_gemm(a, dz, a.x, g.dweight), stream);
    return;
  }
  rows_pass(a, g.dy, g.z, nullptr, identity_dz ? nullptr : dz_buf.get(), nullptr, g.dbias, stream);
  if (g.dweight) gemm(gfc::weight_grad_gemm(a, dz, g.xg, g.dweight), stream);
  if (!g.dgate) {  // dx = C·gate ⊙ (dz·W) in the GEMM's epilogue
    if (g.dx) gemm(gfc::input_grad_gemm(a, dz, g.dx, a.gate), stream);
    return;
  }
  DeviceScratch<float> dxg(static_cast<size_t>(a.rows * a.in));
  gemm(gfc::input_grad_gemm(a, dz, dxg.get(), nullptr), stream);
  if (g.dx) gate_input_backward(a.scale, a.gate, a.x, dxg.get(), g.dx, g.dgate, a.rows * a.in, stream);
  else scaled_product(a.scale, a.x, dxg.get(), g.dgate, a.rows * a.in, stream);
}

}  // namespace gw::cuda
