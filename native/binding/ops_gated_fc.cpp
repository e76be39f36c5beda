// gatewise binding — the fused gated FC (native/ops/gated_fc). The caller (lib/ops/gated-fc.ts)
// has validated everything and allocates every output; here only shapes, dtypes, devices
// and overlaps are re-checked, naming the bad argument.
#include <string>

#include "../ops/gated_fc/gated_fc.h"
#include "napi_util.h"
#include "registry.h"

namespace gw::binding {

namespace {

GatePlacement arg_placement(const Napi::CallbackInfo& info, size_t i, const char* name) {
  const std::string s = arg_string(info, i, name);
  if (s == "lazy") return GatePlacement::kLazy;
  if (s == "eager") return GatePlacement::kEager;
  GW_THROW(kArgument, "Expected 'lazy' or 'eager' for ", name, " but received '", s, "'");
}

/// The shared arguments of both calls: x, gate, weight (indices ix, ix+1, ix+2), then the
/// placement, act, leakySlope and scale at is.
GatedFcArgs common_args(const Napi::CallbackInfo& info, size_t ix, size_t is, const Tensor*& x, const Tensor*& gate) {
  x = &arg_tensor(info, ix, "x");
  gate = &arg_tensor(info, ix + 1, "gate");
  const Tensor& weight = arg_tensor(info, ix + 2, "weight");
  GatedFcArgs a;
  a.placement = arg_placement(info, is, "placement");
  a.act = arg_act(info, is + 1, "act");
  a.leaky_slope = static_cast<float>(arg_number(info, is + 2, "leakySlope"));
  a.scale = static_cast<float>(arg_number(info, is + 3, "scale"));
  check_dtype(*x, DType::kF32, "x");
  GW_CHECK(x->dim() == 2, kShape, "Expected a 2-D tensor (rows, in) for x but received ", shape_str(x->shape()));
  check_dtype(weight, DType::kF32, "weight");
  GW_CHECK(weight.dim() == 2, kShape, "Expected a 2-D tensor (out, in) for weight but received ",
           shape_str(weight.shape()));
  a.rows = x->size(0), a.in = x->size(1), a.out = weight.size(0);
  check_operand(weight, {a.out, a.in}, *x, "weight", "x");
  check_operand(*gate, {a.rows, a.placement == GatePlacement::kLazy ? a.out : a.in}, *x, "gate", "x");
  a.x = x->data<float>(), a.gate = gate->data<float>(), a.weight = weight.data<float>();
  return a;
}

}  // namespace

// gatedFc(x, gate, weight, bias|null, y, z|null, xg|null, placement, act, leakySlope, scale):
//   lazy:  z = x·Wᵀ + b, y = scale·gate ⊙ act(z);  eager: xg = scale·gate ⊙ x, z = xg·Wᵀ + b, y = act(z)
// x (rows, in), gate (rows, out) lazy | (rows, in) eager, weight (out, in), bias (out) or null,
// y and z (rows, out), xg (rows, in) (required for eager, ignored for lazy). All float32 on
// x's device; y, z, xg written.
GW_BINDING(gated_fc) {
  const Tensor *x = nullptr, *gate = nullptr;
  GatedFcArgs a = common_args(info, 0, 7, x, gate);
  const Tensor& weight = arg_tensor(info, 2, "weight");
  const Tensor* bias = arg_opt_tensor(info, 3, "bias");
  const Tensor& y = arg_tensor(info, 4, "y");
  const Tensor* z = arg_opt_tensor(info, 5, "z");
  const Tensor* xg = arg_opt_tensor(info, 6, "xg");
  const bool eager = a.placement == GatePlacement::kEager;
  if (bias) check_operand(*bias, {a.out}, *x, "bias", "x");
  check_operand(y, {a.rows, a.out}, *x, "y", "x");
  if (z) check_operand(*z, {a.rows, a.out}, *x, "z", "x");
  GW_CHECK(!eager || xg, kArgument, "Expected a tensor for xg (the eager placement writes it) but received null");
  if (!eager) xg = nullptr;
  if (xg) check_operand(*xg, {a.rows, a.in}, *x, "xg", "x");
  check_disjoint({{&y, "y"}, {z, "z"}, {xg, "xg"}}, {{x, "x"}, {gate, "gate"}, {&weight, "weight"}, {bias, "bias"}});

  a.bias = bias ? bias->data<float>() : nullptr;
  GatedFcOut o;
  o.y = y.data<float>();
  o.z = z ? z->data<float>() : nullptr;
  o.xg = xg ? xg->data<float>() : nullptr;
  GW_DISPATCH(x->device(), gated_fc_forward, a, o);
  return info.Env().Undefined();
}

// gatedFcBackward(dy, x, gate, weight, z|null, xg|null, dx|null, dgate|null, dweight|null,
//                 dbias|null, placement, act, leakySlope, scale):
// dy (rows, out); z, xg as saved by gatedFc (z required unless eager identity; xg required
// for eager dweight). dx (rows, in) and dgate (like gate) are overwritten; dweight (out, in)
// and dbias (out) accumulate. A null output is not computed.
GW_BINDING(gated_fc_backward) {
  const Tensor *x = nullptr, *gate = nullptr;
  GatedFcArgs a = common_args(info, 1, 10, x, gate);
  const Tensor& dy = arg_tensor(info, 0, "dy");
  const Tensor& weight = arg_tensor(info, 3, "weight");
  const Tensor* z = arg_opt_tensor(info, 4, "z");
  const Tensor* xg = arg_opt_tensor(info, 5, "xg");
  const Tensor* dx = arg_opt_tensor(info, 6, "dx");
  const Tensor* dgate = arg_opt_tensor(info, 7, "dgate");
  const Tensor* dweight = arg_opt_tensor(info, 8, "dweight");
  const Tensor* dbias = arg_opt_tensor(info, 9, "dbias");
  const bool eager = a.placement == GatePlacement::kEager;
  check_operand(dy, {a.rows, a.out}, *x, "dy", "x");
  GW_CHECK(z || (eager && a.act == Act::kIdentity), kArgument,
           "Expected a tensor for z (the forward's pre-activation) but received null");
  if (z) check_operand(*z, {a.rows, a.out}, *x, "z", "x");
  GW_CHECK(!(eager && dweight) || xg, kArgument,
           "Expected a tensor for xg (the eager forward's gated input) but received null");
  if (xg) check_operand(*xg, {a.rows, a.in}, *x, "xg", "x");
  if (dx) check_operand(*dx, {a.rows, a.in}, *x, "dx", "x");
  if (dgate) check_operand(*dgate, gate->shape(), *x, "dgate", "x");
  if (dweight) check_operand(*dweight, {a.out, a.in}, *x, "dweight", "x");
  if (dbias) check_operand(*dbias, {a.out}, *x, "dbias", "x");
  check_disjoint({{dx, "dx"}, {dgate, "dgate"}, {dweight, "dweight"}, {dbias, "dbias"}},
                 {{&dy, "dy"}, {x, "x"}, {gate, "gate"}, {&weight, "weight"}, {z, "z"}, {xg, "xg"}});

  GatedFcGrads g;
  g.dy = dy.data<float>();
  g.z = z ? z->data<float>() : nullptr;
  g.xg = xg ? xg->data<float>() : nullptr;
  g.dx = dx ? dx->data<float>() : nullptr;
  g.dgate = dgate ? dgate->data<float>() : nullptr;
  g.dweight = dweight ? dweight->data<float>() : nullptr;
  g.dbias = dbias ? dbias->data<float>() : nullptr;
  GW_DISPATCH(x->device(), gated_fc_backward, a, g);
  return info.Env().Undefined();
}

void register_gated_fc(Napi::Env env, Napi::Object exports) {
  def(env, exports, "gatedFc", gated_fc);
  def(env, exports, "gatedFcBackward", gated_fc_backward);
}

static const Registration reg(register_gated_fc);

}  // namespace gw::binding
