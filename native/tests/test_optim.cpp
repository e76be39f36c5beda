// optim — fused SGD / Adam / AdamW / AdaGrad and global-norm clipping. CPU twins against
// float64 references over several steps on groups of odd-sized tensors; CUDA against the
// CPU twin on groups that span several launches (more tensors than one launch holds, a
// tensor larger than one launch's chunks, tensors that are not 16-byte aligned).
#include <memory>

#include "core/error.h"
#include "core/parallel.h"
#include "harness.h"
#include "ops/optim/adagrad.h"
#include "ops/optim/adam.h"
#include "ops/optim/grad_norm.h"
#include "ops/optim/sgd.h"

namespace {

using Lists = std::vector<std::vector<float>>;
using Lists64 = std::vector<std::vector<double>>;

const std::vector<int64_t> kCpuSizes = {1, 7, 33, 1000, 0, 4099, 70001, 3};

Lists random_lists(const std::vector<int64_t>& sizes, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  Lists l;
  for (size_t i = 0; i < sizes.size(); ++i) l.push_back(gwtest::random_floats(sizes[i], seed * 1000 + i, lo, hi));
  return l;
}
Lists constant_lists(const std::vector<int64_t>& sizes, float value) {
  Lists l;
  for (int64_t n : sizes) l.emplace_back(n, value);
  return l;
}
Lists64 to64(const Lists& l) {
  Lists64 r;
  for (const auto& v : l) r.emplace_back(v.begin(), v.end());
  return r;
}
std::vector<float*> ptrs(Lists& l) {
  std::vector<float*> p;
  for (auto& v : l) p.push_back(v.data());
  return p;
}
std::vector<const float*> cptrs(const Lists& l) {
  std::vector<const float*> p;
  for (const auto& v : l) p.push_back(v.data());
  return p;
}
template <typename T>
std::vector<T> flat(const std::vector<std::vector<T>>& l) {
  std::vector<T> f;
  for (const auto& v : l) f.insert(f.end(), v.begin(), v.end());
  return f;
}

// ---- float64 references (PyTorch's update rules, written out)

void sgd_ref(Lists64& p, const Lists& grad, Lists64& buf, const gw::SgdOptions& o) {
  for (size_t i = 0; i < p.size(); ++i)
    for (size_t j = 0; j < p[i].size(); ++j) {
      double g = grad[i][j] + double(o.weight_decay) * p[i][j];
      if (o.momentum != 0) {
        buf[i][j] = o.first_step ? g : double(o.momentum) * buf[i][j] + (1.0 - o.dampening) * g;
        g = o.nesterov ? g + double(o.momentum) * buf[i][j] : buf[i][j];
      }
      p[i][j] -= double(o.lr) * g;
    }
}

void adam_ref(Lists64& p, const Lists& grad, Lists64& m, Lists64& v, Lists64* max_v, const gw::AdamOptions& o) {
  const double b1 = o.beta1, b2 = o.beta2, lr = o.lr, wd = o.weight_decay;
  const double bc1 = 1 - std::pow(b1, double(o.step)), bc2 = 1 - std::pow(b2, double(o.step));
  for (size_t i = 0; i < p.size(); ++i)
    for (size_t j = 0; j < p[i].size(); ++j) {
      double g = grad[i][j];
      if (o.decoupled) p[i][j] *= 1 - lr * wd;
      else g += wd * p[i][j];
      m[i][j] = b1 * m[i][j] + (1 - b1) * g;
      v[i][j] = b2 * v[i][j] + (1 - b2) * g * g;
      double vv = v[i][j];
      if (max_v) vv = (*max_v)[i][j] = std::max((*max_v)[i][j], vv);
      p[i][j] -= lr / bc1 * m[i][j] / (std::sqrt(vv) / std::sqrt(bc2) + double(o.eps));
    }
}

void adagrad_ref(Lists64& p, const Lists& grad, Lists64& acc, const gw::AdagradOptions& o) {
  const double clr = double(o.lr) / (1 + double(o.step - 1) * o.lr_decay);
  for (size_t i = 0; i < p.size(); ++i)
    for (size_t j = 0; j < p[i].size(); ++j) {
      const double g = grad[i][j] + double(o.weight_decay) * p[i][j];
      acc[i][j] += g * g;
      p[i][j] -= clr * g / (std::sqrt(acc[i][j]) + double(o.eps));
    }
}

double norm_ref(const Lists& g) {
  double s = 0;
  for (const auto& v : g)
    for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

constexpr double kRtol = 2e-5, kAtol = 2e-6;

}  // namespace

// ---- CPU twins against float64

GW_TEST(optim_sgd_cpu_vs_ref) {
  struct Variant {
    float momentum, dampening, wd;
    bool nesterov;
  };
  for (Variant var : {Variant{0.f, 0.f, 0.01f, false}, Variant{0.9f, 0.1f, 0.01f, false},
                      Variant{0.9f, 0.f, 0.f, true}}) {
    Lists p = random_lists(kCpuSizes, 1), buf = constant_lists(kCpuSizes, 7.f);  // first step ignores buf
    Lists64 p64 = to64(p), buf64 = to64(buf);
    std::vector<int64_t> numels(kCpuSizes);
    for (int step = 1; step <= 3; ++step) {
      Lists g = random_lists(kCpuSizes, 10 + step);
      gw::SgdOptions o;
      o.lr = 0.1f, o.momentum = var.momentum, o.dampening = var.dampening, o.weight_decay = var.wd;
      o.nesterov = var.nesterov, o.first_step = step == 1;
      gw::cpu::sgd_step(ptrs(p).data(), cptrs(g).data(), var.momentum != 0 ? ptrs(buf).data() : nullptr,
                        numels.data(), int64_t(numels.size()), o);
      sgd_ref(p64, g, buf64, o);
    }
    gwtest::expect_close(flat(p), flat(p64), kRtol, kAtol, "sgd params");
    if (var.momentum != 0) gwtest::expect_close(flat(buf), flat(buf64), kRtol, kAtol, "sgd momentum buffers");
  }
}

GW_TEST(optim_adam_cpu_vs_ref) {
  struct Variant {
    float wd;
    bool decoupled, amsgrad;
  };
  for (Variant var : {Variant{0.01f, false, false}, Variant{0.1f, true, false}, Variant{0.05f, true, true}}) {
    Lists p = random_lists(kCpuSizes, 2), m = constant_lists(kCpuSizes, 0.f), v = m, mv = m;
    Lists64 p64 = to64(p), m64 = to64(m), v64 = to64(v), mv64 = to64(mv);
    std::vector<int64_t> numels(kCpuSizes);
    for (int step = 1; step <= 4; ++step) {
      // Shrinking gradients make v fall, so amsgrad's max differs from v.
      Lists g = random_lists(kCpuSizes, 20 + step, -1.f / step, 1.f / step);
      gw::AdamOptions o;
      o.lr = 0.05f, o.weight_decay = var.wd, o.decoupled = var.decoupled, o.step = step;
      gw::cpu::adam_step(ptrs(p).data(), cptrs(g).data(), ptrs(m).data(), ptrs(v).data(),
                         var.amsgrad ? ptrs(mv).data() : nullptr, numels.data(), int64_t(numels.size()), o);
      adam_ref(p64, g, m64, v64, var.amsgrad ? &mv64 : nullptr, o);
    }
    gwtest::expect_close(flat(p), flat(p64), kRtol, kAtol, "adam params");
    gwtest::expect_close(flat(m), flat(m64), kRtol, kAtol, "adam m");
    gwtest::expect_close(flat(v), flat(v64), kRtol, kAtol, "adam v");
    if (var.amsgrad) gwtest::expect_close(flat(mv), flat(mv64), kRtol, kAtol, "adam max_v");
  }
}

GW_TEST(optim_adagrad_cpu_vs_ref) {
  Lists p = random_lists(kCpuSizes, 3), acc = constant_lists(kCpuSizes, 0.1f);
  Lists64 p64 = to64(p), acc64 = to64(acc);
  std::vector<int64_t> numels(kCpuSizes);
  for (int step = 1; step <= 3; ++step) {
    Lists g = random_lists(kCpuSizes, 30 + step);
    gw::AdagradOptions o;
    o.lr = 0.05f, o.lr_decay = 0.1f, o.weight_decay = 0.01f, o.step = step;
    gw::cpu::adagrad_step(ptrs(p).data(), cptrs(g).data(), ptrs(acc).data(), numels.data(), int64_t(numels.size()),
                          o);
    adagrad_ref(p64, g, acc64, o);
  }
  gwtest::expect_close(flat(p), flat(p64), kRtol, kAtol, "adagrad params");
  gwtest::expect_close(flat(acc), flat(acc64), kRtol, kAtol, "adagrad acc");
}

GW_TEST(optim_grad_norm_cpu_vs_ref_and_deterministic) {
  std::vector<int64_t> sizes = {1, 7, 33, 1000, 0, 100003, 33000, 5};
  Lists g = random_lists(sizes, 4);
  float norm = std::nanf("");
  uint8_t flag = 0xFF;
  gw::cpu::grad_norm(cptrs(g).data(), sizes.data(), int64_t(sizes.size()), &norm, &flag);
  gwtest::expect_close({norm}, std::vector<double>{norm_ref(g)}, 1e-6, 0, "grad norm");
  GW_EXPECT(flag == 0, "finite norm flagged: ", int(flag));

  const int threads = gw::num_threads();
  float norm1 = 0, norm4 = 0;
  gw::set_num_threads(1);
  gw::cpu::grad_norm(cptrs(g).data(), sizes.data(), int64_t(sizes.size()), &norm1, nullptr);
  gw::set_num_threads(4);
  gw::cpu::grad_norm(cptrs(g).data(), sizes.data(), int64_t(sizes.size()), &norm4, nullptr);
  gw::set_num_threads(threads);
  GW_EXPECT(norm1 == norm && norm4 == norm, "norm depends on the thread count: ", norm1, " ", norm4, " ", norm);

  float empty_norm = std::nanf("");
  uint8_t empty_flag = 0xFF;
  gw::cpu::grad_norm(nullptr, nullptr, 0, &empty_norm, &empty_flag);
  GW_EXPECT(empty_norm == 0.f && empty_flag == 0, "empty list: ", empty_norm, " ", int(empty_flag));
}

GW_TEST(optim_grad_norm_cpu_non_finite) {
  std::vector<int64_t> sizes = {33, 70001};
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    Lists g = random_lists(sizes, 5);
    g[1][50000] = bad;
    float norm = 0;
    uint8_t flag = 0;
    gw::cpu::grad_norm(cptrs(g).data(), sizes.data(), 2, &norm, &flag);
    GW_EXPECT(!std::isfinite(norm) && flag == 1, "a ", bad, " gradient gave norm ", norm, " flag ", int(flag));
  }
}

GW_TEST(optim_clip_by_norm_cpu) {
  std::vector<int64_t> sizes = {1, 7, 1000, 70001};
  const Lists g0 = random_lists(sizes, 6);
  const double n = norm_ref(g0);
  // Clipped: g · max_norm / (norm + 1e-6).
  Lists g = g0;
  float norm = static_cast<float>(n);
  gw::cpu::clip_by_norm(ptrs(g).data(), sizes.data(), 4, &norm, 0.5f * norm);
  Lists64 want = to64(g0);
  for (auto& v : want)
    for (double& x : v) x *= 0.5 * norm / (norm + 1e-6);
  gwtest::expect_close(flat(g), flat(want), 1e-6, 0, "clipped grads");
  // Under the limit, or a non-finite norm: untouched, bit for bit.
  for (float nv : {norm, std::nanf(""), INFINITY}) {
    Lists h = g0;
    gw::cpu::clip_by_norm(ptrs(h).data(), sizes.data(), 4, &nv, 2.f * norm);
    gwtest::expect_close(flat(h), flat(g0), 0, 0, "unclipped grads");
  }
}

GW_TEST(optim_options_checked) {
  auto throws = [](auto fn) {
    try {
      fn();
    } catch (const gw::Error& e) {
      return e.code() == gw::ErrorCode::kArgument;
    }
    return false;
  };
  gw::SgdOptions s;
  s.nesterov = true;  // needs momentum > 0
  GW_EXPECT(throws([&] { gw::check_sgd_options(s); }), "nesterov without momentum accepted");
  s.momentum = 0.9f, s.dampening = 0.1f;
  GW_EXPECT(throws([&] { gw::check_sgd_options(s); }), "nesterov with dampening accepted");
  s.dampening = 0.f;
  gw::check_sgd_options(s);
  gw::AdamOptions a;
  a.beta2 = 1.f;
  GW_EXPECT(throws([&] { gw::check_adam_options(a); }), "beta2 = 1 accepted");
  a.beta2 = 0.999f, a.step = 0;
  GW_EXPECT(throws([&] { gw::check_adam_options(a); }), "step 0 accepted");
  gw::AdagradOptions g;
  g.lr = -1.f;
  GW_EXPECT(throws([&] { gw::check_adagrad_options(g); }), "negative lr accepted");
  float p = 1.f, gr = 1.f, *pp = &p;
  const float* gp = &gr;
  int64_t n = 1;
  gw::SgdOptions m;
  m.momentum = 0.9f;
  GW_EXPECT(throws([&] { gw::cpu::sgd_step(&pp, &gp, nullptr, &n, 1, m); }), "momentum without buffers accepted");
}

// ---- CUDA against the CPU twin

#ifdef GW_WITH_CUDA
namespace {

/// Sizes that make the CUDA launcher split the group several ways: 100 tensors (more than
/// one launch holds at any depth), one tensor of more chunks than one launch, chunk edges.
std::vector<int64_t> cuda_sizes() {
  std::vector<int64_t> s = {1, 7, 33, 1000, 0, 4099, 16384, 16385, 70001};
  for (int i = 0; s.size() < 100; ++i) s.push_back((i * 2713) % 3001 + 1);
  s[50] = int64_t(480) * 16384 + 12345;
  return s;
}

/// A list on the device; every tensor with i % 5 == 3 starts one float past an aligned
/// address, so its chunks take the scalar path.
struct DeviceLists {
  std::vector<std::unique_ptr<gwtest::DeviceArray<float>>> bufs;
  std::vector<float*> ptrs;
  std::vector<int> offsets;
  explicit DeviceLists(const Lists& host) {
    for (size_t i = 0; i < host.size(); ++i) {
      const int off = i % 5 == 3 ? 1 : 0;
      std::vector<float> padded(off, 0.f);
      padded.insert(padded.end(), host[i].begin(), host[i].end());
      bufs.push_back(std::make_unique<gwtest::DeviceArray<float>>(padded));
      ptrs.push_back(bufs.back()->get() + off);
      offsets.push_back(off);
    }
  }
  std::vector<const float*> cptrs() const { return {ptrs.begin(), ptrs.end()}; }
  std::vector<float> download() const {
    std::vector<float> f;
    for (size_t i = 0; i < bufs.size(); ++i) {
      std::vector<float> h = bufs[i]->download();
      f.insert(f.end(), h.begin() + offsets[i], h.end());
    }
    return f;
  }
};

}  // namespace

GW_TEST(optim_sgd_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  const std::vector<int64_t> sizes = cuda_sizes();
  for (float momentum : {0.f, 0.9f}) {
    Lists p = random_lists(sizes, 7), buf = random_lists(sizes, 8);
    DeviceLists dp(p), dbuf(buf);
    for (int step = 1; step <= 2; ++step) {
      Lists g = random_lists(sizes, 40 + step);
      DeviceLists dg(g);
      gw::SgdOptions o;
      o.lr = 0.1f, o.momentum = momentum, o.dampening = 0.1f, o.weight_decay = 0.01f, o.first_step = step == 1;
      gw::cpu::sgd_step(ptrs(p).data(), cptrs(g).data(), ptrs(buf).data(), sizes.data(), int64_t(sizes.size()), o);
      gw::cuda::sgd_step(dp.ptrs.data(), dg.cptrs().data(), dbuf.ptrs.data(), sizes.data(), int64_t(sizes.size()), o,
                         gw::cudart::compute_stream());
      gwtest::expect_close(dg.download(), flat(g), 0, 0, "sgd cuda left grads alone");
    }
    gwtest::expect_close(dp.download(), flat(p), kRtol, kAtol, "sgd cuda params");
    gwtest::expect_close(dbuf.download(), flat(buf), kRtol, kAtol, "sgd cuda momentum buffers");
  }
}

GW_TEST(optim_adam_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  const std::vector<int64_t> sizes = cuda_sizes();
  for (bool amsgrad : {false, true}) {
    Lists p = random_lists(sizes, 9), m = random_lists(sizes, 10, -0.1f, 0.1f), v = random_lists(sizes, 11, 0, 0.1f);
    Lists mv = random_lists(sizes, 12, 0, 0.1f);
    DeviceLists dp(p), dm(m), dv(v), dmv(mv);
    for (int step = 1; step <= 2; ++step) {
      Lists g = random_lists(sizes, 50 + step);
      DeviceLists dg(g);
      gw::AdamOptions o;
      o.lr = 0.05f, o.weight_decay = 0.1f, o.decoupled = step == 2, o.step = step + 5;
      gw::cpu::adam_step(ptrs(p).data(), cptrs(g).data(), ptrs(m).data(), ptrs(v).data(),
                         amsgrad ? ptrs(mv).data() : nullptr, sizes.data(), int64_t(sizes.size()), o);
      gw::cuda::adam_step(dp.ptrs.data(), dg.cptrs().data(), dm.ptrs.data(), dv.ptrs.data(),
                          amsgrad ? dmv.ptrs.data() : nullptr, sizes.data(), int64_t(sizes.size()), o,
                          gw::cudart::compute_stream());
    }
    gwtest::expect_close(dp.download(), flat(p), kRtol, kAtol, "adam cuda params");
    gwtest::expect_close(dm.download(), flat(m), kRtol, kAtol, "adam cuda m");
    gwtest::expect_close(dv.download(), flat(v), kRtol, kAtol, "adam cuda v");
    gwtest::expect_close(dmv.download(), flat(mv), kRtol, kAtol, "adam cuda max_v");
  }
}

GW_TEST(optim_adagrad_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  const std::vector<int64_t> sizes = cuda_sizes();
  Lists p = random_lists(sizes, 13), acc = random_lists(sizes, 14, 0.f, 0.5f);
  DeviceLists dp(p), dacc(acc);
  for (int step = 1; step <= 2; ++step) {
    Lists g = random_lists(sizes, 60 + step);
    DeviceLists dg(g);
    gw::AdagradOptions o;
    o.lr = 0.05f, o.lr_decay = 0.01f, o.weight_decay = 0.01f, o.step = step;
    gw::cpu::adagrad_step(ptrs(p).data(), cptrs(g).data(), ptrs(acc).data(), sizes.data(), int64_t(sizes.size()), o);
    gw::cuda::adagrad_step(dp.ptrs.data(), dg.cptrs().data(), dacc.ptrs.data(), sizes.data(), int64_t(sizes.size()),
                           o, gw::cudart::compute_stream());
  }
  gwtest::expect_close(dp.download(), flat(p), kRtol, kAtol, "adagrad cuda params");
  gwtest::expect_close(dacc.download(), flat(acc), kRtol, kAtol, "adagrad cuda acc");
}

GW_TEST(optim_grad_norm_and_clip_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  const std::vector<int64_t> sizes = cuda_sizes();
  Lists g = random_lists(sizes, 15);
  DeviceLists dg(g);
  gwtest::DeviceArray<float> dnorm(1);
  gwtest::DeviceArray<uint8_t> dflag(1);
  dnorm.poison();
  dflag.poison();
  gw::cuda::grad_norm(dg.cptrs().data(), sizes.data(), int64_t(sizes.size()), dnorm.get(), dflag.get(),
                      gw::cudart::compute_stream());
  const float first = dnorm.download()[0];
  gwtest::expect_close({first}, std::vector<double>{norm_ref(g)}, 2e-6, 0, "cuda grad norm");
  GW_EXPECT(dflag.download()[0] == 0, "finite norm flagged");
  dnorm.poison();
  gw::cuda::grad_norm(dg.cptrs().data(), sizes.data(), int64_t(sizes.size()), dnorm.get(), nullptr,
                      gw::cudart::compute_stream());
  GW_EXPECT(dnorm.download()[0] == first, "cuda grad norm is not deterministic");

  // Clip to half the norm, reading the norm on the device.
  float norm = first;
  gw::cpu::clip_by_norm(ptrs(g).data(), sizes.data(), int64_t(sizes.size()), &norm, 0.5f * first);
  gw::cuda::clip_by_norm(dg.ptrs.data(), sizes.data(), int64_t(sizes.size()), dnorm.get(), 0.5f * first,
                         gw::cudart::compute_stream());
  gwtest::expect_close(dg.download(), flat(g), 1e-6, 0, "cuda clipped grads");

  // A NaN far into the big tensor: flagged, and clipping leaves the gradients alone.
  g[50][int64_t(300) * 16384 + 5] = std::nanf("");
  DeviceLists dbad(g);
  dflag.poison();
  gw::cuda::grad_norm(dbad.cptrs().data(), sizes.data(), int64_t(sizes.size()), dnorm.get(), dflag.get(),
                      gw::cudart::compute_stream());
  GW_EXPECT(std::isnan(dnorm.download()[0]) && dflag.download()[0] == 1, "NaN gradient not flagged");
  gw::cuda::clip_by_norm(dbad.ptrs.data(), sizes.data(), int64_t(sizes.size()), dnorm.get(), 1.f,
                         gw::cudart::compute_stream());
  std::vector<float> after = dbad.download(), want = flat(g);
  for (size_t i = 0; i < want.size(); ++i)
    GW_EXPECT(after[i] == want[i] || (std::isnan(after[i]) && std::isnan(want[i])), "element ", i, " changed");

  // No elements: norm 0, not flagged.
  dnorm.poison();
  dflag.poison();
  gw::cuda::grad_norm(nullptr, nullptr, 0, dnorm.get(), dflag.get(), gw::cudart::compute_stream());
  GW_EXPECT(dnorm.download()[0] == 0.f && dflag.download()[0] == 0, "empty list");
}
#endif
