// moe — CUDA kernels. See moe.h; the CPU twin (moe_cpu.cpp) is the readable spec.
//   gate:     one warp per gate row; lanes walk the experts (three passes over E: draws and
//             max, sum, write — the Philox words are recomputed rather than stored).
//   combine:  forward, one thread per (sample, unit) producing every task's output (tasks in
//             register chunks of 4, experts in order); backward, one warp per (sample, expert):
//             the T dot products ⟨x, dout_t⟩ reduce across the warp (dg, dpg) and the same warp
//             writes dx[e, b, :]. No atomics anywhere: deterministic.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/cuda_warp.cuh"
#include "../../core/launch.cuh"
#include "moe.h"
#include "moe_math.h"

namespace {

constexpr int kBlock = 256;
constexpr int kWarps = kBlock / 32;
constexpr int kTaskChunk = 4;

// ---- kernels

__global__ void __launch_bounds__(kBlock) gate_kernel(gw::MoeGateArgs a) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * kWarps;
  const int64_t E = a.experts;
  for (int64_t r = blockIdx.x * static_cast<int64_t>(kWarps) + threadIdx.x / 32; r < a.rows; r += warps) {
    const float* z = a.logits + r * E;
    int kept = 0;
    float m = -INFINITY, best_u = -1.f;
    int64_t best = E;
    for (int64_t j = lane; j < E; j += 32) {
      const float u = a.p > 0.f ? gw::moe::gate_uniform(a, r, j) : 1.f;
      if (u >= a.p) ++kept, m = fmaxf(m, z[j]);
      if (u > best_u) best_u = u, best = j;
    }
    kept = gw::warp_sum(kept);
    m = gw::warp_max(m);
    // the largest u of the row, the smallest j on a tie
    for (int o = 16; o > 0; o >>= 1) {
      const float ou = __shfl_xor_sync(gw::kFullWarp, best_u, o);
      const int64_t oj = __shfl_xor_sync(gw::kFullWarp, best, o);
      if (ou > best_u || (ou == best_u && oj < best)) best_u = ou, best = oj;
    }
    if (kept == 0) m = z[best];
    auto keeps = [&](int64_t j) {
      return kept == 0 ? j == best : (a.p > 0.f ? gw::moe::gate_uniform(a, r, j) : 1.f) >= a.p;
    };
    float sum = 0.f;
    for (int64_t j = lane; j < E; j += 32)
      if (keeps(j)) sum += expf(z[j] - m);
    const float inv = 1.f / gw::warp_sum(sum);
    for (int64_t j = lane; j < E; j += 32) {
      const bool k = keeps(j);
      a.gates[r * E + j] = k ? expf(z[j] - m) * inv : 0.f;
      if (a.keep) a.keep[r * E + j] = k;
    }
  }
}

__global__ void __launch_bounds__(kBlock) combine_forward_kernel(gw::MoeCombineArgs a, float* out) {
  const int64_t E = a.experts, B = a.batch, T = a.tasks, H = a.hidden;
  const int64_t n = B * H, stride = static_cast<int64_t>(gridDim.x) * kBlock;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kBlock) + threadIdx.x; i < n; i += stride) {
    const int64_t b = i / H, h = i % H;
    for (int64_t t0 = 0; t0 < T; t0 += kTaskChunk) {
      float acc[kTaskChunk] = {0.f, 0.f, 0.f, 0.f};
      for (int64_t e = 0; e < E; ++e) {
        const float xv = a.x[gw::moe::combine_row(a, e, b) + h];
        const float pg = a.pg ? a.pg[b * E + e] : 1.f;
#pragma unroll
        for (int c = 0; c < kTaskChunk; ++c)
          if (t0 + c < T) acc[c] = fmaf(a.scale * a.g[(b * T + t0 + c) * E + e] * pg, xv, acc[c]);
      }
#pragma unroll
      for (int c = 0; c < kTaskChunk; ++c)
        if (t0 + c < T) out[((t0 + c) * B + b) * H + h] = acc[c];
    }
  }
}

__global__ void __launch_bounds__(kBlock) combine_backward_kernel(gw::MoeCombineArgs a, gw::MoeCombineGrads g) {
  const int lane = threadIdx.x & 31;
  const int64_t E = a.experts, B = a.batch, T = a.tasks, H = a.hidden;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t w = blockIdx.x * static_cast<int64_t>(kWarps) + threadIdx.x / 32; w < B * E; w += warps) {
    const int64_t b = w / E, e = w % E;
    const float* x = a.x + gw::moe::combine_row(a, e, b);
    const float pg = a.pg ? a.pg[b * E + e] : 1.f;
    if (g.dg || g.dpg) {
      float dpg = 0.f;
      for (int64_t t = 0; t < T; ++t) {
        const float* dout = g.dout + (t * B + b) * H;
        float s = 0.f;
        for (int64_t h = lane; h < H; h += 32) s = fmaf(x[h], dout[h], s);
        s = gw::warp_sum(s);
        if (g.dg && lane == 0) g.dg[(b * T + t) * E + e] = a.scale * pg * s;
        dpg = fmaf(a.g[(b * T + t) * E + e], s, dpg);
      }
      if (g.dpg && lane == 0) g.dpg[b * E + e] = a.scale * dpg;
    }
    if (g.dx) {
      float* dx = g.dx + gw::moe::combine_row(a, e, b);
      for (int64_t h = lane; h < H; h += 32) {
        float acc = 0.f;
        for (int64_t t = 0; t < T; ++t)
          acc = fmaf(a.scale * pg * a.g[(b * T + t) * E + e], g.dout[(t * B + b) * H + h], acc);
        dx[h] = acc;
      }
    }
  }
}

unsigned warp_grid(int64_t warps) {
  return static_cast<unsigned>(std::min<int64_t>((warps + kWarps - 1) / kWarps, 1 << 20));
}

}  // namespace

// ---- launchers

namespace gw::cuda {

void moe_gate_forward(const MoeGateArgs& args, Stream stream) {
  moe::check_gate(args);
  if (args.rows == 0) return;
  gw::launch<gate_kernel>(warp_grid(args.rows), kBlock, 0, stream, args);
}

void moe_combine_forward(const MoeCombineArgs& args, float* out, Stream stream) {
  moe::check_combine(args, "moe_combine_forward");
  GW_CHECK(args.batch == 0 || out, kArgument, "moe_combine_forward: null out");
  const int64_t n = args.batch * args.hidden;
  if (n == 0) return;
  gw::launch<combine_forward_kernel>(grid_for(n, kBlock), kBlock, 0, stream, args, out);
}

void moe_combine_backward(const MoeCombineArgs& args, const MoeCombineGrads& grads, Stream stream) {
  moe::check_combine_grads(args, grads);
  if (args.batch == 0 || (!grads.dx && !grads.dg && !grads.dpg)) return;
  gw::launch<combine_backward_kernel>(warp_grid(args.batch * args.experts), kBlock, 0, stream, args, grads);
}

}  // namespace gw::cuda
