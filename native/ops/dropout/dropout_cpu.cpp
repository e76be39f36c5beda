// dropout — CPU twin. See dropout.h. Random words are generated a chunk at a time by a
// loop the compiler can vectorize across counters, then applied element-wise.
#include <algorithm>

#include "../../core/error.h"
#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "dropout.h"
#include "philox.h"

namespace gw::cpu {

namespace {

constexpr int64_t kChunk = 1024;  ///< elements per generated chunk (a multiple of 4)

/// words[4k + j] = word j of counter (c0 + k), k < groups.
GW_CPU_CLONES void philox_words(uint64_t seed, uint64_t c0, int64_t groups, uint32_t* GW_RESTRICT words) {
  for (int64_t k = 0; k < groups; ++k) {
    philox::U32x4 r = philox::block(seed, c0 + static_cast<uint64_t>(k));
    words[4 * k + 0] = r.v[0];
    words[4 * k + 1] = r.v[1];
    words[4 * k + 2] = r.v[2];
    words[4 * k + 3] = r.v[3];
  }
}

/// Calls body(lo, count, words) for chunks [lo, lo + count) with the chunk's random words.
template <typename Body>
void for_each_chunk(int64_t n, uint64_t seed, uint64_t offset, Body body) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(0, chunks, 4, [&](int64_t c_lo, int64_t c_hi) {
    alignas(64) uint32_t words[kChunk];
    for (int64_t c = c_lo; c < c_hi; ++c) {
      const int64_t lo = c * kChunk, count = std::min(kChunk, n - lo);
      philox_words(seed, offset + static_cast<uint64_t>(lo / 4), (count + 3) / 4, words);
      body(lo, count, words);
    }
  });
}

GW_CPU_CLONES void apply_dropout(const float* GW_RESTRICT x, const uint32_t* GW_RESTRICT words, float p, float scale,
                                 float* GW_RESTRICT out, uint8_t* GW_RESTRICT mask, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    bool keep = philox::to_uniform(words[i]) >= p;
    out[i] = keep ? x[i] * scale : 0.0f;
    mask[i] = keep ? 1 : 0;
  }
}

GW_CPU_CLONES void apply_backward(const float* GW_RESTRICT gy, const uint8_t* GW_RESTRICT mask, float scale,
                                  float* GW_RESTRICT gx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gx[i] = mask[i] ? gy[i] * scale : 0.0f;
}

void check_p(float p) {
  GW_CHECK(p >= 0.0f && p <= 1.0f, kArgument, "Expected a probability in [0, 1] for p but received ", p);
}

}  // namespace

void dropout_forward(const float* x, float* out, uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t offset) {
  check_p(p);
  const float scale = dropout_detail::keep_scale(p);
  for_each_chunk(n, seed, offset, [&](int64_t lo, int64_t count, const uint32_t* words) {
    apply_dropout(x + lo, words, p, scale, out + lo, mask + lo, count);
  });
}

void dropout_backward(const float* gy, const uint8_t* mask, float* gx, int64_t n, float p) {
  check_p(p);
  const float scale = dropout_detail::keep_scale(p);
  parallel_for(0, n, 1 << 15, [&](int64_t lo, int64_t hi) { apply_backward(gy + lo, mask + lo, scale, gx + lo, hi - lo); });
}

void philox_uniform(uint64_t seed, uint64_t offset, float* out, int64_t n) {
  for_each_chunk(n, seed, offset, [&](int64_t lo, int64_t count, const uint32_t* words) {
    for (int64_t i = 0; i < count; ++i) out[lo + i] = philox::to_uniform(words[i]);
  });
}

void bernoulli_mask(float p, uint64_t seed, uint64_t offset, uint8_t* mask, int64_t n) {
  check_p(p);
  for_each_chunk(n, seed, offset, [&](int64_t lo, int64_t count, const uint32_t* words) {
    for (int64_t i = 0; i < count; ++i) mask[lo + i] = philox::to_uniform(words[i]) >= p ? 1 : 0;
  });
}

}  // namespace gw::cpu
