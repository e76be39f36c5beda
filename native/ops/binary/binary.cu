// binary — CUDA. See binary.h.
// Forward picks one of three kernels from the collapsed broadcast plan:
//   flat_kernel<Op, A, B>  one dim; each operand either linear (1) or a scalar (0);
//                          float4 loads/stores when every pointer is 16-byte aligned
//   bias_kernel<Op>        a (M, N) with b (N) (or the mirror image), float4 when N % 4 == 0
//   general_kernel<Op>     any plan: each element decomposes its index over ≤ 8 dims
// Backward writes out-shaped element-wise gradients (into ga/gb directly when that operand
// is not broadcast, else into scratch) and reduces them with sum_to_shape (deterministic).
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/launch.cuh"
#include "../reduce/reduce.h"
#include "../reduce/scratch.h"
#include "binary.h"
#include "binary_math.h"

// ---- kernels

namespace {

constexpr int kBlock = 256;

/// One collapsed dim: a[i·A], b[i·B] with A, B ∈ {0, 1}.
template <typename Op, int A, int B>
__global__ void flat_kernel(const float* a, const float* b, float* out, int64_t n, bool vec4) {
  Op f;
  int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t head = 0;
  if (vec4) {
    const float av = a[0], bv = b[0];
    int64_t n4 = n / 4;
    for (int64_t i = tid; i < n4; i += stride) {
      float4 x = A ? reinterpret_cast<const float4*>(a)[i] : make_float4(av, av, av, av);
      float4 y = B ? reinterpret_cast<const float4*>(b)[i] : make_float4(bv, bv, bv, bv);
      reinterpret_cast<float4*>(out)[i] = make_float4(f.fwd(x.x, y.x), f.fwd(x.y, y.y), f.fwd(x.z, y.z), f.fwd(x.w, y.w));
    }
    head = n4 * 4;
  }
  for (int64_t i = head + tid; i < n; i += stride) out[i] = f.fwd(a[i * A], b[i * B]);
}

/// full (M·N) with bias (N): out[i] = op(full[i], bias[i % N]) (or op(bias, full) when !kBiasIsB).
template <typename Op, bool kBiasIsB>
__global__ void bias_kernel(const float* full, const float* bias, float* out, int64_t n, int64_t cols, bool vec4) {
  Op f;
  int64_t tid = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  if (vec4) {  // cols % 4 == 0: four consecutive elements share a row
    int64_t n4 = n / 4;
    for (int64_t i = tid; i < n4; i += stride) {
      float4 x = reinterpret_cast<const float4*>(full)[i];
      float4 y = reinterpret_cast<const float4*>(bias)[(i * 4 % cols) / 4];
      float4 r = kBiasIsB ? make_float4(f.fwd(x.x, y.x), f.fwd(x.y, y.y), f.fwd(x.z, y.z), f.fwd(x.w, y.w))
                          : make_float4(f.fwd(y.x, x.x), f.fwd(y.y, x.y), f.fwd(y.z, x.z), f.fwd(y.w, x.w));
      reinterpret_cast<float4*>(out)[i] = r;
    }
    return;
  }
  for (int64_t i = tid; i < n; i += stride) {
    float x = full[i], y = bias[i % cols];
    out[i] = kBiasIsB ? f.fwd(x, y) : f.fwd(y, x);
  }
}

__device__ __forceinline__ void plan_offsets(const gw::BroadcastPlan& p, int64_t i, int64_t& oa, int64_t& ob) {
  oa = 0;
  ob = 0;
  for (int d = p.ndim - 1; d >= 0; --d) {
    int64_t q = i / p.size[d], c = i - q * p.size[d];
    oa += c * p.sa[d];
    ob += c * p.sb[d];
    i = q;
  }
}

template <typename Op>
__global__ void general_kernel(const float* a, const float* b, float* out, gw::BroadcastPlan p) {
  Op f;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.numel; i += stride) {
    int64_t oa, ob;
    plan_offsets(p, i, oa, ob);
    out[i] = f.fwd(a[oa], b[ob]);
  }
}

/// Out-shaped element-wise gradients; da / db may be null.
template <typename Op>
__global__ void grad_kernel(const float* __restrict__ g, const float* a, const float* b, const float* y,
                            gw::BroadcastPlan p, float* da, float* db) {
  Op f;
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.numel; i += stride) {
    int64_t oa, ob;
    plan_offsets(p, i, oa, ob);
    float av = a[oa], bv = b[ob];
    float yv = Op::kNeedsY ? (y ? y[i] : f.fwd(av, bv)) : 0.0f;
    float gv = g[i];
    if (da) da[i] = f.da(gv, av, bv, yv);
    if (db) db[i] = f.db(gv, av, bv, yv);
  }
}

}  // namespace

// ---- launchers

namespace gw::cuda {

void binary(BinaryOp op, const float* a, const Dims& a_shape, const float* b, const Dims& b_shape, float* out,
            Stream stream) {
  BroadcastPlan p = make_broadcast_plan(a_shape, b_shape);
  const int64_t n = p.numel;
  if (n == 0) return;
  with_binop(op, [&](auto fn) {
    using Op = decltype(fn);
    const int last = p.ndim - 1;
    bool al = is_aligned16(a), bl = is_aligned16(b), ol = is_aligned16(out);
    if (p.ndim <= 1) {
      int64_t sa = p.ndim ? p.sa[0] : 0, sb = p.ndim ? p.sb[0] : 0;
      bool vec4 = ol && (al || !sa) && (bl || !sb);
      unsigned grid = grid_for(vec4 ? (n + 3) / 4 : n);
      if (sa && sb) gw::launch<flat_kernel<Op, 1, 1>>(grid, kBlock, 0, stream, a, b, out, n, vec4);
      else if (sa) gw::launch<flat_kernel<Op, 1, 0>>(grid, kBlock, 0, stream, a, b, out, n, vec4);
      else if (sb) gw::launch<flat_kernel<Op, 0, 1>>(grid, kBlock, 0, stream, a, b, out, n, vec4);
      else gw::launch<flat_kernel<Op, 0, 0>>(grid, kBlock, 0, stream, a, b, out, n, vec4);
    } else if (p.ndim == 2 && p.sa[last] == 1 && p.sb[last] == 1 && (p.sa[0] == 0 || p.sb[0] == 0) &&
               p.sa[0] + p.sb[0] == p.size[last]) {
      // one operand is (M, N), the other (N): the bias case
      const int64_t cols = p.size[last];
      bool b_is_bias = p.sb[0] == 0;
      bool vec4 = cols % 4 == 0 && al && bl && ol;
      unsigned grid = grid_for(vec4 ? n / 4 : n);
      if (b_is_bias) gw::launch<bias_kernel<Op, true>>(grid, kBlock, 0, stream, a, b, out, n, cols, vec4);
      else gw::launch<bias_kernel<Op, false>>(grid, kBlock, 0, stream, b, a, out, n, cols, vec4);
    } else {
      gw::launch<general_kernel<Op>>(grid_for(n), kBlock, 0, stream, a, b, out, p);
    }
  });
}

void binary_backward(BinaryOp op, const float* gout, const float* a, const Dims& a_shape, const float* b,
                     const Dims& b_shape, const float* out, float* ga, float* gb, Stream stream) {
  BroadcastPlan p = make_broadcast_plan(a_shape, b_shape);
  Dims o_shape = broadcast_dims(a_shape, b_shape);
  if (op == BinaryOp::kAdd || op == BinaryOp::kSub) {
    if (ga) sum_to_shape(gout, o_shape, a_shape, ga, 1.0f, stream);
    if (gb) sum_to_shape(gout, o_shape, b_shape, gb, op == BinaryOp::kSub ? -1.0f : 1.0f, stream);
    return;
  }
  if (p.numel == 0) {  // nothing to differentiate; broadcast operands still get zeros
    if (ga) sum_to_shape(gout, o_shape, a_shape, ga, 1.0f, stream);
    if (gb) sum_to_shape(gout, o_shape, b_shape, gb, 1.0f, stream);
    return;
  }
  const bool a_full = a_shape.numel() == p.numel, b_full = b_shape.numel() == p.numel;
  const size_t na = ga && !a_full ? static_cast<size_t>(p.numel) : 0;
  const size_t nb = gb && !b_full ? static_cast<size_t>(p.numel) : 0;
  DeviceScratch<float> scratch(na + nb);
  float* da = na ? scratch.get() : ga;
  float* db = nb ? scratch.get() + na : gb;
  if (da || db) {
    with_binop(op, [&](auto fn) {
      using Op = decltype(fn);
      gw::launch<grad_kernel<Op>>(grid_for(p.numel), kBlock, 0, stream, gout, a, b, out, p, da, db);
    });
  }
  if (na) sum_to_shape(da, o_shape, a_shape, ga, 1.0f, stream);
  if (nb) sum_to_shape(db, o_shape, b_shape, gb, 1.0f, stream);
}

}  // namespace gw::cuda
