// loss — CPU against float64 references (values, gradients, reductions, weights,
// pos_weight), gradients against finite differences, CUDA against CPU.
#include "harness.h"
#include "ops/loss/loss.h"

namespace {

using gw::Reduction;

const int64_t kSizes[] = {1, 7, 33, 1000, 100003};

double softplus(double t) { return std::max(t, 0.0) + std::log1p(std::exp(-std::fabs(t))); }
double sigmoid(double t) { return 1.0 / (1.0 + std::exp(-t)); }

/// Element loss and derivative in float64; bce when pw ≥ 0, mse when pw < 0.
double ref_value(double z, double y, double pw) {
  return pw < 0 ? (z - y) * (z - y) : (1 - y) * softplus(z) + pw * y * softplus(-z);
}
double ref_grad(double z, double y, double pw) {
  return pw < 0 ? 2 * (z - y) : (1 - y) * sigmoid(z) - pw * y * sigmoid(-z);
}

struct Data {
  std::vector<float> z, y, w;
};
Data make_data(int64_t n, uint64_t seed, bool bce) {
  Data d{gwtest::random_floats(n, seed, -30.f, 30.f), gwtest::random_floats(n, seed + 1, 0.f, 1.f),
         gwtest::random_floats(n, seed + 2, 0.f, 2.f)};
  if (bce)
    for (int64_t i = 0; i < n; ++i) d.y[i] = i % 3 == 0 ? d.y[i] : (i % 3 == 1 ? 1.f : 0.f);  // hard and soft labels
  for (int64_t i = 0; i < n; i += 5) d.w[i] = 0.f;  // masked-out labels
  return d;
}

void run_cpu(bool bce, const Data& d, bool weighted, float pw, Reduction red, float* out) {
  const float* w = weighted ? d.w.data() : nullptr;
  const int64_t n = static_cast<int64_t>(d.z.size());
  if (bce) gw::cpu::bce_with_logits_forward(d.z.data(), d.y.data(), w, pw, n, red, out);
  else gw::cpu::mse_forward(d.z.data(), d.y.data(), w, n, red, out);
}
void run_cpu_backward(bool bce, const Data& d, bool weighted, float pw, Reduction red, const float* gout, float* gz) {
  const float* w = weighted ? d.w.data() : nullptr;
  const int64_t n = static_cast<int64_t>(d.z.size());
  if (bce) gw::cpu::bce_with_logits_backward(d.z.data(), d.y.data(), w, pw, n, red, gout, gz);
  else gw::cpu::mse_backward(d.z.data(), d.y.data(), w, n, red, gout, gz);
}

}  // namespace

GW_TEST(loss_cpu_vs_reference) {
  uint64_t seed = 1;
  for (bool bce : {true, false})
    for (int64_t n : kSizes)
      for (bool weighted : {false, true})
        for (float pw : {1.f, 3.5f})
          for (Reduction red : {Reduction::kNone, Reduction::kSum, Reduction::kMean}) {
            if (!bce && pw != 1.f) continue;
            Data d = make_data(n, seed += 3, bce);
            const double rpw = bce ? pw : -1;
            std::vector<double> l(n), g(n);
            double lsum = 0, wsum = 0;
            for (int64_t i = 0; i < n; ++i) {
              double wi = weighted ? d.w[i] : 1.0;
              l[i] = wi * ref_value(d.z[i], d.y[i], rpw);
              g[i] = wi * ref_grad(d.z[i], d.y[i], rpw);
              lsum += l[i];
              wsum += wi;
            }
            const char* what = bce ? "bce" : "mse";
            auto gout = gwtest::random_floats(red == Reduction::kNone ? n : 1, seed + 7);
            double gscale = 0;
            std::vector<float> gz = gwtest::poisoned(n);
            run_cpu_backward(bce, d, weighted, pw, red, gout.data(), gz.data());
            if (red == Reduction::kNone) {
              std::vector<float> out = gwtest::poisoned(n);
              run_cpu(bce, d, weighted, pw, red, out.data());
              gwtest::expect_close(out, l, 1e-5, 1e-6, what);
              for (int64_t i = 0; i < n; ++i) g[i] *= gout[i];
              for (int64_t i = 0; i < n; ++i) gscale = std::max(gscale, std::fabs(double(gout[i])));
            } else {
              std::vector<float> out = gwtest::poisoned(1);
              run_cpu(bce, d, weighted, pw, red, out.data());
              double want = red == Reduction::kSum ? lsum : (wsum == 0 ? 0 : lsum / wsum);  // D = 0 gives 0
              gwtest::expect_close(out, std::vector<double>{want}, 1e-5, 1e-6, what);
              double c = red == Reduction::kSum ? gout[0] : (wsum == 0 ? 0 : gout[0] / wsum);
              for (int64_t i = 0; i < n; ++i) g[i] *= c;
              gscale = std::fabs(c);
            }
            // f' of soft labels cancels two O(1) terms: allow float rounding of those terms.
            const double atol = 1e-6 * gscale * (1 + pw) * (weighted ? 2 : 1);
            gwtest::expect_close(gz, g, 1e-5, atol, bce ? "bce backward" : "mse backward");
          }
}

GW_TEST(bce_stable_form_and_extremes_cpu) {
  // pos_weight = 1 equals max(z,0) − z·y + log(1 + exp(−|z|)); huge logits stay finite.
  std::vector<float> z{-200.f, -20.f, -1.f, 0.f, 0.5f, 20.f, 200.f}, y{0.f, 1.f, 0.3f, 1.f, 0.f, 0.f, 1.f};
  std::vector<float> out(z.size());
  gw::cpu::bce_with_logits_forward(z.data(), y.data(), nullptr, 1.f, 7, Reduction::kNone, out.data());
  std::vector<double> want(z.size());
  for (size_t i = 0; i < z.size(); ++i)
    want[i] = std::max<double>(z[i], 0) - double(z[i]) * y[i] + std::log1p(std::exp(-std::fabs(double(z[i]))));
  gwtest::expect_close(out, want, 1e-6, 1e-6, "bce stable form");
}

GW_TEST(loss_mean_with_zero_weight_sum_is_zero_cpu) {
  std::vector<float> z{1.f, 2.f}, y{0.f, 1.f}, w{0.f, 0.f}, out{std::nanf("")}, gout{1.f}, gz(2, std::nanf(""));
  gw::cpu::bce_with_logits_forward(z.data(), y.data(), w.data(), 1.f, 2, Reduction::kMean, out.data());
  GW_EXPECT(out[0] == 0.f, "loss ", out[0]);
  gw::cpu::bce_with_logits_backward(z.data(), y.data(), w.data(), 1.f, 2, Reduction::kMean, gout.data(), gz.data());
  GW_EXPECT(gz[0] == 0.f && gz[1] == 0.f, "gz ", gz[0], " ", gz[1]);
}

GW_TEST(loss_backward_matches_finite_differences) {
  const int64_t n = 33;
  for (bool bce : {true, false}) {
    Data d = make_data(n, 77, bce);
    for (float& v : d.z) v *= 0.1f;  // keep the curvature moderate for central differences
    const float pw = bce ? 2.f : 1.f;
    std::vector<float> gout{1.f}, gz(n);
    run_cpu_backward(bce, d, true, pw, Reduction::kMean, gout.data(), gz.data());
    std::vector<double> fd(n);
    double wsum = 0;
    for (float w : d.w) wsum += w;
    for (int64_t i = 0; i < n; ++i) {
      const double h = 1e-4;
      double up = d.w[i] * ref_value(d.z[i] + h, d.y[i], bce ? pw : -1);
      double dn = d.w[i] * ref_value(d.z[i] - h, d.y[i], bce ? pw : -1);
      fd[i] = (up - dn) / (2 * h) / wsum;
    }
    gwtest::expect_close(gz, fd, 1e-3, 1e-6, "loss backward vs finite differences");
  }
}

#ifdef GW_WITH_CUDA
GW_TEST(loss_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  const gw::Stream s = gw::cudart::compute_stream();
  uint64_t seed = 500;
  std::vector<int64_t> sizes(std::begin(kSizes), std::end(kSizes));
  sizes.push_back(3000017);
  for (bool bce : {true, false})
    for (int64_t n : sizes)
      for (bool weighted : {false, true})
        for (Reduction red : {Reduction::kNone, Reduction::kSum, Reduction::kMean}) {
          const float pw = bce ? 2.5f : 1.f;
          Data d = make_data(n, seed += 3, bce);
          const int64_t on = red == Reduction::kNone ? n : 1;
          std::vector<float> out(on), gz(n);
          auto gout = gwtest::random_floats(on, seed + 1);
          run_cpu(bce, d, weighted, pw, red, out.data());
          run_cpu_backward(bce, d, weighted, pw, red, gout.data(), gz.data());
          gwtest::DeviceArray<float> dz(d.z), dy(d.y), dw(d.w), dout(on), dgout(gout), dgz(n);
          const float* w = weighted ? dw.get() : nullptr;
          dout.poison();
          dgz.poison();
          if (bce) {
            gw::cuda::bce_with_logits_forward(dz.get(), dy.get(), w, pw, n, red, dout.get(), s);
            gw::cuda::bce_with_logits_backward(dz.get(), dy.get(), w, pw, n, red, dgout.get(), dgz.get(), s);
          } else {
            gw::cuda::mse_forward(dz.get(), dy.get(), w, n, red, dout.get(), s);
            gw::cuda::mse_backward(dz.get(), dy.get(), w, n, red, dgout.get(), dgz.get(), s);
          }
          auto got = dout.download();
          gwtest::expect_close(got, out, 1e-5, 1e-6, bce ? "bce cuda" : "mse cuda");
          double gscale = 0, wsum = 0;
          for (float g : gout) gscale = std::max(gscale, std::fabs(double(g)));
          for (int64_t i = 0; i < n; ++i) wsum += weighted ? d.w[i] : 1.0;
          if (red == Reduction::kMean) gscale /= std::max(wsum, 1e-30);
          const double atol = 1e-6 * gscale * (1 + pw) * (weighted ? 2 : 1);  // see loss_cpu_vs_reference
          gwtest::expect_close(dgz.download(), gz, 1e-5, atol, bce ? "bce backward cuda" : "mse backward cuda");
          if (red != Reduction::kNone) {  // deterministic: a second run is bit-identical
            dout.poison();
            if (bce) gw::cuda::bce_with_logits_forward(dz.get(), dy.get(), w, pw, n, red, dout.get(), s);
            else gw::cuda::mse_forward(dz.get(), dy.get(), w, n, red, dout.get(), s);
            gwtest::expect_close(dout.download(), got, 0, 0, "reduction is deterministic");
          }
        }
}
#endif
