// poso_attention — the CPU twin against a float64 reference written the naive way (N
// separate attentions, each with its own softmax backward, summed with the fold gates), forward
// and backward; lengths, masks (rows without a valid key included), one or many queries
// (across the query tiles), head_dim 1–256 (every tile plan), per-head and shared fold gates,
// with and without the K gate; partial gradient sets; determinism across thread counts;
// rejected arguments. CUDA against the CPU twin on the same cases, outputs poisoned first
// (skipped, saying why, without a GPU).
#include <cmath>
#include <limits>
#include <string>

#include "core/parallel.h"
#include "harness.h"
#include "ops/poso_attention/poso_attention.h"

namespace {

enum class Keys { kAll, kLengths, kMask };

struct Spec {
  int64_t B, Lq, L, H, dh, N;
  int64_t G = 0;  ///< fold gates: 0 none (N must be 1), 1 shared by heads, H per head
  bool gk = true;
  Keys keys = Keys::kLengths;
  float scale = 2.f;
  bool grads[5] = {true, true, true, true, true};  ///< dq, dk, dv, dgk, dgv wanted
  std::string name() const {
    return "B" + std::to_string(B) + " Lq" + std::to_string(Lq) + " L" + std::to_string(L) + " H" +
           std::to_string(H) + " dh" + std::to_string(dh) + " N" + std::to_string(N) + " G" + std::to_string(G) +
           (gk ? " gk" : "") + (keys == Keys::kAll ? " all" : keys == Keys::kLengths ? " lengths" : " mask");
  }
};

struct Problem {
  Spec s;
  std::vector<float> q, k, v, gk, gv, dout;
  std::vector<int32_t> lengths;
  std::vector<uint8_t> mask;
  int64_t D() const { return s.H * s.dh; }
  gw::PosoAttentionArgs args(const float* q_, const float* k_, const float* v_, const float* gk_,
                             const float* gv_, const int32_t* len_, const uint8_t* mask_) const {
    gw::PosoAttentionArgs a;
    a.batch = s.B, a.queries = s.Lq, a.keys = s.L, a.heads = s.H, a.head_dim = s.dh, a.folds = s.N;
    a.gate_heads = s.G ? s.G : 1, a.scale = s.scale, a.softmax_scale = 1.f / std::sqrt(float(s.dh));
    a.q = q_, a.k = k_, a.v = v_, a.gk = s.gk ? gk_ : nullptr, a.gv = s.G ? gv_ : nullptr;
    a.lengths = s.keys == Keys::kLengths ? len_ : nullptr;
    a.mask = s.keys == Keys::kMask ? mask_ : nullptr;
    return a;
  }
  gw::PosoAttentionArgs host_args() const {
    return args(q.data(), k.data(), v.data(), gk.data(), gv.data(), lengths.data(), mask.data());
  }
};

Problem make(const Spec& s, uint64_t seed) {
  Problem p{s};
  const int64_t D = s.H * s.dh;
  p.q = gwtest::random_floats(s.B * s.Lq * D, seed, -2.f, 2.f);
  p.k = gwtest::random_floats(s.B * s.L * D, seed + 1, -2.f, 2.f);
  p.v = gwtest::random_floats(s.B * s.L * s.N * D, seed + 2);
  p.gk = gwtest::random_floats(s.B * D, seed + 3, 0.f, 2.f);
  p.gv = gwtest::random_floats(s.B * s.N * (s.G ? s.G : 1), seed + 4, 0.f, 2.f);
  p.dout = gwtest::random_floats(s.B * s.Lq * D, seed + 5);
  std::mt19937_64 rng(seed + 6);
  p.lengths.resize(s.B);
  p.mask.resize(s.B * s.L);
  for (int64_t b = 0; b < s.B; ++b) {
    // lengths 0 (sample 1), L (sample 0) and random ones; masks with an empty row (sample 1)
    p.lengths[b] = b == 0 ? int32_t(s.L) : b == 1 ? 0 : int32_t(rng() % (s.L + 1));
    for (int64_t l = 0; l < s.L; ++l) p.mask[b * s.L + l] = b == 1 ? 0 : (b == 0 || rng() % 3 != 0);
  }
  return p;
}

struct Result {
  std::vector<double> out, dq, dk, dv, dgk, dgv;
};

bool valid_ref(const Problem& p, int64_t b, int64_t l) {
  if (p.s.keys == Keys::kLengths) return l < p.lengths[b];
  if (p.s.keys == Keys::kMask) return p.mask[b * p.s.L + l] != 0;
  return true;
}

/// The naive formula in float64: C·Σ_i g_i·softmax(σ·Q(gk⊙K)ᵀ)·V⁽ⁱ⁾, and its gradients
/// through each fold's attention separately.
Result reference(const Problem& p) {
  const Spec& s = p.s;
  const int64_t D = p.D(), G = s.G ? s.G : 1;
  const double sig = double(1.f / std::sqrt(float(s.dh)));  // the op's σ, in float32
  Result r;
  r.out.assign(s.B * s.Lq * D, 0), r.dq.assign(s.B * s.Lq * D, 0), r.dk.assign(s.B * s.L * D, 0);
  r.dv.assign(s.B * s.L * s.N * D, 0), r.dgk.assign(s.B * D, 0), r.dgv.assign(s.B * s.N * G, 0);
  auto gate_v = [&](int64_t b, int64_t i, int64_t h) -> double {
    return s.G ? p.gv[(b * s.N + i) * G + (G == 1 ? 0 : h)] : 1.0;
  };
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t qi = 0; qi < s.Lq; ++qi) {
        const int64_t qo = (b * s.Lq + qi) * D + h * s.dh;
        std::vector<double> sc(s.L), pr(s.L, 0.0);
        double m = -INFINITY;
        for (int64_t l = 0; l < s.L; ++l) {
          if (!valid_ref(p, b, l)) continue;
          double x = 0;
          for (int64_t d = 0; d < s.dh; ++d)
            x += double(p.q[qo + d]) * (s.gk ? p.gk[b * D + h * s.dh + d] : 1.0) * p.k[(b * s.L + l) * D + h * s.dh + d];
          sc[l] = sig * x;
          m = std::max(m, sc[l]);
        }
        if (m == -INFINITY) continue;  // no valid key: zero output and gradients
        double z = 0;
        for (int64_t l = 0; l < s.L; ++l)
          if (valid_ref(p, b, l)) z += (pr[l] = std::exp(sc[l] - m));
        for (auto& x : pr) x /= z;
        std::vector<double> dp(s.L, 0.0);
        for (int64_t i = 0; i < s.N; ++i) {  // fold i: its own attention output and backward
          const double gi = gate_v(b, i, h);
          for (int64_t d = 0; d < s.dh; ++d) {
            double oi = 0;
            for (int64_t l = 0; l < s.L; ++l) oi += pr[l] * p.v[((b * s.L + l) * s.N + i) * D + h * s.dh + d];
            r.out[qo + d] += s.scale * gi * oi;
            r.dgv[(b * s.N + i) * G + (G == 1 ? 0 : h)] += s.scale * p.dout[qo + d] * oi;
          }
          for (int64_t l = 0; l < s.L; ++l)
            for (int64_t d = 0; d < s.dh; ++d) {
              const int64_t vi = ((b * s.L + l) * s.N + i) * D + h * s.dh + d;
              r.dv[vi] += s.scale * gi * pr[l] * p.dout[qo + d];
              dp[l] += s.scale * gi * p.dout[qo + d] * p.v[vi];
            }
        }
        double pdp = 0;
        for (int64_t l = 0; l < s.L; ++l) pdp += pr[l] * dp[l];
        for (int64_t l = 0; l < s.L; ++l) {
          const double ds = pr[l] * (dp[l] - pdp);
          for (int64_t d = 0; d < s.dh; ++d) {
            const double g = s.gk ? p.gk[b * D + h * s.dh + d] : 1.0;
            const double kv = p.k[(b * s.L + l) * D + h * s.dh + d];
            r.dq[qo + d] += sig * ds * g * kv;
            r.dk[(b * s.L + l) * D + h * s.dh + d] += sig * ds * g * p.q[qo + d];
            r.dgk[b * D + h * s.dh + d] += sig * ds * p.q[qo + d] * kv;
          }
        }
      }
  return r;
}

struct Outs {
  std::vector<float> out, lse, dq, dk, dv, dgk, dgv;
};

Outs run_cpu(const Problem& p) {
  const Spec& s = p.s;
  const int64_t D = p.D(), G = s.G ? s.G : 1;
  Outs o;
  o.out = gwtest::poisoned(s.B * s.Lq * D), o.lse = gwtest::poisoned(s.B * s.H * s.Lq);
  o.dq = gwtest::poisoned(s.B * s.Lq * D), o.dk = gwtest::poisoned(s.B * s.L * D);
  o.dv = gwtest::poisoned(s.B * s.L * s.N * D), o.dgk = gwtest::poisoned(s.B * D);
  o.dgv = gwtest::poisoned(s.B * s.N * G);
  const auto a = p.host_args();
  gw::cpu::poso_attention_forward(a, {o.out.data(), o.lse.data()});
  gw::PosoAttentionGrads g;
  g.dout = p.dout.data(), g.out = o.out.data(), g.lse = o.lse.data();
  g.dq = s.grads[0] ? o.dq.data() : nullptr;
  g.dk = s.grads[1] ? o.dk.data() : nullptr;
  g.dv = s.grads[2] ? o.dv.data() : nullptr;
  g.dgk = s.grads[3] && s.gk ? o.dgk.data() : nullptr;
  g.dgv = s.grads[4] && s.G ? o.dgv.data() : nullptr;
  gw::cpu::poso_attention_backward(a, g);
  return o;
}

/// Compares one gradient against its reference, or checks it was left alone when not wanted.
void expect_grad(bool wanted, const std::vector<float>& got, const std::vector<double>& want, double atol,
                 const std::string& what) {
  if (wanted) gwtest::expect_close(got, want, 2e-4, atol, what.c_str());
  else gwtest::expect_all_nan(got, what);
}

void check_cpu(const Spec& s, uint64_t seed) {
  const Problem p = make(s, seed);
  const Result want = reference(p);
  const Outs got = run_cpu(p);
  const std::string w = "cpu " + s.name();
  gwtest::expect_close(got.out, want.out, 2e-4, 2e-5, (w + " out").c_str());
  expect_grad(s.grads[0], got.dq, want.dq, 1e-4, w + " dq");
  expect_grad(s.grads[1], got.dk, want.dk, 1e-4, w + " dk");
  expect_grad(s.grads[2], got.dv, want.dv, 1e-5, w + " dv");
  expect_grad(s.grads[3] && s.gk, got.dgk, want.dgk, 1e-4, w + " dgk");
  expect_grad(s.grads[4] && s.G, got.dgv, want.dgv, 1e-4, w + " dgv");
}

std::vector<Spec> shape_specs() {
  std::vector<Spec> v;
  v.push_back({3, 1, 9, 2, 16, 4, 2});                  // one query, per-head gates
  v.push_back({4, 3, 70, 3, 24, 3, 1});                 // shared gates, ragged key tiles
  v.push_back({3, 40, 33, 1, 64, 2, 1});                // query rows across query tiles
  v.push_back({2, 5, 19, 2, 128, 4, 2, false});         // no K gate
  v.push_back({3, 2, 12, 1, 256, 1, 0, true, Keys::kMask});  // plain MHA: no fold gates
  v.push_back({3, 2, 130, 2, 1, 2, 2, true, Keys::kMask});
  v.push_back({2, 1, 300, 4, 32, 4, 4, true, Keys::kAll});
  v.push_back({3, 2, 0, 2, 8, 2, 2});                   // no keys at all
  v.push_back({3, 0, 5, 2, 8, 2, 2});                   // no queries: key-side gradients are zero
  return v;
}

std::vector<Spec> partial_specs() {
  std::vector<Spec> v;
  for (int drop = 0; drop < 5; ++drop) {
    Spec s{3, 3, 21, 2, 16, 3, 1};
    for (int j = 0; j < 5; ++j) s.grads[j] = j != drop;
    v.push_back(s);
  }
  Spec only_dgk{3, 3, 21, 2, 16, 3, 2};  // dgk without dq: dqg goes to a scratch on CUDA
  for (int j = 0; j < 5; ++j) only_dgk.grads[j] = j == 3;
  v.push_back(only_dgk);
  return v;
}

}  // namespace

GW_TEST(poso_attention_cpu_matches_naive_formula) {
  uint64_t seed = 100;
  for (const Spec& s : shape_specs()) check_cpu(s, seed += 10);
}

GW_TEST(poso_attention_cpu_partial_gradients) {
  uint64_t seed = 500;
  for (const Spec& s : partial_specs()) check_cpu(s, seed += 10);
}

GW_TEST(poso_attention_cpu_deterministic_across_thread_counts) {
  const Problem p = make({64, 2, 50, 2, 32, 4, 1}, 77);
  const int before = gw::num_threads();
  gw::set_num_threads(1);
  const Outs one = run_cpu(p);
  gw::set_num_threads(4);
  const Outs four = run_cpu(p);
  gw::set_num_threads(before);
  GW_EXPECT(one.out == four.out && one.dq == four.dq && one.dk == four.dk && one.dv == four.dv &&
                one.dgk == four.dgk && one.dgv == four.dgv,
            "results differ between 1 and 4 threads");
}

GW_TEST(poso_attention_cpu_rejects_bad_args) {
  const Problem p = make({2, 1, 4, 1, 8, 2, 1}, 9);
  std::vector<float> out(64), lse(8);
  auto expect_throw = [&](gw::PosoAttentionArgs a, const char* what) {
    bool threw = false;
    try {
      gw::cpu::poso_attention_forward(a, {out.data(), lse.data()});
    } catch (const gw::Error&) {
      threw = true;
    }
    GW_EXPECT(threw, what, " was accepted");
  };
  auto a = p.host_args();
  a.head_dim = 300;
  expect_throw(a, "head_dim 300");
  a = p.host_args();
  a.folds = 17;
  expect_throw(a, "17 folds");
  a = p.host_args();
  a.gv = nullptr;
  expect_throw(a, "2 folds without gates");
  a = p.host_args();
  a.mask = p.mask.data();
  expect_throw(a, "lengths and mask");
  a = p.host_args();
  a.gate_heads = 3;
  expect_throw(a, "gate_heads 3");
}

#ifdef GW_WITH_CUDA
namespace {

void check_cuda(const Spec& s, uint64_t seed) {
  using gwtest::DeviceArray;
  const Problem p = make(s, seed);
  const Outs want = run_cpu(p);
  const int64_t D = p.D(), G = s.G ? s.G : 1;
  DeviceArray<float> q(p.q), k(p.k), v(p.v), gk(p.gk), gv(p.gv), dout(p.dout);
  DeviceArray<int32_t> len(p.lengths);
  DeviceArray<uint8_t> mask(p.mask);
  DeviceArray<float> out(s.B * s.Lq * D), lse(s.B * s.H * s.Lq), dq(s.B * s.Lq * D), dk(s.B * s.L * D),
      dv(s.B * s.L * s.N * D), dgk(s.B * D), dgv(s.B * s.N * G);
  for (auto* t : {&out, &lse, &dq, &dk, &dv, &dgk, &dgv}) t->poison();
  const auto a = p.args(q.get(), k.get(), v.get(), gk.get(), gv.get(), len.get(), mask.get());
  auto stream = gw::cudart::compute_stream();
  gw::cuda::poso_attention_forward(a, {out.get(), lse.get()}, stream);
  gw::PosoAttentionGrads g;
  g.dout = dout.get(), g.out = out.get(), g.lse = lse.get();
  g.dq = s.grads[0] ? dq.get() : nullptr;
  g.dk = s.grads[1] ? dk.get() : nullptr;
  g.dv = s.grads[2] ? dv.get() : nullptr;
  g.dgk = s.grads[3] && s.gk ? dgk.get() : nullptr;
  g.dgv = s.grads[4] && s.G ? dgv.get() : nullptr;
  gw::cuda::poso_attention_backward(a, g, stream);
  const std::string w = "cuda " + s.name();
  const auto close = [&](const DeviceArray<float>& got, const std::vector<float>& ref, bool wanted, double atol,
                         const char* what) {
    if (wanted) gwtest::expect_close(got.download(), ref, 2e-4, atol, (w + " " + what).c_str());
    else gwtest::expect_all_nan(got.download(), w + " " + what);
  };
  close(out, want.out, true, 2e-5, "out");
  close(lse, want.lse, s.Lq > 0, 1e-5, "lse");
  close(dq, want.dq, s.grads[0], 1e-4, "dq");
  close(dk, want.dk, s.grads[1], 1e-4, "dk");
  close(dv, want.dv, s.grads[2], 1e-5, "dv");
  close(dgk, want.dgk, s.grads[3] && s.gk, 1e-4, "dgk");
  close(dgv, want.dgv, s.grads[4] && s.G, 1e-4, "dgv");
}

}  // namespace
#endif

GW_TEST(poso_attention_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
#ifdef GW_WITH_CUDA
  uint64_t seed = 900;
  for (const Spec& s : shape_specs()) check_cuda(s, seed += 10);
  for (const Spec& s : partial_specs()) check_cuda(s, seed += 10);
  check_cuda({64, 1, 1000, 4, 64, 4, 4}, seed += 10);  // a realistic target-attention shape
  check_cuda({16, 50, 50, 2, 32, 4, 1, true, Keys::kMask}, seed += 10);
#endif
}
