// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11; the
// Random123 reference), usable from host and device code. A counter-based generator: the
// 128-bit output is a pure function of (counter, key), so CPU and CUDA produce the same
// stream without sharing state.
//
// gatewise's convention (the same on both devices):
//   key     = {seed & 0xffffffff, seed >> 32}                       (64-bit seed)
//   counter = {c & 0xffffffff, c >> 32, 0, 0} with c = offset + i / 4  (element i)
//   bits    = output word i % 4
//   u       = (bits >> 8) · 2^-24 ∈ [0, 1)                          (24 exact bits)
// A call that draws n numbers consumes ceil(n / 4) counters: the caller advances `offset`
// by that much to get fresh numbers next time.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define GW_PHILOX_FN __host__ __device__ __forceinline__
#else
#define GW_PHILOX_FN inline
#endif

namespace gw::philox {

struct U32x4 {
  uint32_t v[4];
};

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  ///< round multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  ///< Weyl key increments

GW_PHILOX_FN void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
#if defined(__CUDA_ARCH__)
  lo = a * b;
  hi = __umulhi(a, b);
#else
  uint64_t p = static_cast<uint64_t>(a) * b;
  lo = static_cast<uint32_t>(p);
  hi = static_cast<uint32_t>(p >> 32);
#endif
}

/// Philox4x32 with 10 rounds on a 128-bit counter and 64-bit key.
GW_PHILOX_FN U32x4 philox4x32_10(U32x4 c, uint32_t k0, uint32_t k1) {
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kM0, c.v[0], hi0, lo0);
    mulhilo(kM1, c.v[2], hi1, lo1);
    c = U32x4{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
  }
  return c;
}

/// The four words for counter index `c` (= offset + i / 4) under `seed`.
GW_PHILOX_FN U32x4 block(uint64_t seed, uint64_t c) {
  U32x4 ctr{{static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), 0u, 0u}};
  return philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

/// u ∈ [0, 1) from the top 24 bits of one output word.
GW_PHILOX_FN float to_uniform(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

}  // namespace gw::philox
