// gemm — the CPU twin (every micro-kernel this CPU supports) against a float64 reference;
// CUDA against the CPU twin. Shapes cover edges of every tile and block size (1, 7, 33,
// ~1000, sizes past KC/NC/MC), all transpose combinations, batches with shared operands,
// beta ≠ 0, bias, pre, every activation and the gated epilogue (C = gate_scale·gate ⊙ act).
#include <cmath>
#include <string>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "harness.h"
#include "ops/gemm/gemm.h"

namespace {

struct Spec {
  int64_t batch, m, n, k;
  bool ta = false, tb = false;
  float alpha = 1.f, beta = 0.f;
  bool bias = false, pre = false;
  bool item_bias = false;                   ///< one bias per batch item (stride_bias n)
  gw::Act act = gw::Act::kIdentity;
  bool shared_a = false, shared_b = false;  ///< stride 0: one matrix for every batch item
  bool gate = false, shared_gate = false;   ///< gated epilogue; shared: stride_gate 0
  float gate_scale = 1.f;
};

std::string describe(const Spec& s) {
  return gw::detail::cat("batch ", s.batch, " m ", s.m, " n ", s.n, " k ", s.k, " ta ", s.ta, " tb ", s.tb,
                         " alpha ", s.alpha, " beta ", s.beta, " bias ", s.bias, s.item_bias, " pre ", s.pre, " act ",
                         int(s.act), " shared ", s.shared_a, s.shared_b, " gate ", s.gate, s.shared_gate, " scale ",
                         s.gate_scale);
}

double act_ref(double x, gw::Act act, double slope) {
  switch (act) {
    case gw::Act::kIdentity: return x;
    case gw::Act::kRelu: return x > 0 ? x : 0;
    case gw::Act::kLeakyRelu: return x >= 0 ? x : slope * x;
    case gw::Act::kSigmoid: return 1 / (1 + std::exp(-x));
    case gw::Act::kTanh: return std::tanh(x);
    case gw::Act::kGelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  }
  return x;
}

// Inputs for one spec, host side; C holds NaN when beta == 0 (it must not be read).
struct Problem {
  Spec s;
  std::vector<float> a, b, c, bias, gate;
  int64_t sa, sb, sc, sg;
  explicit Problem(const Spec& spec, uint64_t seed) : s(spec) {
    sa = s.shared_a ? 0 : s.m * s.k;
    sb = s.shared_b ? 0 : s.k * s.n;
    sc = s.m * s.n;
    a = gwtest::random_floats(size_t(s.shared_a ? 1 : s.batch) * s.m * s.k, seed);
    b = gwtest::random_floats(size_t(s.shared_b ? 1 : s.batch) * s.k * s.n, seed + 1);
    c = s.beta == 0.f ? gwtest::poisoned(size_t(s.batch * sc)) : gwtest::random_floats(size_t(s.batch * sc), seed + 2);
    bias = gwtest::random_floats(size_t(s.item_bias ? s.batch : 1) * s.n, seed + 3);
    sg = s.shared_gate ? 0 : sc;
    gate = gwtest::random_floats(size_t(s.shared_gate ? 1 : s.batch) * sc, seed + 4, -2.f, 2.f);
  }
  gw::GemmArgs args(const float* a_, const float* b_, float* c_, const float* bias_, float* pre_,
                    const float* gate_ = nullptr) const {
    gw::GemmArgs g;
    g.batch = s.batch, g.m = s.m, g.n = s.n, g.k = s.k, g.trans_a = s.ta, g.trans_b = s.tb;
    g.alpha = s.alpha, g.beta = s.beta;
    g.a = a_, g.stride_a = sa, g.b = b_, g.stride_b = sb, g.c = c_, g.stride_c = sc;
    g.bias = s.bias ? bias_ : nullptr, g.stride_bias = s.item_bias ? s.n : 0;
    g.pre = s.pre ? pre_ : nullptr;
    g.act = s.act;
    g.leaky_slope = 0.05f;
    if (s.gate) g.gate = gate_, g.stride_gate = sg, g.gate_scale = s.gate_scale;
    return g;
  }
  // float64 reference: (C after, pre)
  void reference(std::vector<double>& out, std::vector<double>& pre) const {
    out.assign(size_t(s.batch * sc), 0);
    pre.assign(out.size(), 0);
    for (int64_t t = 0; t < s.batch; ++t) {
      const float* A = a.data() + t * sa;
      const float* B = b.data() + t * sb;
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          double acc = 0;
          for (int64_t p = 0; p < s.k; ++p)
            acc += double(s.ta ? A[p * s.m + i] : A[i * s.k + p]) * double(s.tb ? B[j * s.k + p] : B[p * s.n + j]);
          size_t o = size_t(t * sc + i * s.n + j);
          double v = s.alpha * acc + (s.beta != 0.f ? double(s.beta) * c[o] : 0.0) + (s.bias ? bias[size_t((s.item_bias ? t * s.n : 0) + j)] : 0.0);
          pre[o] = v;
          out[o] = act_ref(v, s.act, 0.05);
          if (s.gate) out[o] *= double(s.gate_scale) * gate[size_t(t * sg + i * s.n + j)];
        }
    }
  }
  double atol() const { return 1e-5 + 4e-6 * double(s.k); }
};

void check_cpu(const Spec& s, gw::CpuIsa isa, uint64_t seed) {
  Problem p(s, seed);
  std::vector<double> want, want_pre;
  p.reference(want, want_pre);
  std::vector<float> c = p.c, pre = gwtest::poisoned(p.c.size());
  gw::cpu::gemm_with_isa(p.args(p.a.data(), p.b.data(), c.data(), p.bias.data(), pre.data(), p.gate.data()), isa);
  std::string what = gw::detail::cat("cpu ", gw::cpu_isa_name(isa), " ", describe(s));
  gwtest::expect_close(c, want, 1e-5, p.atol(), what.c_str());
  if (s.pre) gwtest::expect_close(pre, want_pre, 1e-5, p.atol(), (what + " pre").c_str());
}

std::vector<gw::CpuIsa> isas() {
  std::vector<gw::CpuIsa> v;
  for (int i = 0; i <= int(gw::cpu_isa()); ++i) v.push_back(gw::CpuIsa(i));
  return v;
}

// Shapes around every tile and block edge; each with all four transpose combinations.
std::vector<Spec> shape_specs() {
  const int64_t shapes[][4] = {{1, 1, 1, 1},     {1, 7, 33, 5},    {1, 33, 7, 1001}, {1, 1000, 37, 3},
                               {1, 13, 1000, 9}, {1, 64, 64, 64},  {1, 97, 129, 257}, {1, 530, 1030, 520},
                               {1, 1, 300, 17},  {1, 300, 1, 17}, {1, 4, 1000, 77}, {1, 2049, 3, 300},
                               {1, 5, 1100, 40}, {1, 1100, 5, 40}};  // skinny path (M or N ≤ 4) and just past it
  std::vector<Spec> v;
  for (auto& sh : shapes)
    for (int t = 0; t < 4; ++t) {
      Spec s{sh[0], sh[1], sh[2], sh[3]};
      s.ta = t & 1, s.tb = (t >> 1) & 1;
      v.push_back(s);
    }
  return v;
}

std::vector<Spec> epilogue_specs() {
  std::vector<Spec> v;
  const gw::Act acts[] = {gw::Act::kIdentity, gw::Act::kRelu, gw::Act::kLeakyRelu,
                          gw::Act::kSigmoid,  gw::Act::kTanh, gw::Act::kGelu};
  int i = 0;
  for (gw::Act act : acts) {
    Spec s{1, 45, 67, 300};  // 67 = 2·32 + 3 = 4·16 + 3: narrow edge tiles
    s.act = act, s.bias = true, s.pre = true, s.alpha = 0.75f, s.beta = (i % 2) ? 0.5f : 0.f;
    s.ta = i % 3 == 1, s.tb = i % 2 == 1;
    v.push_back(s);
    ++i;
  }
  Spec skinny_n{1, 700, 2, 50};  // skinny path, N small
  skinny_n.act = gw::Act::kSigmoid, skinny_n.bias = true, skinny_n.pre = true, skinny_n.beta = 0.5f, skinny_n.tb = true;
  v.push_back(skinny_n);
  Spec skinny_m{1, 3, 1500, 50};  // skinny path, M small, K-major long operand
  skinny_m.act = gw::Act::kLeakyRelu, skinny_m.bias = true, skinny_m.pre = true, skinny_m.alpha = -1.f, skinny_m.ta = true;
  v.push_back(skinny_m);
  Spec beta_only{1, 50, 40, 600};
  beta_only.beta = -1.5f, beta_only.alpha = 2.f;
  v.push_back(beta_only);
  Spec k0{2, 9, 21, 0};  // empty product: C = act(beta·C + bias)
  k0.beta = 0.5f, k0.bias = true, k0.pre = true, k0.act = gw::Act::kTanh;
  v.push_back(k0);
  Spec k0_nan{1, 5, 6, 0};  // beta = 0 must not read the NaN in C
  k0_nan.bias = true;
  v.push_back(k0_nan);
  // Gated epilogue (the gated FC's lazy form): C = gate_scale·gate ⊙ act(v), every activation,
  // through the blocked path (ragged tiles, float4 and scalar C), the skinny paths and K == 0.
  i = 0;
  for (gw::Act act : acts) {
    Spec s{1, 45 + i, 68 - (i % 2), 300};
    s.act = act, s.bias = i % 2 == 0, s.pre = i % 3 != 2, s.gate = true, s.gate_scale = i == 0 ? 1.f : 1.75f;
    s.beta = i == 4 ? 0.5f : 0.f, s.tb = i % 2 == 0;
    v.push_back(s);
    ++i;
  }
  Spec g_skinny_n{1, 700, 3, 50};
  g_skinny_n.act = gw::Act::kTanh, g_skinny_n.bias = true, g_skinny_n.pre = true, g_skinny_n.gate = true;
  g_skinny_n.gate_scale = -0.5f, g_skinny_n.tb = true;
  v.push_back(g_skinny_n);
  Spec g_skinny_m{1, 2, 1500, 50};
  g_skinny_m.act = gw::Act::kGelu, g_skinny_m.bias = true, g_skinny_m.gate = true, g_skinny_m.gate_scale = 2.f;
  g_skinny_m.ta = true;
  v.push_back(g_skinny_m);
  Spec g_k0{2, 9, 21, 0};
  g_k0.bias = true, g_k0.pre = true, g_k0.act = gw::Act::kSigmoid, g_k0.gate = true, g_k0.gate_scale = 3.f;
  v.push_back(g_k0);
  return v;
}

std::vector<Spec> batch_specs() {
  std::vector<Spec> v;
  Spec s{5, 13, 70, 257};
  s.beta = 1.f, s.bias = true, s.act = gw::Act::kRelu, s.pre = true;
  v.push_back(s);
  s.shared_a = true, s.ta = true;
  v.push_back(s);
  s.shared_a = false, s.shared_b = true, s.tb = true;
  v.push_back(s);
  Spec big{3, 200, 300, 400};  // large items: threads inside each product
  big.shared_b = true, big.act = gw::Act::kGelu, big.bias = true;
  v.push_back(big);
  Spec many{64, 6, 5, 4};  // many tiny items: threads across the batch
  many.beta = 0.25f;
  v.push_back(many);
  Spec gated{4, 33, 72, 65};  // a gate per item, then one gate for every item
  gated.gate = true, gated.gate_scale = 0.5f, gated.act = gw::Act::kRelu, gated.bias = true, gated.pre = true;
  v.push_back(gated);
  gated.shared_gate = true, gated.shared_b = true, gated.tb = true;
  v.push_back(gated);
  // One bias per item (MMoE's experts as one batched launch): shared A, the skinny path too.
  Spec experts{8, 70, 33, 41};
  experts.shared_a = true, experts.tb = true, experts.bias = true, experts.item_bias = true;
  experts.act = gw::Act::kRelu, experts.pre = true;
  v.push_back(experts);
  Spec skinny_experts{6, 3, 9, 17};
  skinny_experts.bias = true, skinny_experts.item_bias = true, skinny_experts.beta = 0.5f;
  v.push_back(skinny_experts);
  // Weight-gradient shapes (Aᵀ·B, K ≫ M, N): the split-K path, with its whole epilogue.
  Spec split{2, 64, 96, 9000};
  split.ta = true, split.beta = 0.5f, split.bias = true, split.item_bias = true, split.pre = true;
  split.act = gw::Act::kTanh, split.gate = true, split.gate_scale = 1.5f;
  v.push_back(split);
  Spec split_plain{1, 33, 70, 70000};  // 16 chunks of 4375 rows; ragged M and N tiles
  split_plain.ta = true;
  v.push_back(split_plain);
  Spec gated_many{40, 6, 8, 5};
  gated_many.gate = true, gated_many.gate_scale = 1.5f, gated_many.act = gw::Act::kLeakyRelu;
  v.push_back(gated_many);
  return v;
}

}  // namespace

GW_TEST(gemm_cpu_shapes) {
  uint64_t seed = 100;
  for (gw::CpuIsa isa : isas())
    for (const Spec& s : shape_specs()) check_cpu(s, isa, seed++);
}

GW_TEST(gemm_cpu_epilogues) {
  uint64_t seed = 200;
  for (gw::CpuIsa isa : isas())
    for (const Spec& s : epilogue_specs()) check_cpu(s, isa, seed++);
}

GW_TEST(gemm_cpu_batches) {
  uint64_t seed = 300;
  for (gw::CpuIsa isa : isas())
    for (const Spec& s : batch_specs()) check_cpu(s, isa, seed++);
}

namespace {
/// Runs the spec with the pool's thread count and with another; the results must be bitwise equal.
void expect_deterministic(const Spec& s, uint64_t seed, const char* what) {
  Problem p(s, seed);
  std::vector<float> c1(p.c.size()), c2(p.c.size());
  const int threads = gw::num_threads();
  gw::cpu::gemm(p.args(p.a.data(), p.b.data(), c1.data(), p.bias.data(), nullptr));
  gw::set_num_threads(threads == 1 ? 3 : 1);
  gw::cpu::gemm(p.args(p.a.data(), p.b.data(), c2.data(), p.bias.data(), nullptr));
  gw::set_num_threads(threads);
  gwtest::expect_close(c2, c1, 0, 0, what);
}
}  // namespace

GW_TEST(gemm_cpu_deterministic_across_thread_counts) {
  Spec s{1, 301, 517, 700};
  s.bias = true, s.act = gw::Act::kSigmoid;
  expect_deterministic(s, 7, "gemm bitwise equal across thread counts");
  Spec split{1, 64, 256, 16384};  // the split-K path
  split.ta = true, split.bias = true, split.act = gw::Act::kRelu;
  expect_deterministic(split, 8, "split-K gemm bitwise equal across thread counts");
}

GW_TEST(gemm_cpu_rejects_bad_args) {
  gw::GemmArgs g;
  g.m = -1;
  bool threw = false;
  try {
    gw::cpu::gemm(g);
  } catch (const gw::Error& e) {
    threw = e.code() == gw::ErrorCode::kArgument;
  }
  GW_EXPECT(threw, "negative m must throw kArgument");
}

GW_TEST(gemm_cpu_fma_peak_probe) {
  double gf = gw::cpu::fma_peak_gflops(0.05);
  GW_EXPECT(std::isfinite(gf) && gf > 0.1, "peak probe returned ", gf);
}

#ifdef GW_WITH_CUDA
namespace {

void check_cuda(const Spec& s, uint64_t seed) {
  Problem p(s, seed);
  std::vector<float> want = p.c, want_pre = gwtest::poisoned(p.c.size());
  gw::cpu::gemm(p.args(p.a.data(), p.b.data(), want.data(), p.bias.data(), want_pre.data(), p.gate.data()));
  gwtest::DeviceArray<float> a(p.a), b(p.b), c(p.c), bias(p.bias), pre(p.c.size()), gate(p.gate);
  pre.poison();
  gw::cuda::gemm(p.args(a.get(), b.get(), c.get(), bias.get(), pre.get(), gate.get()), gw::cudart::compute_stream());
  std::string what = gw::detail::cat("cuda ", describe(s));
  gwtest::expect_close(c.download(), want, 1e-5, p.atol(), what.c_str());
  if (s.pre) gwtest::expect_close(pre.download(), want_pre, 1e-5, p.atol(), (what + " pre").c_str());
}

}  // namespace

GW_TEST(gemm_cuda_shapes) {
  GW_REQUIRE_CUDA();
  uint64_t seed = 400;
  for (const Spec& s : shape_specs()) check_cuda(s, seed++);
  // Enough 128×128 tiles (at least the SM count, 132 on an H100) to take the large-tile path;
  // aligned (float4 loads) and not. Emulated: batch 9 of 512² (144 tiles) with k = 64.
  const int64_t big = gwtest::kEmulated ? 512 : 1024, batch = gwtest::kEmulated ? 9 : 3;
  for (int64_t mnk : {big, big - 1})
    for (int t = 0; t < 4; ++t) {
      Spec s{batch, mnk, mnk + 4, gwtest::kEmulated ? mnk / 8 : mnk};
      s.ta = t & 1, s.tb = (t >> 1) & 1, s.bias = true, s.beta = 0.5f, s.shared_b = t == 3;
      s.act = t == 1 ? gw::Act::kGelu : gw::Act::kIdentity, s.pre = t == 1;
      check_cuda(s, seed++);
    }
}

GW_TEST(gemm_cuda_epilogues) {
  GW_REQUIRE_CUDA();
  uint64_t seed = 500;
  for (const Spec& s : epilogue_specs()) check_cuda(s, seed++);
}

GW_TEST(gemm_cuda_batches) {
  GW_REQUIRE_CUDA();
  uint64_t seed = 600;
  for (const Spec& s : batch_specs()) check_cuda(s, seed++);
}
#endif
