// gated_fc — the CPU twin against a naive float64 reference, forward and backward, both
// placements, every activation, scale ≠ 1, with and without bias; shapes through the
// blocked GEMM (ragged tiles, rows not a multiple of any tile), the skinny paths (rows or
// out ≤ 4, in ≤ 4), in == 0 and rows == 0; partial gradient sets (each output may be null);
// the accumulate (+=) / overwrite (=) contract; determinism across thread counts. CUDA
// against the CPU twin on the same cases (skipped, saying why, without a GPU).
#include <cmath>
#include <cstring>
#include <string>

#include "core/parallel.h"
#include "harness.h"
#include "ops/gated_fc/gated_fc.h"

namespace {

using gw::Act;
using gw::GatePlacement;

constexpr float kSlope = 0.05f;
const Act kActs[] = {Act::kIdentity, Act::kRelu, Act::kLeakyRelu, Act::kSigmoid, Act::kTanh, Act::kGelu};

const char* act_name(Act a) {
  static const char* names[] = {"identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu"};
  return names[int(a)];
}

double act_ref(Act act, double x) {
  switch (act) {
    case Act::kIdentity: return x;
    case Act::kRelu: return x > 0 ? x : 0;
    case Act::kLeakyRelu: return x > 0 ? x : kSlope * x;
    case Act::kSigmoid: return 1 / (1 + std::exp(-x));
    case Act::kTanh: return std::tanh(x);
    case Act::kGelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  }
  return x;
}

/// act′(x); the kink of relu / leaky_relu is decided by the sign of the op's own float32 z
/// (xf), so that a z within rounding of 0 cannot make the reference pick the other side.
double act_grad_ref(Act act, double x, float xf) {
  switch (act) {
    case Act::kIdentity: return 1;
    case Act::kRelu: return xf > 0 ? 1 : 0;
    case Act::kLeakyRelu: return xf > 0 ? 1 : kSlope;
    case Act::kSigmoid: {
      double s = 1 / (1 + std::exp(-x));
      return s * (1 - s);
    }
    case Act::kTanh: {
      double t = std::tanh(x);
      return 1 - t * t;
    }
    case Act::kGelu: return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
  }
  return 1;
}

struct Spec {
  int64_t rows, in, out;
  GatePlacement placement = GatePlacement::kLazy;
  Act act = Act::kIdentity;
  bool bias = true;
  float scale = 1.75f;
  // which gradients are wanted
  bool dx = true, dgate = true, dweight = true, dbias = true;
  bool save_z = true;  ///< forward writes z (eager identity backward may go without)
};

std::string describe(const Spec& s) {
  return gw::detail::cat(s.placement == GatePlacement::kLazy ? "lazy" : "eager", " ", act_name(s.act), " rows ",
                         s.rows, " in ", s.in, " out ", s.out, " bias ", s.bias, " scale ", s.scale, " grads ", s.dx,
                         s.dgate, s.dweight, s.dbias, " z ", s.save_z);
}

int64_t gate_cols(const Spec& s) { return s.placement == GatePlacement::kLazy ? s.out : s.in; }

/// Host inputs of one case; dweight and dbias start from random values (they accumulate).
struct Problem {
  Spec s;
  std::vector<float> x, gate, w, bias, dy, dw0, db0;
  Problem(const Spec& spec, uint64_t seed) : s(spec) {
    x = gwtest::random_floats(size_t(s.rows * s.in), seed);
    gate = gwtest::random_floats(size_t(s.rows * gate_cols(s)), seed + 1, -2.f, 2.f);
    w = gwtest::random_floats(size_t(s.out * s.in), seed + 2, -0.5f, 0.5f);
    bias = gwtest::random_floats(size_t(s.out), seed + 3);
    dy = gwtest::random_floats(size_t(s.rows * s.out), seed + 4);
    dw0 = gwtest::random_floats(size_t(s.out * s.in), seed + 5);
    db0 = gwtest::random_floats(size_t(s.out), seed + 6);
  }
  gw::GatedFcArgs args(const float* x_, const float* gate_, const float* w_, const float* bias_) const {
    gw::GatedFcArgs a;
    a.rows = s.rows, a.in = s.in, a.out = s.out, a.placement = s.placement, a.act = s.act;
    a.leaky_slope = kSlope, a.scale = s.scale;
    a.x = x_, a.gate = gate_, a.weight = w_, a.bias = s.bias ? bias_ : nullptr;
    return a;
  }
  double fwd_atol() const { return 1e-5 + 4e-6 * double(s.in) * 4 * std::fabs(s.scale); }
  double dw_atol() const { return 1e-5 + 4e-6 * double(s.rows) * 4 * std::fabs(s.scale); }
  double dx_atol() const { return 1e-5 + 4e-6 * double(s.out) * 4 * s.scale * s.scale; }
};

/// Everything the op produces, on the host.
struct Result {
  std::vector<float> y, z, xg, dx, dgate, dw, db;
};

struct Reference {
  std::vector<double> y, z, xg, dx, dgate, dw, db;
};

/// float64 reference; `zf` is the op's float32 z (for the kink decisions only).
Reference reference(const Problem& p, const std::vector<float>& zf) {
  const Spec& s = p.s;
  const bool lazy = s.placement == GatePlacement::kLazy;
  const size_t B = size_t(s.rows), I = size_t(s.in), O = size_t(s.out);
  Reference r;
  r.xg.assign(B * I, 0);
  for (size_t i = 0; i < B * I; ++i) r.xg[i] = lazy ? 0 : double(s.scale) * p.gate[i] * p.x[i];
  r.z.assign(B * O, 0), r.y.assign(B * O, 0);
  for (size_t b = 0; b < B; ++b)
    for (size_t o = 0; o < O; ++o) {
      double acc = s.bias ? p.bias[o] : 0.0;
      for (size_t i = 0; i < I; ++i) acc += (lazy ? double(p.x[b * I + i]) : r.xg[b * I + i]) * p.w[o * I + i];
      r.z[b * O + o] = acc;
      const double a = act_ref(s.act, acc);
      r.y[b * O + o] = lazy ? double(s.scale) * p.gate[b * O + o] * a : a;
    }
  // backward
  std::vector<double> dz(B * O);
  r.dgate.assign(B * size_t(gate_cols(s)), 0);
  for (size_t k = 0; k < B * O; ++k) {
    const double g = act_grad_ref(s.act, r.z[k], zf.empty() ? float(r.z[k]) : zf[k]);
    if (lazy) {
      dz[k] = double(s.scale) * p.gate[k] * p.dy[k] * g;
      r.dgate[k] = double(s.scale) * act_ref(s.act, r.z[k]) * p.dy[k];
    } else {
      dz[k] = p.dy[k] * g;
    }
  }
  r.db.assign(O, 0);
  for (size_t o = 0; o < O; ++o) {
    double acc = p.db0[o];
    for (size_t b = 0; b < B; ++b) acc += dz[b * O + o];
    r.db[o] = acc;
  }
  r.dw.assign(O * I, 0);
  for (size_t o = 0; o < O; ++o)
    for (size_t i = 0; i < I; ++i) {
      double acc = p.dw0[o * I + i];
      for (size_t b = 0; b < B; ++b) acc += dz[b * O + o] * (lazy ? double(p.x[b * I + i]) : r.xg[b * I + i]);
      r.dw[o * I + i] = acc;
    }
  r.dx.assign(B * I, 0);
  for (size_t b = 0; b < B; ++b)
    for (size_t i = 0; i < I; ++i) {
      double acc = 0;
      for (size_t o = 0; o < O; ++o) acc += dz[b * O + o] * p.w[o * I + i];
      if (lazy) {
        r.dx[b * I + i] = acc;
      } else {
        r.dx[b * I + i] = double(s.scale) * p.gate[b * I + i] * acc;
        r.dgate[b * I + i] = double(s.scale) * p.x[b * I + i] * acc;
      }
    }
  return r;
}

/// The CPU backward into r's gradients from the saved z and xg given (r.z and r.xg when
/// the forward ran here; the device's in the parity test, so that both backward passes see
/// the same z: a z within rounding of relu's kink cannot then pick different sides).
void run_cpu_backward(const Problem& p, const std::vector<float>& z, const std::vector<float>& xg, Result& r) {
  const Spec& s = p.s;
  const gw::GatedFcArgs a = p.args(p.x.data(), p.gate.data(), p.w.data(), p.bias.data());
  r.dx = gwtest::poisoned(size_t(s.rows * s.in));
  r.dgate = gwtest::poisoned(size_t(s.rows * gate_cols(s)));
  r.dw = p.dw0, r.db = p.db0;
  gw::GatedFcGrads g;
  g.dy = p.dy.data(), g.z = s.save_z ? z.data() : nullptr;
  g.xg = s.placement == GatePlacement::kEager ? xg.data() : nullptr;
  g.dx = s.dx ? r.dx.data() : nullptr, g.dgate = s.dgate ? r.dgate.data() : nullptr;
  g.dweight = s.dweight ? r.dw.data() : nullptr, g.dbias = s.dbias ? r.db.data() : nullptr;
  gw::cpu::gated_fc_backward(a, g);
}

/// Runs forward then backward on the CPU twin, every output poisoned first.
Result run_cpu(const Problem& p) {
  const Spec& s = p.s;
  const bool eager = s.placement == GatePlacement::kEager;
  Result r;
  r.y = gwtest::poisoned(size_t(s.rows * s.out));
  r.z = gwtest::poisoned(s.save_z ? size_t(s.rows * s.out) : 0);
  r.xg = gwtest::poisoned(eager ? size_t(s.rows * s.in) : 0);
  const gw::GatedFcArgs a = p.args(p.x.data(), p.gate.data(), p.w.data(), p.bias.data());
  gw::GatedFcOut o;
  o.y = r.y.data(), o.z = s.save_z ? r.z.data() : nullptr, o.xg = eager ? r.xg.data() : nullptr;
  gw::cpu::gated_fc_forward(a, o);
  run_cpu_backward(p, r.z, r.xg, r);
  return r;
}

/// Untouched outputs keep their initial contents: NaN for dx / dgate, dw0 / db0 for the rest.
void expect_untouched(const std::vector<float>& v, const std::vector<float>& init, const std::string& what) {
  GW_EXPECT(v.size() == init.size(), what);
  for (size_t i = 0; i < v.size(); ++i)
    GW_EXPECT(std::memcmp(&v[i], &init[i], sizeof(float)) == 0, what, ": element ", i, " was written");
}

/// Every element still NaN (a device buffer poisoned with 0xFF bytes that was not written).
void check_against_reference(const Problem& p, const Result& r, const std::string& what) {
  const Spec& s = p.s;
  const Reference want = reference(p, r.z);
  gwtest::expect_close(r.y, want.y, 1e-5, p.fwd_atol(), (what + " y").c_str());
  if (s.save_z) gwtest::expect_close(r.z, want.z, 1e-5, p.fwd_atol(), (what + " z").c_str());
  if (s.placement == GatePlacement::kEager) gwtest::expect_close(r.xg, want.xg, 1e-6, 1e-6, (what + " xg").c_str());
  if (s.dx) gwtest::expect_close(r.dx, want.dx, 1e-5, p.dx_atol(), (what + " dx").c_str());
  else expect_untouched(r.dx, gwtest::poisoned(r.dx.size()), what + " dx");
  if (s.dgate) gwtest::expect_close(r.dgate, want.dgate, 1e-5, p.dx_atol(), (what + " dgate").c_str());
  else expect_untouched(r.dgate, gwtest::poisoned(r.dgate.size()), what + " dgate");
  if (s.dweight) gwtest::expect_close(r.dw, want.dw, 1e-5, p.dw_atol(), (what + " dweight").c_str());
  else expect_untouched(r.dw, p.dw0, what + " dweight");
  if (s.dbias) gwtest::expect_close(r.db, want.db, 1e-5, p.dw_atol(), (what + " dbias").c_str());
  else expect_untouched(r.db, p.db0, what + " dbias");
}

/// Shapes: generic ragged, past the blocked GEMM's tiles and K blocks (several bias chunks),
/// skinny rows / out / in (≤ 4), one row, empty in and empty rows.
std::vector<Spec> shape_specs() {
  const int64_t shapes[][3] = {{37, 19, 23}, {130, 65, 70}, {3, 50, 40}, {50, 30, 2}, {1, 7, 5},
                               {200, 3, 64}, {4, 4, 4},     {5, 0, 6},   {0, 8, 9},   {513, 257, 300}};
  std::vector<Spec> v;
  int k = 0;
  for (auto& sh : shapes)
    for (GatePlacement pl : {GatePlacement::kLazy, GatePlacement::kEager})
      for (Act act : kActs) {
        if (sh[0] * sh[1] * sh[2] > 1000000 && k++ % 3 != 0) continue;  // the big shape: a third of the cases
        Spec s{sh[0], sh[1], sh[2]};
        s.placement = pl, s.act = act, s.bias = (int(act) + int(pl)) % 3 != 0;
        s.scale = act == Act::kIdentity ? 1.f : act == Act::kTanh ? -0.5f : 1.75f;
        v.push_back(s);
      }
  return v;
}

/// Partial gradient sets and the eager paths they select (dx in the GEMM epilogue without
/// dgate; dgate alone; no z for eager identity; only the bias).
std::vector<Spec> partial_specs() {
  std::vector<Spec> v;
  for (GatePlacement pl : {GatePlacement::kLazy, GatePlacement::kEager})
    for (int mask = 0; mask < 16; ++mask) {
      Spec s{67, 33, 45};
      s.placement = pl, s.act = mask % 2 ? Act::kGelu : Act::kLeakyRelu;
      s.dx = mask & 1, s.dgate = mask & 2, s.dweight = mask & 4, s.dbias = mask & 8;
      v.push_back(s);
    }
  Spec no_z{66, 34, 44};
  no_z.placement = GatePlacement::kEager, no_z.save_z = false;  // identity: dz is dy
  v.push_back(no_z);
  no_z.dgate = false;
  v.push_back(no_z);
  return v;
}

}  // namespace

GW_TEST(gated_fc_cpu_shapes_and_activations) {
  uint64_t seed = 1000;
  for (const Spec& s : shape_specs()) {
    Problem p(s, seed += 10);
    check_against_reference(p, run_cpu(p), "cpu " + describe(s));
  }
}

GW_TEST(gated_fc_cpu_partial_gradients) {
  uint64_t seed = 2000;
  for (const Spec& s : partial_specs()) {
    Problem p(s, seed += 10);
    check_against_reference(p, run_cpu(p), "cpu " + describe(s));
  }
}

GW_TEST(gated_fc_cpu_deterministic_across_thread_counts) {
  for (GatePlacement pl : {GatePlacement::kLazy, GatePlacement::kEager}) {
    Spec s{700, 96, 130};
    s.placement = pl, s.act = Act::kSigmoid;
    Problem p(s, 77);
    const int threads = gw::num_threads();
    const Result a = run_cpu(p);
    gw::set_num_threads(threads == 1 ? 3 : 1);
    const Result b = run_cpu(p);
    gw::set_num_threads(threads);
    const std::string what = describe(s) + " bitwise equal across thread counts";
    gwtest::expect_close(b.y, a.y, 0, 0, (what + " y").c_str());
    gwtest::expect_close(b.dx, a.dx, 0, 0, (what + " dx").c_str());
    gwtest::expect_close(b.dgate, a.dgate, 0, 0, (what + " dgate").c_str());
    gwtest::expect_close(b.dw, a.dw, 0, 0, (what + " dweight").c_str());
    gwtest::expect_close(b.db, a.db, 0, 0, (what + " dbias").c_str());
  }
}

GW_TEST(gated_fc_cpu_rejects_bad_args) {
  auto throws = [](auto fn) {
    try {
      fn();
    } catch (const gw::Error& e) {
      return e.code() == gw::ErrorCode::kArgument;
    }
    return false;
  };
  gw::GatedFcArgs a;
  a.rows = -1;
  GW_EXPECT(throws([&] { gw::cpu::gated_fc_forward(a, {}); }), "negative rows must throw kArgument");
  std::vector<float> x(6), gate(6), w(4), y(6), dy(6);
  a.rows = 3, a.in = 2, a.out = 2, a.x = x.data(), a.gate = gate.data(), a.weight = w.data();
  a.placement = GatePlacement::kEager;
  gw::GatedFcOut o;
  o.y = y.data();
  GW_EXPECT(throws([&] { gw::cpu::gated_fc_forward(a, o); }), "eager forward without xg must throw kArgument");
  a.placement = GatePlacement::kLazy;
  gw::GatedFcGrads g;
  g.dy = dy.data(), g.dx = x.data();
  GW_EXPECT(throws([&] { gw::cpu::gated_fc_backward(a, g); }), "lazy backward without z must throw kArgument");
}

// ---- CUDA against the CPU twin (skips with the reason when no GPU can be used)

#ifdef GW_WITH_CUDA
namespace {

void check_cuda(const Spec& s, uint64_t seed) {
  using gwtest::DeviceArray;
  Problem p(s, seed);
  Result want = run_cpu(p);
  const bool eager = s.placement == GatePlacement::kEager;
  DeviceArray<float> x(p.x), gate(p.gate), w(p.w), bias(p.bias), dy(p.dy), dw(p.dw0), db(p.db0);
  DeviceArray<float> y(want.y.size()), z(want.z.size()), xg(want.xg.size()), dx(want.dx.size()),
      dgate(want.dgate.size());
  for (auto* d : {&y, &z, &xg, &dx, &dgate}) d->poison();
  const gw::GatedFcArgs a = p.args(x.get(), gate.get(), w.get(), bias.get());
  gw::GatedFcOut o;
  o.y = y.get(), o.z = s.save_z ? z.get() : nullptr, o.xg = eager ? xg.get() : nullptr;
  gw::cuda::gated_fc_forward(a, o, gw::cudart::compute_stream());
  const std::string what = "cuda " + describe(s);
  const std::vector<float> zd = z.download(), xgd = xg.download();
  gwtest::expect_close(y.download(), want.y, 1e-5, p.fwd_atol(), (what + " y").c_str());
  if (s.save_z) gwtest::expect_close(zd, want.z, 1e-5, p.fwd_atol(), (what + " z").c_str());
  if (eager) gwtest::expect_close(xgd, want.xg, 1e-6, 1e-6, (what + " xg").c_str());

  run_cpu_backward(p, zd, xgd, want);  // the same saved z and xg on both sides
  gw::GatedFcGrads g;
  g.dy = dy.get(), g.z = o.z, g.xg = o.xg;
  g.dx = s.dx ? dx.get() : nullptr, g.dgate = s.dgate ? dgate.get() : nullptr;
  g.dweight = s.dweight ? dw.get() : nullptr, g.dbias = s.dbias ? db.get() : nullptr;
  gw::cuda::gated_fc_backward(a, g, gw::cudart::compute_stream());
  if (s.dx) gwtest::expect_close(dx.download(), want.dx, 1e-5, p.dx_atol(), (what + " dx").c_str());
  else gwtest::expect_all_nan(dx.download(), what + " dx");
  if (s.dgate) gwtest::expect_close(dgate.download(), want.dgate, 1e-5, p.dx_atol(), (what + " dgate").c_str());
  else gwtest::expect_all_nan(dgate.download(), what + " dgate");
  gwtest::expect_close(dw.download(), want.dw, 1e-5, p.dw_atol(), (what + " dweight").c_str());
  gwtest::expect_close(db.download(), want.db, 1e-5, p.dw_atol(), (what + " dbias").c_str());
}

}  // namespace
#endif

GW_TEST(gated_fc_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
#ifdef GW_WITH_CUDA
  uint64_t seed = 3000;
  for (const Spec& s : shape_specs()) check_cuda(s, seed += 10);
  for (const Spec& s : partial_specs()) check_cuda(s, seed += 10);
  // Large enough for the 128×128 GEMM tiles and many bias chunks; float4 and scalar rows.
  for (int64_t out : {512, 510})
    for (GatePlacement pl : {GatePlacement::kLazy, GatePlacement::kEager}) {
      Spec s{4099, 256, out};
      s.placement = pl, s.act = out == 512 ? Act::kGelu : Act::kRelu;
      check_cuda(s, seed += 10);
    }
#endif
}
