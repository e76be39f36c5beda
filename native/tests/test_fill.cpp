// fill — CPU against the obvious answer; CUDA against CPU.
#include "harness.h"
#include "ops/fill/fill.h"

GW_TEST(fill_cpu) {
  std::vector<float> out = gwtest::poisoned(100003);
  gw::cpu::fill(out.data(), 2.5f, static_cast<int64_t>(out.size()));
  gwtest::expect_close(out, std::vector<float>(out.size(), 2.5f), 0, 0, "fill cpu");
}

#ifdef GW_WITH_CUDA
GW_TEST(fill_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  const int64_t n = 1000003;
  gwtest::DeviceArray<float> d(n);
  d.poison();
  gw::cuda::fill(d.get(), -1.25f, n, gw::cudart::compute_stream());
  std::vector<float> want(n);
  gw::cpu::fill(want.data(), -1.25f, n);
  gwtest::expect_close(d.download(), want, 0, 0, "fill cuda");
}
#endif
