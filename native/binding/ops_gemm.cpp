// gatewise binding — GEMM with fused epilogue, and the CPU FMA-peak probe.
#include "../ops/gemm/gemm.h"
#include "napi_util.h"
#include "registry.h"

namespace gw::binding {

static void check_matrix_rank(const Tensor& t, const char* name) {
  GW_CHECK(t.dim() == 2 || t.dim() == 3, kShape, "Expected a 2-D or 3-D tensor for ", name, " but received ",
           shape_str(t.shape()));
}

/// Shape [rows, cols], or [batch, rows, cols] when the operand carries a batch dimension.
static Shape matrix_shape(bool batched, int64_t batch, int64_t rows, int64_t cols) {
  return batched ? Shape{batch, rows, cols} : Shape{rows, cols};
}

// gemm(a, b, c, bias|null, pre|null, transA, transB, alpha, beta, act, leakySlope):
//   pre = alpha·op(a)·op(b) + beta·c + bias;  c = act(pre)   (c written in place)
// a (M, K) | (batch, M, K), (K, M) forms when transA; b (K, N) | (batch, K, N), (N, K) forms
// when transB; a 2-D operand is shared by every batch item. c (M, N) | (batch, M, N);
// bias (N), (batch, N) (one per item) or null; pre shaped like c or null. All float32 on c's device.
GW_BINDING(gemm) {
  const Tensor& a = arg_tensor(info, 0, "a");
  const Tensor& b = arg_tensor(info, 1, "b");
  const Tensor& c = arg_tensor(info, 2, "c");
  const Tensor* bias = arg_opt_tensor(info, 3, "bias");
  const Tensor* pre = arg_opt_tensor(info, 4, "pre");
  const bool ta = arg_bool(info, 5, "transA");
  const bool tb = arg_bool(info, 6, "transB");
  const double alpha = arg_number(info, 7, "alpha");
  const double beta = arg_number(info, 8, "beta");
  const Act act = arg_act(info, 9, "act");
  const double slope = arg_number(info, 10, "leakySlope");

  check_dtype(c, DType::kF32, "c");
  check_dtype(a, DType::kF32, "a");
  check_dtype(b, DType::kF32, "b");
  check_matrix_rank(c, "c");
  check_matrix_rank(a, "a");
  check_matrix_rank(b, "b");
  const bool batched = c.dim() == 3;
  const int64_t batch = batched ? c.size(0) : 1;
  const int64_t m = c.size(-2), n = c.size(-1);
  const int64_t k = ta ? a.size(-2) : a.size(-1);
  GW_CHECK(batched || a.dim() == 2, kShape, "Expected shape ", shape_str(ta ? Shape{k, m} : Shape{m, k}),
           " for a (c is 2-D) but received ", shape_str(a.shape()));
  GW_CHECK(batched || b.dim() == 2, kShape, "Expected a 2-D tensor for b (c is 2-D) but received ",
           shape_str(b.shape()));
  check_shape(a, matrix_shape(a.dim() == 3, batch, ta ? k : m, ta ? m : k), "a");
  check_shape(b, matrix_shape(b.dim() == 3, batch, tb ? n : k, tb ? k : n), "b");
  check_same_device(a, c, "a", "c");
  check_same_device(b, c, "b", "c");
  check_no_overlap(c, "c", a, "a");
  check_no_overlap(c, "c", b, "b");
  if (bias) {
    check_dtype(*bias, DType::kF32, "bias");
    check_shape(*bias, bias->dim() == 2 && batched ? Shape{batch, n} : Shape{n}, "bias");
    check_same_device(*bias, c, "bias", "c");
    check_no_overlap(c, "c", *bias, "bias");
  }
  if (pre) {
    check_dtype(*pre, DType::kF32, "pre");
    check_shape(*pre, c.shape(), "pre");
    check_same_device(*pre, c, "pre", "c");
    check_no_overlap(c, "c", *pre, "pre");
  }

  GemmArgs g;
  g.batch = batch, g.m = m, g.n = n, g.k = k, g.trans_a = ta, g.trans_b = tb;
  g.alpha = static_cast<float>(alpha), g.beta = static_cast<float>(beta);
  g.a = a.data<float>(), g.stride_a = a.dim() == 3 ? m * k : 0;
  g.b = b.data<float>(), g.stride_b = b.dim() == 3 ? k * n : 0;
  g.c = c.data<float>(), g.stride_c = m * n;
  g.bias = bias ? bias->data<float>() : nullptr, g.stride_bias = bias && bias->dim() == 2 ? n : 0;
  g.pre = pre ? pre->data<float>() : nullptr;
  g.act = act, g.leaky_slope = static_cast<float>(slope);
  GW_DISPATCH(c.device(), gemm, g);
  return info.Env().Undefined();
}

// cpuFmaPeakGflops(seconds) → measured fp32 FMA throughput of the CPU pool, GFLOP/s.
GW_BINDING(cpu_fma_peak_gflops) {
  const double seconds = arg_number(info, 0, "seconds");
  GW_CHECK(seconds > 0 && seconds <= 60, kArgument, "Expected a number of seconds in (0, 60] for seconds but received ",
           seconds);
  return Napi::Number::New(info.Env(), cpu::fma_peak_gflops(seconds));
}

void register_gemm(Napi::Env env, Napi::Object exports) {
  def(env, exports, "gemm", gemm);
  def(env, exports, "cpuFmaPeakGflops", cpu_fma_peak_gflops);
}

static const Registration reg(register_gemm);

}  // namespace gw::binding
