// gatewise native tests — a tiny harness (no dependencies). Each test_<op>.cpp defines
// GW_TEST(name) { ... } cases; they check the CPU twin against a float64 reference (runs
// anywhere) and the CUDA kernel against the CPU twin (skipped, with the reason printed,
// when no GPU is present). Output buffers are poisoned with NaN before each run so that
// unwritten elements show.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/cuda_runtime.h"
#include "core/dtype.h"
#include "core/error.h"

namespace gwtest {

struct Case {
  const char* name;
  void (*fn)();
};
std::vector<Case>& registry();
struct Reg {
  Reg(const char* n, void (*f)()) { registry().push_back({n, f}); }
};
struct Skip : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#define GW_TEST(name)                                     \
  static void name();                                     \
  static ::gwtest::Reg name##_reg_(#name, name);          \
  static void name()

inline bool has_cuda() { return gw::cudart::device_count() > 0; }

/// Built for the emulated CUDA device (GW_CUDA=EMU, native/emu/): kernels run on the CPU, so
/// the few GPU-sized shapes shrink to the smallest that still take the same code paths.
#ifdef GW_CUDA_EMU
constexpr bool kEmulated = true;
#else
constexpr bool kEmulated = false;
#endif
#define GW_REQUIRE_CUDA() \
  if (!::gwtest::has_cuda()) throw ::gwtest::Skip(gw::cudart::unavailable_reason())

#define GW_EXPECT(cond, ...)                                                                    \
  do {                                                                                          \
    if (!(cond)) throw ::gwtest::Failure(std::string(__FILE__ ":") + std::to_string(__LINE__) + \
                                         ": " #cond " " + gw::detail::cat(__VA_ARGS__));        \
  } while (0)

/// Uniform floats in [lo, hi), from a fixed seed.
inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

/// Fails unless |got - want| <= atol + rtol*|want| everywhere (NaN always fails).
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rtol, double atol,
                  const char* what);
void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rtol, double atol,
                  const char* what);

/// Fails unless every element is still NaN: an output that was not asked for stayed unwritten.
inline void expect_all_nan(const std::vector<float>& v, const std::string& what) {
  for (size_t i = 0; i < v.size(); ++i) GW_EXPECT(std::isnan(v[i]), what, ": element ", i, " was written though not asked for");
}

/// A device buffer for tests: upload from / download to std::vector.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n), p_(static_cast<T*>(gw::mem_alloc(gw::Device::kCuda, bytes()))) {}
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }
  ~DeviceArray() { gw::mem_free(gw::Device::kCuda, p_, bytes()); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return p_; }
  size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    GW_CHECK(host.size() == n_, kInternal, "DeviceArray::upload of ", host.size(), " elements into ", n_);
    gw::cudart::memcpy_h2d(p_, host.data(), n_ * sizeof(T), gw::cudart::compute_stream());
  }
  std::vector<T> download() const {
    std::vector<T> h(n_);
    gw::cudart::memcpy_d2h(h.data(), p_, n_ * sizeof(T), gw::cudart::compute_stream());
    return h;
  }
  /// Fills every byte with 0xFF (NaN for floats, -1 for ints) so unwritten elements show.
  void poison() { gw::cudart::memset_device(p_, 0xFF, bytes(), gw::cudart::compute_stream()); }

 private:
  size_t bytes() const { return n_ * sizeof(T) == 0 ? 1 : n_ * sizeof(T); }
  size_t n_;
  T* p_;
};

/// A host vector filled with NaN.
inline std::vector<float> poisoned(size_t n) { return std::vector<float>(n, std::nanf("")); }

}  // namespace gwtest
