// moe — the gates with gate dropout and the fused combination, CPU twin against float64
// references (forward and every gradient, with and without the personal gate, partial
// gradient sets, task counts across the CUDA kernel's register chunk, H not a multiple of 8,
// B = 0); the dropout rule (keep = u ≥ p on the dropout op's Philox stream, one mask per task
// when shared, never all dropped: the largest u survives); determinism across thread counts.
// CUDA against the CPU twin on the same cases (skipped, saying why, without a GPU).
#include <algorithm>
#include <cmath>
#include <string>

#include "core/parallel.h"
#include "harness.h"
#include "ops/dropout/dropout.h"
#include "ops/moe/moe.h"

namespace {

// ---- gates

struct GateSpec {
  int64_t batch, tasks, experts;
  float p;
  bool shared = false;
  std::string name() const {
    return gw::detail::cat("gate B ", batch, " T ", tasks, " E ", experts, " p ", p, " shared ", shared);
  }
};

struct GateRun {
  std::vector<float> gates;
  std::vector<uint8_t> keep;
};

gw::MoeGateArgs gate_args(const GateSpec& s, const float* z, float* y, uint8_t* keep) {
  gw::MoeGateArgs a;
  a.rows = s.batch * s.tasks, a.experts = s.experts, a.tasks = s.tasks, a.p = s.p, a.shared = s.shared;
  a.seed = 0x5eed1234abcdULL, a.offset = 17, a.logits = z, a.gates = y, a.keep = keep;
  return a;
}

GateRun run_gate_cpu(const GateSpec& s, const std::vector<float>& z) {
  GateRun r{gwtest::poisoned(z.size()), std::vector<uint8_t>(z.size(), 7)};
  gw::cpu::moe_gate_forward(gate_args(s, z.data(), r.gates.data(), r.keep.data()));
  return r;
}

/// The documented rule, from the dropout op's own uniform stream.
void check_gate_cpu(const GateSpec& s, uint64_t seed) {
  const int64_t R = s.batch * s.tasks, E = s.experts;
  const auto z = gwtest::random_floats(size_t(R * E), seed, -3.f, 3.f);
  const GateRun got = run_gate_cpu(s, z);
  const int64_t draws = s.shared ? s.tasks : R;
  std::vector<float> u(size_t(draws * E));
  gw::cpu::philox_uniform(0x5eed1234abcdULL, 17, u.data(), int64_t(u.size()));
  std::vector<double> want(z.size());
  for (int64_t r = 0; r < R; ++r) {
    const float* ur = u.data() + (s.shared ? r % s.tasks : r) * E;
    std::vector<uint8_t> keep(static_cast<size_t>(E));
    for (int64_t j = 0; j < E; ++j) keep[size_t(j)] = s.p == 0.f || ur[j] >= s.p;
    if (std::count(keep.begin(), keep.end(), 1) == 0) keep[size_t(std::max_element(ur, ur + E) - ur)] = 1;
    double m = -INFINITY, sum = 0;
    for (int64_t j = 0; j < E; ++j)
      if (keep[size_t(j)]) m = std::max(m, double(z[size_t(r * E + j)]));
    for (int64_t j = 0; j < E; ++j) sum += keep[size_t(j)] ? std::exp(z[size_t(r * E + j)] - m) : 0;
    for (int64_t j = 0; j < E; ++j) {
      const size_t o = size_t(r * E + j);
      GW_EXPECT(got.keep[o] == keep[size_t(j)], s.name(), " keep at row ", r, " expert ", j);
      want[o] = keep[size_t(j)] ? std::exp(z[o] - m) / sum : 0;
    }
  }
  gwtest::expect_close(got.gates, want, 1e-6, 1e-7, s.name().c_str());
}

std::vector<GateSpec> gate_specs() {
  return {{64, 2, 8, 0.f},          {64, 2, 8, 0.1f},        {33, 3, 5, 0.5f},  {40, 2, 2, 0.9f},
          {7, 3, 70, 0.3f},         {50, 2, 8, 0.2f, true},  {9, 4, 3, 0.95f, true},
          {0, 2, 8, 0.1f},          {5, 1, 1, 0.5f}};
}

// ---- combination

struct CombineSpec {
  int64_t E, B, T, H;
  bool pg = true;
  bool grads[3] = {true, true, true};  ///< dx, dg, dpg
  bool batch_major = false;            ///< x and dx (B, E, H)
  std::string name() const {
    return gw::detail::cat("combine E ", E, " B ", B, " T ", T, " H ", H, " pg ", pg, " grads ", grads[0], grads[1],
                           grads[2], batch_major ? " batch-major" : "");
  }
  /// Offset of expert e's row for sample b in x.
  int64_t x_row(int64_t e, int64_t b) const { return (batch_major ? b * E + e : e * B + b) * H; }
};

struct CombineProblem {
  CombineSpec s;
  std::vector<float> x, g, pg, dout;
  float scale = 1.7f;
  CombineProblem(const CombineSpec& spec, uint64_t seed) : s(spec) {
    x = gwtest::random_floats(size_t(s.E * s.B * s.H), seed);
    g = gwtest::random_floats(size_t(s.B * s.T * s.E), seed + 1, 0.f, 1.f);
    pg = gwtest::random_floats(size_t(s.B * s.E), seed + 2, 0.f, 2.f);
    dout = gwtest::random_floats(size_t(s.T * s.B * s.H), seed + 3);
  }
  gw::MoeCombineArgs args(const float* x_, const float* g_, const float* pg_) const {
    gw::MoeCombineArgs a;
    a.experts = s.E, a.batch = s.B, a.tasks = s.T, a.hidden = s.H, a.scale = scale;
    a.x = x_, a.g = g_, a.pg = s.pg ? pg_ : nullptr;
    a.batch_major = s.batch_major;
    return a;
  }
};

struct CombineOuts {
  std::vector<float> out, dx, dg, dpg;
};

CombineOuts run_combine_cpu(const CombineProblem& p) {
  const CombineSpec& s = p.s;
  CombineOuts o{gwtest::poisoned(size_t(s.T * s.B * s.H)), gwtest::poisoned(p.x.size()), gwtest::poisoned(p.g.size()),
                gwtest::poisoned(p.pg.size())};
  const auto a = p.args(p.x.data(), p.g.data(), p.pg.data());
  gw::cpu::moe_combine_forward(a, o.out.data());
  gw::MoeCombineGrads gr;
  gr.dout = p.dout.data();
  gr.dx = s.grads[0] ? o.dx.data() : nullptr;
  gr.dg = s.grads[1] ? o.dg.data() : nullptr;
  gr.dpg = s.grads[2] && s.pg ? o.dpg.data() : nullptr;
  gw::cpu::moe_combine_backward(a, gr);
  return o;
}

void check_combine_cpu(const CombineSpec& s, uint64_t seed) {
  const CombineProblem p(s, seed);
  const CombineOuts got = run_combine_cpu(p);
  const int64_t E = s.E, B = s.B, T = s.T, H = s.H;
  std::vector<double> out(got.out.size(), 0), dx(p.x.size(), 0), dg(p.g.size(), 0), dpg(p.pg.size(), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t e = 0; e < E; ++e) {
      const double pg = s.pg ? p.pg[size_t(b * E + e)] : 1.0;
      for (int64_t t = 0; t < T; ++t) {
        const double gt = p.g[size_t((b * T + t) * E + e)];
        double dot = 0;
        for (int64_t h = 0; h < H; ++h) {
          const double xv = p.x[size_t(s.x_row(e, b) + h)], d = p.dout[size_t((t * B + b) * H + h)];
          out[size_t((t * B + b) * H + h)] += p.scale * gt * pg * xv;
          dx[size_t(s.x_row(e, b) + h)] += p.scale * pg * gt * d;
          dot += xv * d;
        }
        dg[size_t((b * T + t) * E + e)] = p.scale * pg * dot;
        dpg[size_t(b * E + e)] += p.scale * gt * dot;
      }
    }
  const std::string w = s.name();
  gwtest::expect_close(got.out, out, 1e-5, 1e-5, (w + " out").c_str());
  const auto check = [&](const std::vector<float>& v, const std::vector<double>& ref, bool wanted, const char* what) {
    if (wanted) gwtest::expect_close(v, ref, 1e-5, 1e-5, (w + " " + what).c_str());
    else gwtest::expect_all_nan(v, w + " " + what);
  };
  check(got.dx, dx, s.grads[0], "dx");
  check(got.dg, dg, s.grads[1], "dg");
  check(got.dpg, dpg, s.grads[2] && s.pg, "dpg");
}

std::vector<CombineSpec> combine_specs() {
  std::vector<CombineSpec> v = {{8, 64, 2, 32}, {4, 33, 1, 17}, {16, 20, 5, 64}, {3, 9, 4, 1},
                                {6, 0, 2, 8},   {2, 5, 9, 70},  {8, 64, 2, 32, false}};
  CombineSpec partial{5, 11, 3, 13};
  for (int m = 0; m < 8; ++m) {
    for (int i = 0; i < 3; ++i) partial.grads[i] = (m >> i) & 1;
    v.push_back(partial);
  }
  // Batch-major experts (B, E, H), as one GEMM over every expert's rows writes them.
  for (CombineSpec s : {CombineSpec{8, 64, 2, 32}, CombineSpec{3, 9, 4, 1}, CombineSpec{2, 5, 9, 70, false}}) {
    s.batch_major = true;
    v.push_back(s);
  }
  return v;
}

}  // namespace

GW_TEST(moe_gate_cpu_follows_the_dropout_rule) {
  uint64_t seed = 100;
  for (const GateSpec& s : gate_specs()) check_gate_cpu(s, seed++);
}

GW_TEST(moe_gate_cpu_never_drops_a_whole_row) {
  const GateSpec s{500, 2, 3, 0.95f};
  const GateRun r = run_gate_cpu(s, gwtest::random_floats(size_t(1000 * 3), 5));
  int rescued = 0;
  for (int64_t row = 0; row < 1000; ++row) {
    double sum = 0;
    int kept = 0;
    for (int j = 0; j < 3; ++j) sum += r.gates[size_t(row * 3 + j)], kept += r.keep[size_t(row * 3 + j)];
    GW_EXPECT(kept >= 1 && std::fabs(sum - 1) < 1e-6, "row ", row, " kept ", kept, " sum ", sum);
    rescued += kept == 1;
  }
  GW_EXPECT(rescued > 500, "p = 0.95 over 3 experts should rescue most rows, rescued ", rescued);
}

GW_TEST(moe_gate_cpu_rejects_bad_args) {
  std::vector<float> z(12), y(12);
  GateSpec s{3, 2, 2, 0.1f};
  auto a = gate_args(s, z.data(), y.data(), nullptr);
  a.rows = 5;
  bool threw = false;
  try {
    gw::cpu::moe_gate_forward(a);
  } catch (const gw::Error& e) {
    threw = std::string(e.what()).find("multiple of tasks") != std::string::npos;
  }
  GW_EXPECT(threw, "rows not a multiple of tasks");
  a = gate_args(s, z.data(), y.data(), nullptr);
  a.p = 1.f;
  threw = false;
  try {
    gw::cpu::moe_gate_forward(a);
  } catch (const gw::Error& e) {
    threw = std::string(e.what()).find("for p") != std::string::npos;
  }
  GW_EXPECT(threw, "p = 1");
}

GW_TEST(moe_combine_cpu_matches_reference) {
  uint64_t seed = 200;
  for (const CombineSpec& s : combine_specs()) check_combine_cpu(s, seed += 4);
}

GW_TEST(moe_combine_cpu_deterministic_across_thread_counts) {
  const CombineProblem p({8, 300, 3, 48}, 7);
  const int threads = gw::num_threads();
  const CombineOuts a = run_combine_cpu(p);
  gw::set_num_threads(threads == 1 ? 3 : 1);
  const CombineOuts b = run_combine_cpu(p);
  gw::set_num_threads(threads);
  gwtest::expect_close(b.out, a.out, 0, 0, "out bitwise");
  gwtest::expect_close(b.dx, a.dx, 0, 0, "dx bitwise");
  gwtest::expect_close(b.dg, a.dg, 0, 0, "dg bitwise");
  gwtest::expect_close(b.dpg, a.dpg, 0, 0, "dpg bitwise");
}

#ifdef GW_WITH_CUDA
namespace {

void check_gate_cuda(const GateSpec& s, uint64_t seed) {
  using gwtest::DeviceArray;
  const int64_t n = s.batch * s.tasks * s.experts;
  const auto z = gwtest::random_floats(size_t(n), seed, -3.f, 3.f);
  const GateRun want = run_gate_cpu(s, z);
  DeviceArray<float> dz(z), y{size_t(n)};
  DeviceArray<uint8_t> keep{size_t(n)};
  y.poison(), keep.poison();
  gw::cuda::moe_gate_forward(gate_args(s, dz.get(), y.get(), keep.get()), gw::cudart::compute_stream());
  gwtest::expect_close(y.download(), want.gates, 1e-6, 1e-7, ("cuda " + s.name()).c_str());
  GW_EXPECT(keep.download() == want.keep, "cuda ", s.name(), " keep differs from the CPU twin");
}

void check_combine_cuda(const CombineSpec& s, uint64_t seed) {
  using gwtest::DeviceArray;
  const CombineProblem p(s, seed);
  const CombineOuts want = run_combine_cpu(p);
  DeviceArray<float> x(p.x), g(p.g), pg(p.pg), dout(p.dout), out(want.out.size()), dx(p.x.size()), dg(p.g.size()),
      dpg(p.pg.size());
  for (auto* t : {&out, &dx, &dg, &dpg}) t->poison();
  const auto a = p.args(x.get(), g.get(), pg.get());
  auto stream = gw::cudart::compute_stream();
  gw::cuda::moe_combine_forward(a, out.get(), stream);
  gw::MoeCombineGrads gr;
  gr.dout = dout.get();
  gr.dx = s.grads[0] ? dx.get() : nullptr;
  gr.dg = s.grads[1] ? dg.get() : nullptr;
  gr.dpg = s.grads[2] && s.pg ? dpg.get() : nullptr;
  gw::cuda::moe_combine_backward(a, gr, stream);
  const std::string w = "cuda " + s.name();
  gwtest::expect_close(out.download(), want.out, 1e-5, 1e-5, (w + " out").c_str());
  const auto close = [&](const DeviceArray<float>& got, const std::vector<float>& ref, bool wanted, const char* what) {
    if (wanted) gwtest::expect_close(got.download(), ref, 1e-5, 1e-5, (w + " " + what).c_str());
    else gwtest::expect_all_nan(got.download(), w + " " + what);
  };
  close(dx, want.dx, s.grads[0], "dx");
  close(dg, want.dg, s.grads[1], "dg");
  close(dpg, want.dpg, s.grads[2] && s.pg, "dpg");
}

}  // namespace
#endif

GW_TEST(moe_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
#ifdef GW_WITH_CUDA
  uint64_t seed = 300;
  for (const GateSpec& s : gate_specs()) check_gate_cuda(s, seed++);
  check_gate_cuda({16384, 2, 16, 0.1f}, seed++);
  for (const CombineSpec& s : combine_specs()) check_combine_cuda(s, seed += 4);
  check_combine_cuda({16, 8192, 3, 256}, seed += 4);
  CombineSpec large_batch_major{16, 8192, 3, 256};
  large_batch_major.batch_major = true;
  check_combine_cuda(large_batch_major, seed += 4);
#endif
}
