// gatewise binding — the per-sample linear layer (native/ops/sample_linear). The caller
// (lib/ops/sample-linear.ts) has validated everything and allocates every output; here only
// shapes, dtypes, devices and overlaps are re-checked, naming the bad argument.
#include "../ops/sample_linear/sample_linear.h"
#include "napi_util.h"
#include "registry.h"

namespace gw::binding {

namespace {

/// x (B, in) and weight (B, in, out) from argument index i.
SampleLinearArgs inputs(const Napi::CallbackInfo& info, size_t i, const Tensor*& x, const Tensor*& w) {
  x = &arg_tensor(info, i, "x");
  w = &arg_tensor(info, i + 1, "weight");
  check_dtype(*x, DType::kF32, "x");
  GW_CHECK(x->dim() == 2, kShape, "Expected a 2-D tensor (batch, in) for x but received ", shape_str(x->shape()));
  check_dtype(*w, DType::kF32, "weight");
  GW_CHECK(w->dim() == 3, kShape, "Expected a 3-D tensor (batch, in, out) for weight but received ",
           shape_str(w->shape()));
  SampleLinearArgs a;
  a.batch = x->size(0), a.in = x->size(1), a.out = w->size(2);
  check_operand(*w, {a.batch, a.in, a.out}, *x, "weight", "x");
  a.x = x->data<float>(), a.w = w->data<float>();
  return a;
}

}  // namespace

// sampleLinear(x, weight, bias|null, act, leakySlope, y, pre|null):
//   pre[b] = x[b]·weight[b] + bias[b];  y = act(pre)
// x (B, in), weight (B, in, out), bias (B, out); y and pre (B, out) written.
GW_BINDING(sample_linear) {
  const Tensor *x, *w;
  SampleLinearArgs a = inputs(info, 0, x, w);
  const Tensor* bias = arg_opt_tensor(info, 2, "bias");
  a.act = arg_act(info, 3, "act");
  a.leaky_slope = static_cast<float>(arg_number(info, 4, "leakySlope"));
  const Tensor& y = arg_tensor(info, 5, "y");
  const Tensor* pre = arg_opt_tensor(info, 6, "pre");
  if (bias) check_operand(*bias, {a.batch, a.out}, *x, "bias", "x");
  check_operand(y, {a.batch, a.out}, *x, "y", "x");
  if (pre) check_operand(*pre, {a.batch, a.out}, *x, "pre", "x");
  check_disjoint({{&y, "y"}, {pre, "pre"}}, {{x, "x"}, {w, "weight"}, {bias, "bias"}});
  a.bias = bias ? bias->data<float>() : nullptr;
  GW_DISPATCH(x->device(), sample_linear_forward, a, y.data<float>(), pre ? pre->data<float>() : nullptr);
  return info.Env().Undefined();
}

// sampleLinearBackward(x, weight, dpre, dx|null, dweight|null): dx = Σ_j weight·dpre,
// dweight = x ⊗ dpre, both overwritten.
GW_BINDING(sample_linear_backward) {
  const Tensor *x, *w;
  const SampleLinearArgs a = inputs(info, 0, x, w);
  const Tensor& dpre = arg_tensor(info, 2, "dpre");
  const Tensor* dx = arg_opt_tensor(info, 3, "dx");
  const Tensor* dw = arg_opt_tensor(info, 4, "dweight");
  check_operand(dpre, {a.batch, a.out}, *x, "dpre", "x");
  if (dx) check_operand(*dx, x->shape(), *x, "dx", "x");
  if (dw) check_operand(*dw, w->shape(), *x, "dweight", "x");
  check_disjoint({{dx, "dx"}, {dw, "dweight"}}, {{x, "x"}, {w, "weight"}, {&dpre, "dpre"}});
  GW_DISPATCH(x->device(), sample_linear_backward, a, dpre.data<float>(), dx ? dx->data<float>() : nullptr,
              dw ? dw->data<float>() : nullptr);
  return info.Env().Undefined();
}

void register_sample_linear(Napi::Env env, Napi::Object exports) {
  def(env, exports, "sampleLinear", sample_linear);
  def(env, exports, "sampleLinearBackward", sample_linear_backward);
}

static const Registration reg(register_sample_linear);

}  // namespace gw::binding
