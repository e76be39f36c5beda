// layout — CPU against naive references (exact: these ops only move or add values);
// CUDA against the CPU twin with poisoned outputs.
#include <cstring>
#include <memory>
#include <numeric>

#include "harness.h"
#include "ops/layout/layout.h"

namespace {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s) { return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<int64_t>()); }

/// Random bytes, so every element size sees distinct, non-zero patterns.
std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

/// out[j] = x[i] with i_{perm[k]} = j_k, by walking every input multi-index.
std::vector<uint8_t> naive_permute(const std::vector<uint8_t>& x, const Shape& shape, const std::vector<int>& perm,
                                   size_t es) {
  const int nd = static_cast<int>(shape.size());
  Shape out_shape(nd);
  for (int k = 0; k < nd; ++k) out_shape[k] = shape[perm[k]];
  std::vector<uint8_t> out(x.size());
  const int64_t n = numel(shape);
  std::vector<int64_t> idx(nd);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i;
    for (int d = nd - 1; d >= 0; --d) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    int64_t o = 0;
    for (int k = 0; k < nd; ++k) o = o * out_shape[k] + idx[perm[k]];
    std::memcpy(&out[o * es], &x[i * es], es);
  }
  return out;
}

struct PermuteCase {
  Shape shape;
  std::vector<int> perm;
};
const std::vector<PermuteCase>& permute_cases() {
  static const std::vector<PermuteCase> cases = {
      {{33, 1000}, {1, 0}},          {{1, 7}, {1, 0}},           {{7, 1}, {1, 0}},
      {{3, 33, 65}, {0, 2, 1}},      {{2, 3, 5, 7}, {3, 1, 0, 2}}, {{4, 1, 9, 2}, {2, 0, 3, 1}},
      {{5, 6, 7}, {0, 1, 2}},        {{6, 5, 4, 3}, {0, 1, 3, 2}}, {{3, 4, 5, 6}, {2, 3, 0, 1}},
      {{2, 2, 2, 2, 2, 3, 2, 3}, {7, 6, 5, 4, 3, 2, 1, 0}},       {{1000, 3, 7}, {2, 1, 0}},
      {{0, 5}, {1, 0}},              {{129, 257}, {1, 0}},
  };
  return cases;
}

void expect_equal_bytes(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want, const char* what) {
  GW_EXPECT(got.size() == want.size(), what, ": size ", got.size(), " vs ", want.size());
  for (size_t i = 0; i < got.size(); ++i)
    GW_EXPECT(got[i] == want[i], what, ": byte ", i, " is ", int(got[i]), ", want ", int(want[i]));
}

template <typename I>
std::vector<I> random_indices(int64_t n, int64_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<I> v(n);
  for (auto& i : v) i = static_cast<I>(rng() % rows);
  return v;
}

}  // namespace

GW_TEST(layout_permute_cpu) {
  uint64_t seed = 1;
  for (const auto& c : permute_cases())
    for (size_t es : {1, 4, 8}) {
      auto x = random_bytes(numel(c.shape) * es, seed++);
      std::vector<uint8_t> out(x.size(), 0xEE);
      gw::cpu::permute(x.data(), out.data(), c.shape.data(), c.perm.data(), static_cast<int>(c.shape.size()), es);
      expect_equal_bytes(out, naive_permute(x, c.shape, c.perm, es), "permute cpu");
    }
}

GW_TEST(layout_permute_rejects_bad_perm) {
  Shape s{2, 3};
  std::vector<int> perm{0, 0};
  float x[6], out[6];
  bool threw = false;
  try {
    gw::cpu::permute(x, out, s.data(), perm.data(), 2, 4);
  } catch (const gw::Error& e) {
    threw = e.code() == gw::ErrorCode::kArgument;
  }
  GW_EXPECT(threw, "a repeated perm entry must throw kArgument");
}

GW_TEST(layout_slice_concat_cpu) {
  // x (outer, axis, inner) split into three slices; concat of the slices is x again.
  for (Shape s : {Shape{7, 33, 5}, Shape{1, 10, 1}, Shape{1000, 9, 3}}) {
    const int64_t outer = s[0], axis = s[1], inner = s[2];
    auto xf = gwtest::random_floats(numel(s), 7);
    const int64_t lens[3] = {axis / 3, axis - axis / 3 - 1, 1};
    std::vector<std::vector<float>> parts;
    int64_t start = 0;
    for (int64_t len : lens) {
      std::vector<float> part = gwtest::poisoned(outer * len * inner), want(outer * len * inner);
      gw::cpu::slice_axis(xf.data(), part.data(), outer, axis, inner, start, len, 4);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t a = 0; a < len; ++a)
          for (int64_t r = 0; r < inner; ++r)
            want[(o * len + a) * inner + r] = xf[(o * axis + start + a) * inner + r];
      gwtest::expect_close(part, want, 0, 0, "slice_axis cpu");
      parts.push_back(part);
      start += len;
    }
    const void* ptrs[3] = {parts[0].data(), parts[1].data(), parts[2].data()};
    std::vector<float> cat = gwtest::poisoned(xf.size());
    gw::cpu::concat(ptrs, lens, 3, cat.data(), outer, inner, 4);
    gwtest::expect_close(cat, xf, 0, 0, "concat cpu");
  }
}

GW_TEST(layout_slice_backward_accumulates_cpu) {
  const int64_t outer = 33, axis = 17, inner = 7, start = 5, len = 9;
  auto gout = gwtest::random_floats(outer * len * inner, 3);
  auto gx = gwtest::random_floats(outer * axis * inner, 4);
  std::vector<double> want(gx.begin(), gx.end());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t a = 0; a < len; ++a)
      for (int64_t r = 0; r < inner; ++r)
        want[(o * axis + start + a) * inner + r] += gout[(o * len + a) * inner + r];
  gw::cpu::slice_axis_backward(gout.data(), gx.data(), outer, axis, inner, start, len);
  gwtest::expect_close(gx, want, 1e-6, 1e-7, "slice_axis_backward cpu");
}

GW_TEST(layout_index_select_cpu) {
  const int64_t rows = 1000, cols = 33, n = 1001;
  auto table = gwtest::random_floats(rows * cols, 5);
  auto i64 = random_indices<int64_t>(n, rows, 6);
  std::vector<int32_t> i32(i64.begin(), i64.end());
  std::vector<float> want(n * cols);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < cols; ++c) want[i * cols + c] = table[i64[i] * cols + c];
  std::vector<float> out = gwtest::poisoned(n * cols);
  gw::cpu::index_select_rows(table.data(), rows, cols, i64.data(), nullptr, n, out.data(), 4);
  gwtest::expect_close(out, want, 0, 0, "index_select int64 cpu");
  out = gwtest::poisoned(n * cols);
  gw::cpu::index_select_rows(table.data(), rows, cols, nullptr, i32.data(), n, out.data(), 4);
  gwtest::expect_close(out, want, 0, 0, "index_select int32 cpu");
}

GW_TEST(layout_index_select_rejects_out_of_range_cpu) {
  std::vector<float> table(10 * 3, 1.f), out(4 * 3);
  for (int64_t bad : {int64_t{10}, int64_t{-1}}) {
    std::vector<int64_t> idx{0, 9, 2, bad};
    std::string msg;
    try {
      gw::cpu::index_select_rows(table.data(), 10, 3, idx.data(), nullptr, 4, out.data(), 4);
    } catch (const gw::Error& e) {
      if (e.code() == gw::ErrorCode::kArgument) msg = e.what();
    }
    GW_EXPECT(msg.find("idx[3] = " + std::to_string(bad)) != std::string::npos, "message was '", msg, "'");
  }
}

GW_TEST(layout_index_add_cpu) {
  const int64_t rows = 37, cols = 19, n = 1000;  // many repeats per row
  auto gout = gwtest::random_floats(n * cols, 8);
  auto i32 = random_indices<int32_t>(n, rows, 9);
  auto gt = gwtest::random_floats(rows * cols, 10);
  std::vector<double> want(gt.begin(), gt.end());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < cols; ++c) want[i32[i] * cols + c] += gout[i * cols + c];
  auto again = gt;
  gw::cpu::index_add_rows(gout.data(), n, cols, nullptr, i32.data(), gt.data(), rows);
  gwtest::expect_close(gt, want, 1e-5, 1e-5, "index_add cpu");
  gw::cpu::index_add_rows(gout.data(), n, cols, nullptr, i32.data(), again.data(), rows);
  gwtest::expect_close(again, gt, 0, 0, "index_add cpu is deterministic");
  // A bad index leaves the table untouched.
  i32[500] = static_cast<int32_t>(rows);
  bool threw = false;
  try {
    gw::cpu::index_add_rows(gout.data(), n, cols, nullptr, i32.data(), again.data(), rows);
  } catch (const gw::Error&) {
    threw = true;
  }
  GW_EXPECT(threw, "index_add must reject an out-of-range index");
  gwtest::expect_close(again, gt, 0, 0, "index_add left the table untouched");
}

#ifdef GW_WITH_CUDA
namespace {
std::vector<uint8_t> download_bytes(const gwtest::DeviceArray<uint8_t>& d) { return d.download(); }
gw::Stream stream() { return gw::cudart::compute_stream(); }
}  // namespace

GW_TEST(layout_permute_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  uint64_t seed = 100;
  for (const auto& c : permute_cases())
    for (size_t es : {1, 4, 8}) {
      auto x = random_bytes(numel(c.shape) * es, seed++);
      std::vector<uint8_t> want(x.size());
      gw::cpu::permute(x.data(), want.data(), c.shape.data(), c.perm.data(), static_cast<int>(c.shape.size()), es);
      gwtest::DeviceArray<uint8_t> dx(x), dout(x.size());
      dout.poison();
      gw::cuda::permute(dx.get(), dout.get(), c.shape.data(), c.perm.data(), static_cast<int>(c.shape.size()), es,
                        stream());
      expect_equal_bytes(download_bytes(dout), want, "permute cuda");
    }
  // A large transpose that takes the float4-free tiled path with many tiles.
  Shape s{3, 1025, 2049};
  std::vector<int> perm{0, 2, 1};
  auto x = random_bytes(numel(s) * 4, 7);
  std::vector<uint8_t> want(x.size());
  gw::cpu::permute(x.data(), want.data(), s.data(), perm.data(), 3, 4);
  gwtest::DeviceArray<uint8_t> dx(x), dout(x.size());
  dout.poison();
  gw::cuda::permute(dx.get(), dout.get(), s.data(), perm.data(), 3, 4, stream());
  expect_equal_bytes(download_bytes(dout), want, "large transpose cuda");
}

GW_TEST(layout_slice_concat_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  for (size_t es : {1, 4, 8})
    for (Shape s : {Shape{7, 33, 5}, Shape{1000, 12, 4}, Shape{3, 9, 1}}) {
      const int64_t outer = s[0], axis = s[1], inner = s[2];
      auto x = random_bytes(numel(s) * es, 11 + es);
      gwtest::DeviceArray<uint8_t> dx(x);
      const int64_t lens[3] = {axis / 3, axis - axis / 3 - 1, 1};
      std::vector<std::unique_ptr<gwtest::DeviceArray<uint8_t>>> parts;
      int64_t start = 0;
      for (int64_t len : lens) {
        std::vector<uint8_t> want(outer * len * inner * es);
        gw::cpu::slice_axis(x.data(), want.data(), outer, axis, inner, start, len, es);
        parts.push_back(std::make_unique<gwtest::DeviceArray<uint8_t>>(want.size()));
        parts.back()->poison();
        gw::cuda::slice_axis(dx.get(), parts.back()->get(), outer, axis, inner, start, len, es, stream());
        expect_equal_bytes(parts.back()->download(), want, "slice_axis cuda");
        start += len;
      }
      const void* ptrs[3] = {parts[0]->get(), parts[1]->get(), parts[2]->get()};
      gwtest::DeviceArray<uint8_t> cat(x.size());
      cat.poison();
      gw::cuda::concat(ptrs, lens, 3, cat.get(), outer, inner, es, stream());
      expect_equal_bytes(cat.download(), x, "concat cuda");
    }
}

GW_TEST(layout_slice_backward_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  struct C { int64_t outer, axis, inner, start, len; };
  for (C c : {C{33, 17, 7, 5, 9}, C{100, 16, 8, 4, 8}, C{5, 1000, 1, 999, 1}}) {
    auto gout = gwtest::random_floats(c.outer * c.len * c.inner, 3);
    auto gx = gwtest::random_floats(c.outer * c.axis * c.inner, 4);
    gwtest::DeviceArray<float> dg(gout), dgx(gx);
    gw::cpu::slice_axis_backward(gout.data(), gx.data(), c.outer, c.axis, c.inner, c.start, c.len);
    gw::cuda::slice_axis_backward(dg.get(), dgx.get(), c.outer, c.axis, c.inner, c.start, c.len, stream());
    gwtest::expect_close(dgx.download(), gx, 0, 0, "slice_axis_backward cuda");
  }
}

GW_TEST(layout_index_select_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  for (int64_t cols : {1, 3, 4, 33, 64}) {
    const int64_t rows = 1000, n = 4097;
    auto table = gwtest::random_floats(rows * cols, 5);
    auto i64 = random_indices<int64_t>(n, rows, 6);
    std::vector<int32_t> i32(i64.begin(), i64.end());
    std::vector<float> want(n * cols);
    gw::cpu::index_select_rows(table.data(), rows, cols, i64.data(), nullptr, n, want.data(), 4);
    gwtest::DeviceArray<float> dt(table), dout(n * cols);
    gwtest::DeviceArray<int64_t> d64(i64);
    gwtest::DeviceArray<int32_t> d32(i32);
    dout.poison();
    gw::cuda::index_select_rows(dt.get(), rows, cols, d64.get(), nullptr, n, dout.get(), 4, stream());
    gwtest::expect_close(dout.download(), want, 0, 0, "index_select int64 cuda");
    dout.poison();
    gw::cuda::index_select_rows(dt.get(), rows, cols, nullptr, d32.get(), n, dout.get(), 4, stream());
    gwtest::expect_close(dout.download(), want, 0, 0, "index_select int32 cuda");
    // Out of range: the smallest bad position is named.
    i64[77] = rows + 5;
    i64[3000] = -2;
    d64.upload(i64);
    std::string msg;
    try {
      gw::cuda::index_select_rows(dt.get(), rows, cols, d64.get(), nullptr, n, dout.get(), 4, stream());
    } catch (const gw::Error& e) {
      if (e.code() == gw::ErrorCode::kArgument) msg = e.what();
    }
    GW_EXPECT(msg.find("idx[77] = 1005") != std::string::npos, "message was '", msg, "'");
  }
}

GW_TEST(layout_index_add_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  const int64_t rows = 37, cols = 19, n = 1000;
  auto gout = gwtest::random_floats(n * cols, 8);
  auto i64 = random_indices<int64_t>(n, rows, 9);
  auto gt = gwtest::random_floats(rows * cols, 10);
  gwtest::DeviceArray<float> dg(gout), dgt(gt);
  gwtest::DeviceArray<int64_t> di(i64);
  gw::cpu::index_add_rows(gout.data(), n, cols, i64.data(), nullptr, gt.data(), rows);
  gw::cuda::index_add_rows(dg.get(), n, cols, di.get(), nullptr, dgt.get(), rows, stream());
  auto got = dgt.download();
  gwtest::expect_close(got, gt, 1e-5, 1e-5, "index_add cuda");
  i64[10] = -1;
  di.upload(i64);
  bool threw = false;
  try {
    gw::cuda::index_add_rows(dg.get(), n, cols, di.get(), nullptr, dgt.get(), rows, stream());
  } catch (const gw::Error& e) {
    threw = e.code() == gw::ErrorCode::kArgument;
  }
  GW_EXPECT(threw, "index_add cuda must reject an out-of-range index");
  gwtest::expect_close(dgt.download(), got, 0, 0, "index_add cuda left the table untouched");
}
#endif
