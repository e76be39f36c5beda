// dropout — CUDA. See dropout.h. One thread per Philox counter (4 elements): one 10-round
// Philox call, then a float4 load/store and a 4-byte mask store when the pointers allow,
// scalar accesses otherwise and for the ragged tail.
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/error.h"
#include "../../core/launch.cuh"
#include "dropout.h"
#include "philox.h"

namespace {
constexpr int kBlock = 256;

bool aligned(const void* p, uintptr_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }
}  // namespace

// ---- kernels

__global__ void dropout_forward_kernel(const float* __restrict__ x, float* __restrict__ out,
                                       uint8_t* __restrict__ mask, int64_t n, float p, float scale, uint64_t seed,
                                       uint64_t offset, bool vec) {
  const int64_t groups = (n + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; g < groups; g += stride) {
    const gw::philox::U32x4 r = gw::philox::block(seed, offset + static_cast<uint64_t>(g));
    const int64_t base = 4 * g;
    if (vec && base + 4 <= n) {
      const float4 v = *reinterpret_cast<const float4*>(x + base);
      const bool k0 = gw::philox::to_uniform(r.v[0]) >= p, k1 = gw::philox::to_uniform(r.v[1]) >= p;
      const bool k2 = gw::philox::to_uniform(r.v[2]) >= p, k3 = gw::philox::to_uniform(r.v[3]) >= p;
      *reinterpret_cast<float4*>(out + base) =
          make_float4(k0 ? v.x * scale : 0.f, k1 ? v.y * scale : 0.f, k2 ? v.z * scale : 0.f, k3 ? v.w * scale : 0.f);
      *reinterpret_cast<uchar4*>(mask + base) = make_uchar4(k0, k1, k2, k3);
    } else {
      for (int j = 0; j < 4 && base + j < n; ++j) {
        const bool keep = gw::philox::to_uniform(r.v[j]) >= p;
        out[base + j] = keep ? x[base + j] * scale : 0.f;
        mask[base + j] = keep ? 1 : 0;
      }
    }
  }
}

__global__ void dropout_backward_kernel(const float* __restrict__ gy, const uint8_t* __restrict__ mask,
                                        float* __restrict__ gx, int64_t n, float scale, bool vec) {
  const int64_t groups = (n + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; g < groups; g += stride) {
    const int64_t base = 4 * g;
    if (vec && base + 4 <= n) {
      const float4 v = *reinterpret_cast<const float4*>(gy + base);
      const uchar4 m = *reinterpret_cast<const uchar4*>(mask + base);
      *reinterpret_cast<float4*>(gx + base) = make_float4(m.x ? v.x * scale : 0.f, m.y ? v.y * scale : 0.f,
                                                          m.z ? v.z * scale : 0.f, m.w ? v.w * scale : 0.f);
    } else {
      for (int j = 0; j < 4 && base + j < n; ++j) gx[base + j] = mask[base + j] ? gy[base + j] * scale : 0.f;
    }
  }
}

/// kind 0: out[i] = u_i; kind 1: mask[i] = u_i ≥ p.
__global__ void philox_fill_kernel(float* __restrict__ out, uint8_t* __restrict__ mask, int64_t n, float p,
                                   uint64_t seed, uint64_t offset, bool vec) {
  const int64_t groups = (n + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; g < groups; g += stride) {
    const gw::philox::U32x4 r = gw::philox::block(seed, offset + static_cast<uint64_t>(g));
    const int64_t base = 4 * g;
    float u[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) u[j] = gw::philox::to_uniform(r.v[j]);
    if (vec && base + 4 <= n) {
      if (out) *reinterpret_cast<float4*>(out + base) = make_float4(u[0], u[1], u[2], u[3]);
      else *reinterpret_cast<uchar4*>(mask + base) = make_uchar4(u[0] >= p, u[1] >= p, u[2] >= p, u[3] >= p);
    } else {
      for (int j = 0; j < 4 && base + j < n; ++j) {
        if (out) out[base + j] = u[j];
        else mask[base + j] = u[j] >= p ? 1 : 0;
      }
    }
  }
}

// ---- launchers

namespace gw::cuda {

namespace {
void check_p(float p) {
  GW_CHECK(p >= 0.0f && p <= 1.0f, kArgument, "Expected a probability in [0, 1] for p but received ", p);
}
}  // namespace

void dropout_forward(const float* x, float* out, uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t offset,
                     Stream stream) {
  check_p(p);
  if (n == 0) return;
  const bool vec = aligned(x, 16) && aligned(out, 16) && aligned(mask, 4);
  gw::launch<dropout_forward_kernel>(grid_for((n + 3) / 4), kBlock, 0, stream, x, out, mask, n, p,
                                     dropout_detail::keep_scale(p), seed, offset, vec);
}

void dropout_backward(const float* gy, const uint8_t* mask, float* gx, int64_t n, float p, Stream stream) {
  check_p(p);
  if (n == 0) return;
  const bool vec = aligned(gy, 16) && aligned(gx, 16) && aligned(mask, 4);
  gw::launch<dropout_backward_kernel>(grid_for((n + 3) / 4), kBlock, 0, stream, gy, mask, gx, n,
                                      dropout_detail::keep_scale(p), vec);
}

void philox_uniform(uint64_t seed, uint64_t offset, float* out, int64_t n, Stream stream) {
  if (n == 0) return;
  gw::launch<philox_fill_kernel>(grid_for((n + 3) / 4), kBlock, 0, stream, out, nullptr, n, 0.f, seed, offset,
                                 aligned(out, 16));
}

void bernoulli_mask(float p, uint64_t seed, uint64_t offset, uint8_t* mask, int64_t n, Stream stream) {
  check_p(p);
  if (n == 0) return;
  gw::launch<philox_fill_kernel>(grid_for((n + 3) / 4), kBlock, 0, stream, nullptr, mask, n, p, seed, offset,
                                 aligned(mask, 4));
}

}  // namespace gw::cuda
