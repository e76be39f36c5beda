// gatewise binding — element-wise ops: broadcast binary, unary, activations, reductions.
// The caller allocates every output with the right shape; these functions check shapes,
// dtypes and devices (naming the argument) and dispatch to the CPU or CUDA kernel.
//
//   binary(op, a, b, out)                              out = op(a, b), NumPy broadcasting
//   binaryBackward(op, gout, a, b, ga|null, gb|null, out?)   ga, gb overwritten
//   unary(op, x, out, p0?, p1?)                        out = f(x)
//   unaryBackward(op, gout, x|null, y|null, gx, p0?, p1?)    gx overwritten
//   activation(act, x, out, slope?)                    out = act(x)
//   activationBackward(act, gout, x|null, y|null, gx, slope?) gx overwritten
//   reduce(op, x, axis, out, indices|null)             sum | mean | max | min over one axis
//   reduceBackward(op, gout, indices|null, axis, gx)   gx overwritten
//   sumToShape(x, out, alpha?)                         out = alpha · Σ over broadcast dims
//   sumAll(x, out)   sumSquares(x, out)                out: one element
//   countNonFinite(x) → number
#include <cmath>
#include <cstring>
#include <string>

#include "../ops/activation/activation.h"
#include "../ops/binary/binary.h"
#include "../ops/reduce/reduce.h"
#include "../ops/unary/unary.h"
#include "napi_util.h"
#include "registry.h"

namespace gw::binding {

// ---- op names: one table per op family

template <typename E>
struct Named {
  const char* name;
  E value;
};

const Named<BinaryOp> kBinaryOps[] = {{"add", BinaryOp::kAdd},         {"sub", BinaryOp::kSub},
                                      {"mul", BinaryOp::kMul},         {"div", BinaryOp::kDiv},
                                      {"maximum", BinaryOp::kMaximum}, {"minimum", BinaryOp::kMinimum},
                                      {"pow", BinaryOp::kPow}};
const Named<UnaryOp> kUnaryOps[] = {
    {"neg", UnaryOp::kNeg},       {"exp", UnaryOp::kExp},       {"log", UnaryOp::kLog},
    {"sqrt", UnaryOp::kSqrt},     {"rsqrt", UnaryOp::kRsqrt},   {"abs", UnaryOp::kAbs},
    {"square", UnaryOp::kSquare}, {"reciprocal", UnaryOp::kReciprocal}, {"sin", UnaryOp::kSin},
    {"cos", UnaryOp::kCos},       {"affine", UnaryOp::kAffine}, {"pow_scalar", UnaryOp::kPowScalar},
    {"clamp", UnaryOp::kClamp}};
const Named<ReduceOp> kReduceOps[] = {
    {"sum", ReduceOp::kSum}, {"mean", ReduceOp::kMean}, {"max", ReduceOp::kMax}, {"min", ReduceOp::kMin}};

template <typename E, size_t N>
static E arg_op(const Napi::CallbackInfo& info, size_t i, const Named<E> (&table)[N], const char* name) {
  std::string s = arg_string(info, i, name);
  for (const auto& t : table)
    if (s == t.name) return t.value;
  std::string all;
  for (const auto& t : table) all += (all.empty() ? "" : ", ") + std::string(t.name);
  GW_THROW(kArgument, "Expected one of ", all, " for ", name, " but received ", s);
}

// ---- checks

static const Tensor& arg_f32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  const Tensor& t = arg_tensor(info, i, name);
  check_dtype(t, DType::kF32, name);
  return t;
}

static const Tensor* arg_opt_f32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  const Tensor* t = arg_opt_tensor(info, i, name);
  if (t) check_dtype(*t, DType::kF32, name);
  return t;
}

static double arg_opt_number(const Napi::CallbackInfo& info, size_t i, const char* name, double fallback) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return fallback;
  return arg_number(info, i, name);
}

static Dims dims_of(const Tensor& t, const char* name) {
  GW_CHECK(t.dim() <= kMaxDims, kShape, "Expected at most ", kMaxDims, " dims for ", name, " but received ",
           shape_str(t.shape()));
  return make_dims(t.shape().data(), static_cast<int>(t.dim()));
}

static Shape shape_of(const Dims& d) { return Shape(d.d, d.d + d.ndim); }

/// broadcast(a, b), with an error that names both arguments.
static Dims broadcast_named(const Dims& da, const Dims& db, const Tensor& a, const Tensor& b) {
  try {
    return broadcast_dims(da, db);
  } catch (const Error&) {
    GW_THROW(kShape, "Expected shapes that broadcast together for a and b but received ", shape_str(a.shape()),
             " and ", shape_str(b.shape()));
  }
}

/// out may be exactly `in` (in place) but must not partly overlap it.
static void check_no_partial_alias(const Tensor& out, const Tensor& in, const char* out_name, const char* in_name) {
  if (out.storage() != in.storage() || out.nbytes() == 0 || in.nbytes() == 0) return;
  const char *o0 = static_cast<const char*>(out.raw()), *o1 = o0 + out.nbytes();
  const char *i0 = static_cast<const char*>(in.raw()), *i1 = i0 + in.nbytes();
  bool overlap = o0 < i1 && i0 < o1;
  GW_CHECK(!overlap || (o0 == i0 && o1 == i1), kArgument, out_name, " overlaps ", in_name,
           " without being the same buffer of the same size");
}

static void check_device(const Tensor& t, const Tensor* other, const char* name, const char* other_name) {
  if (other) check_same_device(t, *other, name, other_name);
}

// ---- binary

// binary(op, a, b, out): out = op(a, b); out shape = broadcast(a, b). out may be a or b
// when that operand already has the out shape.
GW_BINDING(binary) {
  BinaryOp op = arg_op(info, 0, kBinaryOps, "op");
  const Tensor& a = arg_f32(info, 1, "a");
  const Tensor& b = arg_f32(info, 2, "b");
  const Tensor& out = arg_f32(info, 3, "out");
  check_same_device(a, b, "a", "b");
  check_same_device(a, out, "a", "out");
  Dims da = dims_of(a, "a"), db = dims_of(b, "b");
  check_shape(out, shape_of(broadcast_named(da, db, a, b)), "out");
  check_no_partial_alias(out, a, "out", "a");
  check_no_partial_alias(out, b, "out", "b");
  GW_DISPATCH(a.device(), binary, op, a.data<float>(), da, b.data<float>(), db, out.data<float>());
  return info.Env().Undefined();
}

// binaryBackward(op, gout, a, b, ga|null, gb|null, out?): ga (a's shape) and gb (b's shape)
// overwritten with the gradient reduced over broadcast dims; out (the forward result) is
// optional and only saves a recompute for pow.
GW_BINDING(binary_backward) {
  BinaryOp op = arg_op(info, 0, kBinaryOps, "op");
  const Tensor& gout = arg_f32(info, 1, "gout");
  const Tensor& a = arg_f32(info, 2, "a");
  const Tensor& b = arg_f32(info, 3, "b");
  const Tensor* ga = arg_opt_f32(info, 4, "ga");
  const Tensor* gb = arg_opt_f32(info, 5, "gb");
  const Tensor* out = arg_opt_f32(info, 6, "out");
  check_same_device(gout, a, "gout", "a");
  check_same_device(gout, b, "gout", "b");
  check_device(gout, ga, "gout", "ga");
  check_device(gout, gb, "gout", "gb");
  check_device(gout, out, "gout", "out");
  Dims da = dims_of(a, "a"), db = dims_of(b, "b");
  Shape os = shape_of(broadcast_named(da, db, a, b));
  check_shape(gout, os, "gout");
  if (out) check_shape(*out, os, "out");
  if (ga) check_shape(*ga, a.shape(), "ga");
  if (gb) check_shape(*gb, b.shape(), "gb");
  for (const Tensor* g : {ga, gb}) {
    if (!g) continue;
    const char* gn = g == ga ? "ga" : "gb";
    check_no_partial_alias(*g, gout, gn, "gout");
    GW_CHECK(g->storage() != a.storage() || g->raw() != a.raw(), kArgument, gn, " must not be a");
    GW_CHECK(g->storage() != b.storage() || g->raw() != b.raw(), kArgument, gn, " must not be b");
  }
  if (ga && gb) GW_CHECK(ga->raw() != gb->raw() || ga->nbytes() == 0, kArgument, "ga and gb must be different tensors");
  GW_DISPATCH(gout.device(), binary_backward, op, gout.data<float>(), a.data<float>(), da, b.data<float>(), db,
              out ? out->data<float>() : nullptr, ga ? ga->data<float>() : nullptr, gb ? gb->data<float>() : nullptr);
  return info.Env().Undefined();
}

// ---- unary

static void unary_params(UnaryOp op, const Napi::CallbackInfo& info, size_t i, float& p0, float& p1) {
  p0 = p1 = 0.0f;
  switch (op) {
    case UnaryOp::kAffine:
      p0 = static_cast<float>(arg_number(info, i, "alpha"));
      p1 = static_cast<float>(arg_number(info, i + 1, "beta"));
      break;
    case UnaryOp::kPowScalar: p0 = static_cast<float>(arg_number(info, i, "exponent")); break;
    case UnaryOp::kClamp:
      p0 = static_cast<float>(arg_opt_number(info, i, "lo", -INFINITY));
      p1 = static_cast<float>(arg_opt_number(info, i + 1, "hi", INFINITY));
      GW_CHECK(!(p0 > p1), kArgument, "Expected lo <= hi for clamp but received lo ", p0, " and hi ", p1);
      break;
    default: break;
  }
}

// unary(op, x, out, p0?, p1?): out = f(x); out may be x. Parameters: affine (alpha, beta),
// pow_scalar (exponent), clamp (lo, hi; null for no bound).
GW_BINDING(unary) {
  UnaryOp op = arg_op(info, 0, kUnaryOps, "op");
  const Tensor& x = arg_f32(info, 1, "x");
  const Tensor& out = arg_f32(info, 2, "out");
  check_same_device(x, out, "x", "out");
  check_shape(out, x.shape(), "out");
  check_no_partial_alias(out, x, "out", "x");
  float p0, p1;
  unary_params(op, info, 3, p0, p1);
  GW_DISPATCH(x.device(), unary, op, p0, p1, x.data<float>(), out.data<float>(), x.numel());
  return info.Env().Undefined();
}

/// gout, x, y (optional) and gx of a point-wise backward: one device, one shape; gx may
/// be gout itself but must not partly overlap it.
static void check_pointwise_backward(const Tensor& gout, const Tensor* x, const Tensor* y, const Tensor& gx) {
  check_same_device(gout, gx, "gout", "gx");
  check_device(gout, x, "gout", "x");
  check_device(gout, y, "gout", "y");
  check_shape(gx, gout.shape(), "gx");
  if (x) check_shape(*x, gout.shape(), "x");
  if (y) check_shape(*y, gout.shape(), "y");
  check_no_partial_alias(gx, gout, "gx", "gout");
}

// unaryBackward(op, gout, x|null, y|null, gx, p0?, p1?): gx = gout · f′. x may be null for
// neg, exp, sqrt, rsqrt, reciprocal, affine (then y is used where needed); required otherwise.
GW_BINDING(unary_backward) {
  UnaryOp op = arg_op(info, 0, kUnaryOps, "op");
  const Tensor& gout = arg_f32(info, 1, "gout");
  const Tensor* x = arg_opt_f32(info, 2, "x");
  const Tensor* y = arg_opt_f32(info, 3, "y");
  const Tensor& gx = arg_f32(info, 4, "gx");
  GW_CHECK(x || !unary_needs_x(op), kArgument, "Expected a Tensor for x: the backward of ", info[0].ToString().Utf8Value(),
           " needs it");
  GW_CHECK(x || y || !unary_uses_y(op), kArgument, "Expected a Tensor for x or y");
  check_pointwise_backward(gout, x, y, gx);
  float p0, p1;
  unary_params(op, info, 5, p0, p1);
  GW_DISPATCH(gout.device(), unary_backward, op, p0, p1, gout.data<float>(), x ? x->data<float>() : nullptr,
              y ? y->data<float>() : nullptr, gx.data<float>(), gout.numel());
  return info.Env().Undefined();
}

// ---- activation

static float arg_slope(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<float>(arg_opt_number(info, i, "slope", 0.01));
}

// activation(act, x, out, slope?): out = act(x); out may be x. slope (leaky_relu) defaults to 0.01.
GW_BINDING(activation) {
  Act act = arg_act(info, 0, "act");
  const Tensor& x = arg_f32(info, 1, "x");
  const Tensor& out = arg_f32(info, 2, "out");
  check_same_device(x, out, "x", "out");
  check_shape(out, x.shape(), "out");
  check_no_partial_alias(out, x, "out", "x");
  GW_DISPATCH(x.device(), activation, act, arg_slope(info, 3), x.data<float>(), out.data<float>(), x.numel());
  return info.Env().Undefined();
}

// activationBackward(act, gout, x|null, y|null, gx, slope?): gx = gout · act′. relu, sigmoid,
// tanh use y when given, else x; leaky_relu x when given, else y (slope ≥ 0); gelu needs x.
GW_BINDING(activation_backward) {
  Act act = arg_act(info, 0, "act");
  const Tensor& gout = arg_f32(info, 1, "gout");
  const Tensor* x = arg_opt_f32(info, 2, "x");
  const Tensor* y = arg_opt_f32(info, 3, "y");
  const Tensor& gx = arg_f32(info, 4, "gx");
  check_pointwise_backward(gout, x, y, gx);
  GW_DISPATCH(gout.device(), activation_backward, act, arg_slope(info, 5), gout.data<float>(),
              x ? x->data<float>() : nullptr, y ? y->data<float>() : nullptr, gx.data<float>(), gout.numel());
  return info.Env().Undefined();
}

// ---- reductions

struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
  Shape reduced, kept;  ///< x's shape without the axis / with it set to 1
};

static AxisView axis_view(const Tensor& x, int64_t axis, const char* x_name) {
  int64_t nd = x.dim();
  GW_CHECK(nd >= 1, kShape, "Expected at least 1 dim for ", x_name, " but received ", shape_str(x.shape()));
  GW_CHECK(axis >= -nd && axis < nd, kArgument, "Expected an axis in [", -nd, ", ", nd, ") for ", x_name,
           " of shape ", shape_str(x.shape()), " but received ", axis);
  if (axis < 0) axis += nd;
  AxisView v;
  for (int64_t d = 0; d < nd; ++d) {
    int64_t s = x.shape()[d];
    if (d < axis) v.outer *= s;
    else if (d > axis) v.inner *= s;
    else v.n = s;
    if (d != axis) v.reduced.push_back(s);
    v.kept.push_back(d == axis ? 1 : s);
  }
  return v;
}

static void check_reduced_shape(const Tensor& t, const AxisView& v, const char* name) {
  GW_CHECK(t.shape() == v.reduced || t.shape() == v.kept, kShape, "Expected shape ", shape_str(v.reduced), " or ",
           shape_str(v.kept), " for ", name, " but received ", shape_str(t.shape()));
}

// reduce(op, x, axis, out, indices|null): out = op over `axis` of x; out's shape is x's
// without that axis or with it as 1. indices (int64, out's shape) receive max/min positions.
GW_BINDING(reduce) {
  ReduceOp op = arg_op(info, 0, kReduceOps, "op");
  const Tensor& x = arg_f32(info, 1, "x");
  AxisView v = axis_view(x, arg_int(info, 2, "axis"), "x");
  const Tensor& out = arg_f32(info, 3, "out");
  const Tensor* idx = arg_opt_tensor(info, 4, "indices");
  check_same_device(x, out, "x", "out");
  check_reduced_shape(out, v, "out");
  check_no_partial_alias(out, x, "out", "x");
  if (idx) {
    check_dtype(*idx, DType::kI64, "indices");
    check_same_device(x, *idx, "x", "indices");
    check_reduced_shape(*idx, v, "indices");
  }
  GW_CHECK(v.n > 0 || op == ReduceOp::kSum || op == ReduceOp::kMean || v.outer * v.inner == 0, kShape,
           "Expected a non-empty axis for ", info[0].ToString().Utf8Value(), " but x has shape ", shape_str(x.shape()));
  GW_DISPATCH(x.device(), reduce_axis, op, x.data<float>(), v.outer, v.n, v.inner, out.data<float>(),
              idx ? idx->data<int64_t>() : nullptr);
  return info.Env().Undefined();
}

// reduceBackward(op, gout, indices|null, axis, gx): gx (the forward input's shape) overwritten;
// sum: gout broadcast, mean: gout / n, max/min: gout at the indices, 0 elsewhere (indices required).
GW_BINDING(reduce_backward) {
  ReduceOp op = arg_op(info, 0, kReduceOps, "op");
  const Tensor& gout = arg_f32(info, 1, "gout");
  const Tensor* idx = arg_opt_tensor(info, 2, "indices");
  const Tensor& gx = arg_f32(info, 4, "gx");
  AxisView v = axis_view(gx, arg_int(info, 3, "axis"), "gx");
  check_same_device(gout, gx, "gout", "gx");
  check_reduced_shape(gout, v, "gout");
  check_no_partial_alias(gx, gout, "gx", "gout");
  bool arg = op == ReduceOp::kMax || op == ReduceOp::kMin;
  GW_CHECK(!arg || idx, kArgument, "Expected a Tensor for indices: max/min backward needs the forward's indices");
  if (idx) {
    check_dtype(*idx, DType::kI64, "indices");
    check_same_device(gout, *idx, "gout", "indices");
    check_reduced_shape(*idx, v, "indices");
  }
  GW_DISPATCH(gx.device(), reduce_axis_backward, op, gout.data<float>(), arg ? idx->data<int64_t>() : nullptr,
              v.outer, v.n, v.inner, gx.data<float>());
  return info.Env().Undefined();
}

// sumToShape(x, out, alpha = 1): out = alpha · Σ of x over the dims where out (broadcastable
// to x) has extent 1 or is missing.
GW_BINDING(sum_to_shape) {
  const Tensor& x = arg_f32(info, 0, "x");
  const Tensor& out = arg_f32(info, 1, "out");
  float alpha = static_cast<float>(arg_opt_number(info, 2, "alpha", 1.0));
  check_same_device(x, out, "x", "out");
  Dims dx = dims_of(x, "x"), dout = dims_of(out, "out");
  bool ok = dout.ndim <= dx.ndim;
  for (int i = 0; ok && i < dout.ndim; ++i) {
    int64_t di = dx.d[dx.ndim - dout.ndim + i];
    ok = dout.d[i] == di || dout.d[i] == 1;
  }
  GW_CHECK(ok, kShape, "Expected a shape broadcastable to ", shape_str(x.shape()), " for out but received ",
           shape_str(out.shape()));
  check_no_partial_alias(out, x, "out", "x");
  GW_CHECK(out.raw() != x.raw() || out.nbytes() == 0 || out.numel() == x.numel(), kArgument,
           "out must not be x");
  GW_DISPATCH(x.device(), sum_to_shape, x.data<float>(), dx, dout, out.data<float>(), alpha);
  return info.Env().Undefined();
}

static const Tensor& arg_scalar_out(const Napi::CallbackInfo& info, size_t i, const Tensor& x) {
  const Tensor& out = arg_f32(info, i, "out");
  check_same_device(x, out, "x", "out");
  GW_CHECK(out.numel() == 1, kShape, "Expected one element for out but received shape ", shape_str(out.shape()));
  return out;
}

// sumAll(x, out): out[0] = Σ x.
GW_BINDING(sum_all) {
  const Tensor& x = arg_f32(info, 0, "x");
  const Tensor& out = arg_scalar_out(info, 1, x);
  GW_DISPATCH(x.device(), sum_all, x.data<float>(), x.numel(), out.data<float>());
  return info.Env().Undefined();
}

// sumSquares(x, out): out[0] = Σ x².
GW_BINDING(sum_squares) {
  const Tensor& x = arg_f32(info, 0, "x");
  const Tensor& out = arg_scalar_out(info, 1, x);
  GW_DISPATCH(x.device(), sum_squares, x.data<float>(), x.numel(), out.data<float>());
  return info.Env().Undefined();
}

// countNonFinite(x) → number of NaN / ±Inf elements (waits for the device).
GW_BINDING(count_nonfinite) {
  const Tensor& x = arg_f32(info, 0, "x");
  int64_t c = GW_DISPATCH(x.device(), count_nonfinite, x.data<float>(), x.numel());
  return Napi::Number::New(info.Env(), static_cast<double>(c));
}

void register_elementwise(Napi::Env env, Napi::Object exports) {
  def(env, exports, "binary", binary);
  def(env, exports, "binaryBackward", binary_backward);
  def(env, exports, "unary", unary);
  def(env, exports, "unaryBackward", unary_backward);
  def(env, exports, "activation", activation);
  def(env, exports, "activationBackward", activation_backward);
  def(env, exports, "reduce", reduce);
  def(env, exports, "reduceBackward", reduce_backward);
  def(env, exports, "sumToShape", sum_to_shape);
  def(env, exports, "sumAll", sum_all);
  def(env, exports, "sumSquares", sum_squares);
  def(env, exports, "countNonFinite", count_nonfinite);
}

static const Registration reg(register_elementwise);

}  // namespace gw::binding
