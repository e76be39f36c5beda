// dropout — Philox against the published Random123 known-answer vectors; the CPU twin
// against a direct reference and basic statistics; CUDA against CPU bit for bit.
#include <cstring>

#include "harness.h"
#include "ops/dropout/dropout.h"
#include "ops/dropout/philox.h"

namespace {

// Random123 tests/kat_vectors, philox4x32 10: counter words, key words → output words.
struct Kat {
  uint32_t ctr[4], key[2], out[4];
};
const Kat kKats[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

/// u_i by the definition in philox.h, computed element by element.
float reference_uniform(uint64_t seed, uint64_t offset, int64_t i) {
  gw::philox::U32x4 r = gw::philox::block(seed, offset + static_cast<uint64_t>(i / 4));
  return static_cast<float>(static_cast<double>(r.v[i % 4] >> 8) / 16777216.0);
}

const int64_t kSizes[] = {1, 7, 33, 1000, 100003};

}  // namespace

GW_TEST(philox_known_answers) {
  for (const Kat& k : kKats) {
    gw::philox::U32x4 c{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}};
    gw::philox::U32x4 r = gw::philox::philox4x32_10(c, k.key[0], k.key[1]);
    for (int j = 0; j < 4; ++j) GW_EXPECT(r.v[j] == k.out[j], "word ", j, " is ", r.v[j], ", want ", k.out[j]);
  }
  // block() packs a 64-bit counter index and a 64-bit seed into the same words.
  gw::philox::U32x4 r = gw::philox::block(0xffffffffffffffffull, 0xffffffffffffffffull);
  gw::philox::U32x4 w = gw::philox::philox4x32_10({{0xffffffff, 0xffffffff, 0, 0}}, 0xffffffff, 0xffffffff);
  for (int j = 0; j < 4; ++j) GW_EXPECT(r.v[j] == w.v[j], "block() word ", j);
}

GW_TEST(philox_uniform_cpu) {
  const uint64_t seed = 0x123456789abcdefull, offset = 42;
  for (int64_t n : kSizes) {
    std::vector<float> u = gwtest::poisoned(n);
    gw::cpu::philox_uniform(seed, offset, u.data(), n);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      GW_EXPECT(u[i] == reference_uniform(seed, offset, i), "u[", i, "] = ", u[i]);
      GW_EXPECT(u[i] >= 0.f && u[i] < 1.f, "u[", i, "] = ", u[i]);
      sum += u[i];
    }
    if (n >= 100000) GW_EXPECT(std::fabs(sum / n - 0.5) < 0.005, "mean ", sum / n);
  }
  // Advancing the offset by one counter shifts the stream by four elements.
  std::vector<float> a(64), b(60);
  gw::cpu::philox_uniform(seed, offset, a.data(), 64);
  gw::cpu::philox_uniform(seed, offset + 1, b.data(), 60);
  for (int i = 0; i < 60; ++i) GW_EXPECT(a[i + 4] == b[i], "offset shift at ", i);
}

GW_TEST(dropout_forward_backward_cpu) {
  const uint64_t seed = 7;
  for (float p : {0.f, 0.1f, 0.5f, 1.f})
    for (int64_t n : kSizes) {
      auto x = gwtest::random_floats(n, 1);
      std::vector<float> out = gwtest::poisoned(n);
      std::vector<uint8_t> mask(n, 0xEE);
      gw::cpu::dropout_forward(x.data(), out.data(), mask.data(), n, p, seed, 3);
      std::vector<double> want(n);
      int64_t kept = 0;
      for (int64_t i = 0; i < n; ++i) {
        bool keep = reference_uniform(seed, 3, i) >= p;
        GW_EXPECT(mask[i] == (keep ? 1 : 0), "mask[", i, "] = ", int(mask[i]));
        want[i] = keep ? double(x[i]) / (1.0 - p) : 0.0;
        kept += keep;
      }
      gwtest::expect_close(out, want, 1e-6, 0, "dropout forward cpu");
      if (n >= 100000) GW_EXPECT(std::fabs(double(kept) / n - (1.0 - p)) < 0.01, "kept fraction ", double(kept) / n);
      auto gy = gwtest::random_floats(n, 2);
      std::vector<float> gx = gwtest::poisoned(n);
      gw::cpu::dropout_backward(gy.data(), mask.data(), gx.data(), n, p);
      for (int64_t i = 0; i < n; ++i) want[i] = mask[i] ? double(gy[i]) / (1.0 - p) : 0.0;
      gwtest::expect_close(gx, want, 1e-6, 0, "dropout backward cpu");
    }
}

GW_TEST(bernoulli_mask_cpu) {
  const int64_t n = 100003;
  std::vector<uint8_t> m(n, 0xEE);
  gw::cpu::bernoulli_mask(0.25f, 99, 5, m.data(), n);
  int64_t ones = 0;
  for (int64_t i = 0; i < n; ++i) {
    GW_EXPECT(m[i] == (reference_uniform(99, 5, i) >= 0.25f ? 1 : 0), "mask[", i, "]");
    ones += m[i];
  }
  GW_EXPECT(std::fabs(double(ones) / n - 0.75) < 0.01, "P(keep) ", double(ones) / n);
  bool threw = false;
  try {
    gw::cpu::bernoulli_mask(1.5f, 99, 5, m.data(), n);
  } catch (const gw::Error& e) {
    threw = e.code() == gw::ErrorCode::kArgument;
  }
  GW_EXPECT(threw, "p = 1.5 must be rejected");
}

#ifdef GW_WITH_CUDA
GW_TEST(dropout_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  const gw::Stream s = gw::cudart::compute_stream();
  const uint64_t seed = 0xfeedfacecafebeefull, offset = (1ull << 33) + 5;  // counters cross 2^32
  for (int64_t n : kSizes)
    for (int64_t skew : {0, 1}) {  // skew 1: misaligned views take the scalar path
      const int64_t m = n + skew;
      auto x = gwtest::random_floats(m, 3);
      std::vector<float> out(m);
      std::vector<uint8_t> mask(m);
      gw::cpu::dropout_forward(x.data() + skew, out.data() + skew, mask.data() + skew, n, 0.3f, seed, offset);
      gwtest::DeviceArray<float> dx(x), dout(m);
      gwtest::DeviceArray<uint8_t> dmask(m);
      dout.poison();
      dmask.poison();
      gw::cuda::dropout_forward(dx.get() + skew, dout.get() + skew, dmask.get() + skew, n, 0.3f, seed, offset, s);
      auto got = dout.download();
      auto gotm = dmask.download();
      gwtest::expect_close(std::vector<float>(got.begin() + skew, got.end()),
                           std::vector<float>(out.begin() + skew, out.end()), 0, 0, "dropout forward cuda");
      GW_EXPECT(std::memcmp(gotm.data() + skew, mask.data() + skew, n) == 0, "dropout mask cuda differs");

      auto gy = gwtest::random_floats(m, 4);
      std::vector<float> gx(m);
      gw::cpu::dropout_backward(gy.data() + skew, mask.data() + skew, gx.data() + skew, n, 0.3f);
      gwtest::DeviceArray<float> dgy(gy), dgx(m);
      dgx.poison();
      gw::cuda::dropout_backward(dgy.get() + skew, dmask.get() + skew, dgx.get() + skew, n, 0.3f, s);
      auto gotg = dgx.download();
      gwtest::expect_close(std::vector<float>(gotg.begin() + skew, gotg.end()),
                           std::vector<float>(gx.begin() + skew, gx.end()), 0, 0, "dropout backward cuda");

      std::vector<float> u(m);
      gw::cpu::philox_uniform(seed, offset, u.data() + skew, n);
      gwtest::DeviceArray<float> du(m);
      du.poison();
      gw::cuda::philox_uniform(seed, offset, du.get() + skew, n, s);
      auto gotu = du.download();
      gwtest::expect_close(std::vector<float>(gotu.begin() + skew, gotu.end()),
                           std::vector<float>(u.begin() + skew, u.end()), 0, 0, "philox_uniform cuda");

      std::vector<uint8_t> bm(m);
      gw::cpu::bernoulli_mask(0.6f, seed, offset, bm.data() + skew, n);
      gwtest::DeviceArray<uint8_t> dbm(m);
      dbm.poison();
      gw::cuda::bernoulli_mask(0.6f, seed, offset, dbm.get() + skew, n, s);
      GW_EXPECT(std::memcmp(dbm.download().data() + skew, bm.data() + skew, n) == 0, "bernoulli_mask cuda differs");
    }
}
#endif
