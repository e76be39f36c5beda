// binary — CPU against a float64 broadcast reference (forward and both gradients); CUDA
// against CPU with poisoned outputs.
#include <vector>

#include "harness.h"
#include "ops/binary/binary.h"

namespace {

using gw::BinaryOp;
using gw::Dims;

struct Case {
  std::vector<int64_t> a, b;
};

// Same shape, bias rows, bias columns, scalar either side, general 4-d, and odd sizes.
const Case kCases[] = {
    {{1}, {1}},           {{1003}, {1003}},         {{7, 33}, {33}},        {{33, 7}, {33, 1}},
    {{1}, {1037}},        {{1037}, {1}},            {{5, 1, 7}, {3, 1}},    {{2, 3, 4, 5}, {3, 1, 5}},
    {{1000, 12}, {12}},   {{12}, {1000, 12}},       {{4, 1, 6}, {1, 5, 1}}, {{3, 0, 2}, {2}},
};
const BinaryOp kOps[] = {BinaryOp::kAdd, BinaryOp::kSub,     BinaryOp::kMul,    BinaryOp::kDiv,
                         BinaryOp::kMaximum, BinaryOp::kMinimum, BinaryOp::kPow};
const char* kNames[] = {"add", "sub", "mul", "div", "maximum", "minimum", "pow"};

Dims dims(const std::vector<int64_t>& s) { return gw::make_dims(s.data(), static_cast<int>(s.size())); }

std::vector<float> operand(BinaryOp op, size_t n, uint64_t seed, bool is_b) {
  if (op == BinaryOp::kPow) return is_b ? gwtest::random_floats(n, seed, -2.f, 2.f) : gwtest::random_floats(n, seed, 0.5f, 2.f);
  if (op == BinaryOp::kDiv && is_b) {
    auto v = gwtest::random_floats(n, seed, 0.5f, 2.f);
    for (size_t i = 0; i < n; i += 2) v[i] = -v[i];
    return v;
  }
  auto v = gwtest::random_floats(n, seed);
  // exact ties for maximum/minimum: every third element of a is set equal below
  return v;
}

/// Input offsets of out element i for a and b (right-aligned broadcasting).
void offsets(const Dims& out, const Dims& a, const Dims& b, int64_t i, int64_t& oa, int64_t& ob) {
  oa = ob = 0;
  int64_t ra = 1, rb = 1;
  for (int d = out.ndim - 1; d >= 0; --d) {
    int64_t c = i % out.d[d];
    i /= out.d[d];
    int ia = a.ndim - out.ndim + d, ib = b.ndim - out.ndim + d;
    int64_t da = ia >= 0 ? a.d[ia] : 1, db = ib >= 0 ? b.d[ib] : 1;
    if (da != 1) oa += c * ra;
    if (db != 1) ob += c * rb;
    ra *= da;
    rb *= db;
  }
}

double ref_fwd(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::kAdd: return a + b;
    case BinaryOp::kSub: return a - b;
    case BinaryOp::kMul: return a * b;
    case BinaryOp::kDiv: return a / b;
    case BinaryOp::kMaximum: return a >= b ? a : b;
    case BinaryOp::kMinimum: return a <= b ? a : b;
    case BinaryOp::kPow: return std::pow(a, b);
  }
  return 0;
}
void ref_grad(BinaryOp op, double g, double a, double b, double& da, double& db) {
  switch (op) {
    case BinaryOp::kAdd: da = g, db = g; return;
    case BinaryOp::kSub: da = g, db = -g; return;
    case BinaryOp::kMul: da = g * b, db = g * a; return;
    case BinaryOp::kDiv: da = g / b, db = -g * a / (b * b); return;
    case BinaryOp::kMaximum: da = a >= b ? g : 0, db = a >= b ? 0 : g; return;
    case BinaryOp::kMinimum: da = a <= b ? g : 0, db = a <= b ? 0 : g; return;
    case BinaryOp::kPow: da = g * b * std::pow(a, b - 1), db = g * std::pow(a, b) * std::log(a); return;
  }
}

struct Inputs {
  Dims da, db, dout;
  std::vector<float> a, b, g;
};

Inputs make_inputs(BinaryOp op, const Case& c, uint64_t seed) {
  Inputs in{dims(c.a), dims(c.b), {}, {}, {}, {}};
  in.dout = gw::broadcast_dims(in.da, in.db);
  in.a = operand(op, in.da.numel(), seed, false);
  in.b = operand(op, in.db.numel(), seed + 1, true);
  if (op == BinaryOp::kMaximum || op == BinaryOp::kMinimum) {  // some exact ties
    for (int64_t i = 0; i < in.dout.numel(); i += 3) {
      int64_t oa, ob;
      offsets(in.dout, in.da, in.db, i, oa, ob);
      in.a[oa] = in.b[ob];
    }
  }
  in.g = gwtest::random_floats(in.dout.numel(), seed + 2);
  return in;
}

}  // namespace

GW_TEST(binary_cpu_vs_f64) {
  for (size_t k = 0; k < 7; ++k) {
    for (const Case& c : kCases) {
      BinaryOp op = kOps[k];
      Inputs in = make_inputs(op, c, 11 + k);
      int64_t n = in.dout.numel();
      std::vector<double> want(n), wa(in.a.size(), 0.0), wb(in.b.size(), 0.0);
      for (int64_t i = 0; i < n; ++i) {
        int64_t oa, ob;
        offsets(in.dout, in.da, in.db, i, oa, ob);
        want[i] = ref_fwd(op, in.a[oa], in.b[ob]);
        double ga, gb;
        ref_grad(op, in.g[i], in.a[oa], in.b[ob], ga, gb);
        wa[oa] += ga;
        wb[ob] += gb;
      }
      std::vector<float> out = gwtest::poisoned(n), ga = gwtest::poisoned(in.a.size()), gb = gwtest::poisoned(in.b.size());
      gw::cpu::binary(op, in.a.data(), in.da, in.b.data(), in.db, out.data());
      gwtest::expect_close(out, want, 1e-5, 1e-6, kNames[k]);
      gw::cpu::binary_backward(op, in.g.data(), in.a.data(), in.da, in.b.data(), in.db, out.data(), ga.data(), gb.data());
      gwtest::expect_close(ga, wa, 1e-4, 1e-5, kNames[k]);
      gwtest::expect_close(gb, wb, 1e-4, 1e-5, kNames[k]);
      // Without the forward output, and one gradient at a time.
      std::vector<float> gb2 = gwtest::poisoned(in.b.size());
      gw::cpu::binary_backward(op, in.g.data(), in.a.data(), in.da, in.b.data(), in.db, nullptr, nullptr, gb2.data());
      gwtest::expect_close(gb2, wb, 1e-4, 1e-5, kNames[k]);
    }
  }
}

GW_TEST(binary_cpu_in_place) {
  auto a = gwtest::random_floats(1001, 3), b = gwtest::random_floats(1001, 4);
  std::vector<double> want(a.size());
  for (size_t i = 0; i < a.size(); ++i) want[i] = double(a[i]) * b[i];
  Dims d = dims({1001});
  gw::cpu::binary(BinaryOp::kMul, a.data(), d, b.data(), d, a.data());
  gwtest::expect_close(a, want, 1e-6, 0, "mul in place");
}

GW_TEST(binary_cpu_rejects_bad_shapes) {
  auto a = gwtest::random_floats(6, 1), b = gwtest::random_floats(4, 2);
  std::vector<float> out(24);
  bool threw = false;
  try {
    gw::cpu::binary(BinaryOp::kAdd, a.data(), dims({2, 3}), b.data(), dims({4}), out.data());
  } catch (const gw::Error& e) {
    threw = e.code() == gw::ErrorCode::kShape;
  }
  GW_EXPECT(threw, "(2,3) + (4) must throw ERR_GATEWISE_SHAPE");
}

#ifdef GW_WITH_CUDA
GW_TEST(binary_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  for (size_t k = 0; k < 7; ++k) {
    for (const Case& c : kCases) {
      BinaryOp op = kOps[k];
      Inputs in = make_inputs(op, c, 101 + k);
      size_t n = in.dout.numel();
      std::vector<float> out(n), ga(in.a.size()), gb(in.b.size());
      gw::cpu::binary(op, in.a.data(), in.da, in.b.data(), in.db, out.data());
      gw::cpu::binary_backward(op, in.g.data(), in.a.data(), in.da, in.b.data(), in.db, out.data(), ga.data(), gb.data());
      gwtest::DeviceArray<float> da(in.a), db(in.b), dg(in.g), dout(n), dga(in.a.size()), dgb(in.b.size());
      dout.poison(), dga.poison(), dgb.poison();
      auto s = gw::cudart::compute_stream();
      gw::cuda::binary(op, da.get(), in.da, db.get(), in.db, dout.get(), s);
      gwtest::expect_close(dout.download(), out, 1e-5, 1e-6, kNames[k]);
      gw::cuda::binary_backward(op, dg.get(), da.get(), in.da, db.get(), in.db, dout.get(), dga.get(), dgb.get(), s);
      gwtest::expect_close(dga.download(), ga, 1e-4, 1e-5, kNames[k]);
      gwtest::expect_close(dgb.download(), gb, 1e-4, 1e-5, kNames[k]);
    }
  }
}

GW_TEST(binary_cuda_unaligned_and_large) {
  GW_REQUIRE_CUDA();
  // Offsets of one float break 16-byte alignment; sizes large enough for several waves.
  const int64_t M = 4099, N = 260;
  auto a = gwtest::random_floats(M * N + 1, 7), b = gwtest::random_floats(N + 1, 8);
  std::vector<float> want(M * N);
  Dims dA = dims({M, N}), dB = dims({N});
  gw::cpu::binary(BinaryOp::kAdd, a.data() + 1, dA, b.data() + 1, dB, want.data());
  gwtest::DeviceArray<float> da(a), db(b), dout(M * N + 1);
  for (int off = 0; off < 2; ++off) {
    dout.poison();
    gw::cuda::binary(BinaryOp::kAdd, da.get() + 1, dA, db.get() + 1, dB, dout.get() + off, gw::cudart::compute_stream());
    auto got = dout.download();
    gwtest::expect_close(std::vector<float>(got.begin() + off, got.begin() + off + M * N), want, 0, 0, "bias add");
  }
}
#endif
