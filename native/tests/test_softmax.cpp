// softmax — CPU against a float64 reference (forward, backward, masks, scale, log mode),
// the backward formula against finite differences, and CUDA against CPU.
#include <limits>

#include "harness.h"
#include "ops/softmax/softmax.h"

namespace {

const double kInf = std::numeric_limits<double>::infinity();

struct Dims {
  int64_t rows, cols;
};
const Dims kDims[] = {{1, 1}, {7, 7}, {33, 33}, {5, 1000}, {3, 1025}, {2, 5000}, {64, 100}};

enum class MaskKind { kNone, kShared, kPerRow };

/// A mask with about a third of the entries excluded; per-row masks exclude all of row 1.
std::vector<uint8_t> make_mask(MaskKind kind, int64_t rows, int64_t cols, uint64_t seed) {
  if (kind == MaskKind::kNone) return {};
  std::mt19937_64 rng(seed);
  const int64_t n = kind == MaskKind::kShared ? cols : rows * cols;
  std::vector<uint8_t> m(n);
  for (auto& b : m) b = rng() % 3 != 0;
  if (kind == MaskKind::kPerRow && rows > 1)
    for (int64_t j = 0; j < cols; ++j) m[cols + j] = 0;
  return m;
}

std::vector<double> reference_forward(const std::vector<float>& x, const std::vector<uint8_t>& mask, bool per_row,
                                      double scale, int64_t rows, int64_t cols, bool log) {
  std::vector<double> y(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    auto in = [&](int64_t j) { return mask.empty() || mask[(per_row ? r * cols : 0) + j]; };
    double m = -kInf, s = 0;
    for (int64_t j = 0; j < cols; ++j)
      if (in(j)) m = std::max(m, scale * x[r * cols + j]);
    for (int64_t j = 0; j < cols; ++j)
      if (in(j)) s += std::exp(scale * x[r * cols + j] - m);
    for (int64_t j = 0; j < cols; ++j) {
      double z = scale * x[r * cols + j];
      if (m == -kInf || !in(j)) y[r * cols + j] = log ? -kInf : 0.0;
      else y[r * cols + j] = log ? z - m - std::log(s) : std::exp(z - m) / s;
    }
  }
  return y;
}

/// gx = scale · J(z)ᵀ gy computed from the float64 forward values.
std::vector<double> reference_backward(const std::vector<float>& gy, const std::vector<double>& p, double scale,
                                       int64_t rows, int64_t cols, bool log) {
  std::vector<double> gx(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    double acc = 0;
    for (int64_t j = 0; j < cols; ++j) {
      double pj = p[r * cols + j];
      acc += log ? (pj == -kInf ? 0 : gy[r * cols + j]) : gy[r * cols + j] * pj;
    }
    for (int64_t j = 0; j < cols; ++j) {
      double pj = p[r * cols + j], g = gy[r * cols + j];
      gx[r * cols + j] = log ? (pj == -kInf ? 0 : scale * (g - std::exp(pj) * acc)) : scale * pj * (g - acc);
    }
  }
  return gx;
}

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

}  // namespace

GW_TEST(softmax_forward_backward_cpu) {
  uint64_t seed = 1;
  for (Dims d : kDims)
    for (MaskKind mk : {MaskKind::kNone, MaskKind::kShared, MaskKind::kPerRow})
      for (bool log : {false, true}) {
        const float scale = 0.7f;
        auto x = gwtest::random_floats(d.rows * d.cols, seed++, -4.f, 4.f);
        auto mask = make_mask(mk, d.rows, d.cols, seed++);
        const bool per_row = mk == MaskKind::kPerRow;
        std::vector<float> y = gwtest::poisoned(x.size());
        gw::cpu::softmax_forward(x.data(), mask.empty() ? nullptr : mask.data(), per_row, scale, y.data(), d.rows,
                                 d.cols, log);
        auto want = reference_forward(x, mask, per_row, scale, d.rows, d.cols, log);
        gwtest::expect_close(y, want, 1e-5, 1e-6, log ? "log_softmax forward cpu" : "softmax forward cpu");
        auto gy = gwtest::random_floats(x.size(), seed++);
        std::vector<float> gx = gwtest::poisoned(x.size());
        gw::cpu::softmax_backward(gy.data(), y.data(), gx.data(), d.rows, d.cols, log, scale);
        gwtest::expect_close(gx, reference_backward(gy, want, scale, d.rows, d.cols, log), 1e-4, 1e-5,
                             log ? "log_softmax backward cpu" : "softmax backward cpu");
      }
}

GW_TEST(softmax_fully_masked_row_is_finite_cpu) {
  std::vector<float> x{1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  std::vector<uint8_t> mask{1, 0, 1, 0, 0, 0};
  std::vector<float> y(6);
  gw::cpu::softmax_forward(x.data(), mask.data(), true, 1.f, y.data(), 2, 3, false);
  for (int j = 3; j < 6; ++j) GW_EXPECT(y[j] == 0.f, "y[", j, "] = ", y[j]);
  GW_EXPECT(y[1] == 0.f && std::fabs(y[0] + y[2] - 1.f) < 1e-6f, "row 0 renormalized over the survivors");
  std::vector<float> gy{1.f, 1.f, 1.f, 1.f, 1.f, 1.f}, gx(6);
  for (bool log : {false, true}) {
    gw::cpu::softmax_forward(x.data(), mask.data(), true, 1.f, y.data(), 2, 3, log);
    gw::cpu::softmax_backward(gy.data(), y.data(), gx.data(), 2, 3, log, 1.f);
    for (int j = 0; j < 6; ++j) GW_EXPECT(std::isfinite(gx[j]), "gx[", j, "] = ", gx[j]);
    GW_EXPECT(gx[1] == 0.f && gx[3] == 0.f && gx[4] == 0.f && gx[5] == 0.f, "excluded entries get no gradient");
  }
}

GW_TEST(softmax_backward_matches_finite_differences) {
  // Loss L = Σ w ⊙ y(x); dL/dx by central differences in float64 vs the float32 backward.
  const int64_t rows = 3, cols = 9;
  const double scale = 1.3, h = 1e-3;
  auto x = gwtest::random_floats(rows * cols, 5);
  auto w = gwtest::random_floats(rows * cols, 6);
  auto mask = make_mask(MaskKind::kShared, rows, cols, 7);
  for (bool log : {false, true}) {
    std::vector<double> fd(rows * cols);
    for (int64_t i = 0; i < rows * cols; ++i) {
      auto loss = [&](float xi) {
        auto xp = x;
        xp[i] = xi;
        auto y = reference_forward(xp, mask, false, scale, rows, cols, log);
        double l = 0;
        for (int64_t k = 0; k < rows * cols; ++k)
          if (std::isfinite(y[k])) l += w[k] * y[k];
        return l;
      };
      fd[i] = (loss(x[i] + h) - loss(x[i] - h)) / (2 * h);
    }
    std::vector<float> y(rows * cols), gx(rows * cols);
    gw::cpu::softmax_forward(x.data(), mask.data(), false, static_cast<float>(scale), y.data(), rows, cols, log);
    gw::cpu::softmax_backward(w.data(), y.data(), gx.data(), rows, cols, log, static_cast<float>(scale));
    gwtest::expect_close(gx, fd, 2e-3, 2e-3, "softmax backward vs finite differences");
  }
}

#ifdef GW_WITH_CUDA
GW_TEST(softmax_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  const gw::Stream s = gw::cudart::compute_stream();
  uint64_t seed = 100;
  std::vector<Dims> dims(std::begin(kDims), std::end(kDims));
  dims.push_back({1000, 1024});
  dims.push_back({300, 513});
  dims.push_back({4, 70000});
  for (Dims d : dims)
    for (MaskKind mk : {MaskKind::kNone, MaskKind::kShared, MaskKind::kPerRow})
      for (bool log : {false, true}) {
        const float scale = 1.25f;
        auto x = gwtest::random_floats(d.rows * d.cols, seed++, -4.f, 4.f);
        auto mask = make_mask(mk, d.rows, d.cols, seed++);
        const bool per_row = mk == MaskKind::kPerRow;
        std::vector<float> y(x.size());
        gw::cpu::softmax_forward(x.data(), mask.empty() ? nullptr : mask.data(), per_row, scale, y.data(), d.rows,
                                 d.cols, log);
        gwtest::DeviceArray<float> dx(x), dy(x.size());
        gwtest::DeviceArray<uint8_t> dm(mask.empty() ? std::vector<uint8_t>(1) : mask);
        dy.poison();
        gw::cuda::softmax_forward(dx.get(), mask.empty() ? nullptr : dm.get(), per_row, scale, dy.get(), d.rows,
                                  d.cols, log, s);
        gwtest::expect_close(dy.download(), y, 1e-5, 1e-6, log ? "log_softmax forward cuda" : "softmax forward cuda");
        auto gy = gwtest::random_floats(x.size(), seed++);
        std::vector<float> gx(x.size());
        gw::cpu::softmax_backward(gy.data(), y.data(), gx.data(), d.rows, d.cols, log, scale);
        gwtest::DeviceArray<float> dgy(gy), dyc(y), dgx(x.size());
        dgx.poison();
        gw::cuda::softmax_backward(dgy.get(), dyc.get(), dgx.get(), d.rows, d.cols, log, scale, s);
        gwtest::expect_close(dgx.download(), gx, 1e-4, 1e-5, log ? "log_softmax backward cuda" : "softmax backward cuda");
      }
}
#endif
