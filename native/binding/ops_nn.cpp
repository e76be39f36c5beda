// gatewise binding — nn ops: softmax / log-softmax, Philox dropout and random helpers,
// BCE-with-logits and MSE losses. The caller allocates every output; shapes are checked
// here and the bad argument named. Seeds and offsets are BigInt (any uint64) or a
// non-negative safe-integer number.
#include <cmath>
#include <string>

#include "../ops/dropout/dropout.h"
#include "../ops/loss/loss.h"
#include "../ops/softmax/softmax.h"
#include "napi_util.h"
#include "registry.h"

namespace gw::binding {

namespace {

float arg_probability(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double p = arg_number(info, i, name);
  GW_CHECK(p >= 0 && p <= 1, kArgument, "Expected a probability in [0, 1] for ", name, " but received ", p);
  return static_cast<float>(p);
}

Reduction arg_reduction(const Napi::CallbackInfo& info, size_t i, const char* name) {
  std::string s = arg_string(info, i, name);
  if (s == "mean") return Reduction::kMean;
  if (s == "sum") return Reduction::kSum;
  if (s == "none") return Reduction::kNone;
  GW_THROW(kArgument, "Expected 'mean', 'sum' or 'none' for ", name, " but received '", s, "'");
}

void check_f32_like(const Tensor& t, const Tensor& ref, const char* name, const char* ref_name) {
  check_dtype(t, DType::kF32, name);
  check_shape(t, ref.shape(), name);
  check_same_device(t, ref, name, ref_name);
}

/// (rows, cols) of a tensor seen as rows of its last dim.
void rows_cols(const Tensor& x, const char* name, int64_t& rows, int64_t& cols) {
  GW_CHECK(x.dim() >= 1, kShape, "Expected at least 1 dim for ", name, " but received shape ", shape_str(x.shape()));
  cols = x.shape().back();
  rows = cols == 0 ? 0 : x.numel() / cols;
}

/// out holds one value (mean/sum) or one per element (none).
void check_reduced(const Tensor& t, const Tensor& z, Reduction red, const char* name) {
  check_dtype(t, DType::kF32, name);
  check_same_device(t, z, name, "z");
  if (red == Reduction::kNone) check_shape(t, z.shape(), name);
  else GW_CHECK(t.numel() == 1, kShape, "Expected shape [] or [1] for ", name, " but received ", shape_str(t.shape()));
}

struct LossArgs {
  const Tensor* z;
  const Tensor* y;
  const float* w = nullptr;
};
LossArgs loss_args(const Napi::CallbackInfo& info) {
  LossArgs a;
  a.z = &arg_tensor(info, 0, "z");
  check_dtype(*a.z, DType::kF32, "z");
  a.y = &arg_tensor(info, 1, "y");
  check_f32_like(*a.y, *a.z, "y", "z");
  if (const Tensor* w = arg_opt_tensor(info, 2, "weight")) {
    check_f32_like(*w, *a.z, "weight", "z");
    a.w = w->data<float>();
  }
  return a;
}

}  // namespace

// softmax(x, mask | null, scale, out, log): out = (log_)softmax(scale · x) over the last dim,
// mask uint8 of x's shape or [cols] (0 = excluded).
GW_BINDING(softmax) {
  const Tensor& x = arg_tensor(info, 0, "x");
  const Tensor* mask = arg_opt_tensor(info, 1, "mask");
  const float scale = static_cast<float>(arg_number(info, 2, "scale"));
  const Tensor& out = arg_tensor(info, 3, "out");
  const bool log = arg_bool(info, 4, "log");
  check_dtype(x, DType::kF32, "x");
  check_f32_like(out, x, "out", "x");
  int64_t rows, cols;
  rows_cols(x, "x", rows, cols);
  bool per_row = false;
  if (mask) {
    check_dtype(*mask, DType::kU8, "mask");
    check_same_device(*mask, x, "mask", "x");
    per_row = mask->shape() == x.shape();
    GW_CHECK(per_row || mask->shape() == Shape{cols}, kShape, "Expected shape ", shape_str(x.shape()), " or [", cols,
             "] for mask but received ", shape_str(mask->shape()));
  }
  GW_DISPATCH(x.device(), softmax_forward, x.data<float>(), mask ? mask->data<uint8_t>() : nullptr, per_row, scale,
              out.data<float>(), rows, cols, log);
  return info.Env().Undefined();
}

// softmaxBackward(gy, y, gx, log, scale = 1): gx = ∂/∂x (gx overwritten).
GW_BINDING(softmax_backward) {
  const Tensor& gy = arg_tensor(info, 0, "gy");
  const Tensor& y = arg_tensor(info, 1, "y");
  const Tensor& gx = arg_tensor(info, 2, "gx");
  const bool log = arg_bool(info, 3, "log");
  const float scale = info.Length() > 4 && !info[4].IsUndefined() ? static_cast<float>(arg_number(info, 4, "scale")) : 1.f;
  check_dtype(y, DType::kF32, "y");
  check_f32_like(gy, y, "gy", "y");
  check_f32_like(gx, y, "gx", "y");
  int64_t rows, cols;
  rows_cols(y, "y", rows, cols);
  GW_DISPATCH(y.device(), softmax_backward, gy.data<float>(), y.data<float>(), gx.data<float>(), rows, cols, log,
              scale);
  return info.Env().Undefined();
}

// dropout(x, p, seed, offset, out, mask): out = x · keep / (1 − p), mask uint8 (1 = kept).
GW_BINDING(dropout) {
  const Tensor& x = arg_tensor(info, 0, "x");
  const float p = arg_probability(info, 1, "p");
  const uint64_t seed = arg_u64(info, 2, "seed"), offset = arg_u64(info, 3, "offset");
  const Tensor& out = arg_tensor(info, 4, "out");
  const Tensor& mask = arg_tensor(info, 5, "mask");
  check_dtype(x, DType::kF32, "x");
  check_f32_like(out, x, "out", "x");
  check_dtype(mask, DType::kU8, "mask");
  check_shape(mask, x.shape(), "mask");
  check_same_device(mask, x, "mask", "x");
  GW_DISPATCH(x.device(), dropout_forward, x.data<float>(), out.data<float>(), mask.data<uint8_t>(), x.numel(), p,
              seed, offset);
  return info.Env().Undefined();
}

// dropoutBackward(gy, mask, p, gx): gx = gy · mask / (1 − p) (gx overwritten).
GW_BINDING(dropout_backward) {
  const Tensor& gy = arg_tensor(info, 0, "gy");
  const Tensor& mask = arg_tensor(info, 1, "mask");
  const float p = arg_probability(info, 2, "p");
  const Tensor& gx = arg_tensor(info, 3, "gx");
  check_dtype(gy, DType::kF32, "gy");
  check_dtype(mask, DType::kU8, "mask");
  check_shape(mask, gy.shape(), "mask");
  check_same_device(mask, gy, "mask", "gy");
  check_f32_like(gx, gy, "gx", "gy");
  GW_DISPATCH(gy.device(), dropout_backward, gy.data<float>(), mask.data<uint8_t>(), gx.data<float>(), gy.numel(), p);
  return info.Env().Undefined();
}

// philoxUniform(seed, offset, out): out float32 ← uniform [0, 1).
GW_BINDING(philox_uniform) {
  const uint64_t seed = arg_u64(info, 0, "seed"), offset = arg_u64(info, 1, "offset");
  const Tensor& out = arg_tensor(info, 2, "out");
  check_dtype(out, DType::kF32, "out");
  GW_DISPATCH(out.device(), philox_uniform, seed, offset, out.data<float>(), out.numel());
  return info.Env().Undefined();
}

// bernoulliMask(p, seed, offset, mask): mask uint8 ← 1 with probability 1 − p (u ≥ p).
GW_BINDING(bernoulli_mask) {
  const float p = arg_probability(info, 0, "p");
  const uint64_t seed = arg_u64(info, 1, "seed"), offset = arg_u64(info, 2, "offset");
  const Tensor& mask = arg_tensor(info, 3, "mask");
  check_dtype(mask, DType::kU8, "mask");
  GW_DISPATCH(mask.device(), bernoulli_mask, p, seed, offset, mask.data<uint8_t>(), mask.numel());
  return info.Env().Undefined();
}

// bceWithLogits(z, y, weight | null, posWeight, reduction, out)
GW_BINDING(bce_with_logits) {
  LossArgs a = loss_args(info);
  const float pw = static_cast<float>(arg_number(info, 3, "posWeight"));
  const Reduction red = arg_reduction(info, 4, "reduction");
  const Tensor& out = arg_tensor(info, 5, "out");
  check_reduced(out, *a.z, red, "out");
  GW_DISPATCH(a.z->device(), bce_with_logits_forward, a.z->data<float>(), a.y->data<float>(), a.w, pw, a.z->numel(),
              red, out.data<float>());
  return info.Env().Undefined();
}

// bceWithLogitsBackward(z, y, weight | null, posWeight, reduction, gout, gz)
GW_BINDING(bce_with_logits_backward) {
  LossArgs a = loss_args(info);
  const float pw = static_cast<float>(arg_number(info, 3, "posWeight"));
  const Reduction red = arg_reduction(info, 4, "reduction");
  const Tensor& gout = arg_tensor(info, 5, "gout");
  const Tensor& gz = arg_tensor(info, 6, "gz");
  check_reduced(gout, *a.z, red, "gout");
  check_f32_like(gz, *a.z, "gz", "z");
  GW_DISPATCH(a.z->device(), bce_with_logits_backward, a.z->data<float>(), a.y->data<float>(), a.w, pw, a.z->numel(),
              red, gout.data<float>(), gz.data<float>());
  return info.Env().Undefined();
}

// mse(z, y, weight | null, reduction, out)
GW_BINDING(mse) {
  LossArgs a = loss_args(info);
  const Reduction red = arg_reduction(info, 3, "reduction");
  const Tensor& out = arg_tensor(info, 4, "out");
  check_reduced(out, *a.z, red, "out");
  GW_DISPATCH(a.z->device(), mse_forward, a.z->data<float>(), a.y->data<float>(), a.w, a.z->numel(), red,
              out.data<float>());
  return info.Env().Undefined();
}

// mseBackward(z, y, weight | null, reduction, gout, gz)
GW_BINDING(mse_backward) {
  LossArgs a = loss_args(info);
  const Reduction red = arg_reduction(info, 3, "reduction");
  const Tensor& gout = arg_tensor(info, 4, "gout");
  const Tensor& gz = arg_tensor(info, 5, "gz");
  check_reduced(gout, *a.z, red, "gout");
  check_f32_like(gz, *a.z, "gz", "z");
  GW_DISPATCH(a.z->device(), mse_backward, a.z->data<float>(), a.y->data<float>(), a.w, a.z->numel(), red,
              gout.data<float>(), gz.data<float>());
  return info.Env().Undefined();
}

void register_nn(Napi::Env env, Napi::Object exports) {
  def(env, exports, "softmax", softmax);
  def(env, exports, "softmaxBackward", softmax_backward);
  def(env, exports, "dropout", dropout);
  def(env, exports, "dropoutBackward", dropout_backward);
  def(env, exports, "philoxUniform", philox_uniform);
  def(env, exports, "bernoulliMask", bernoulli_mask);
  def(env, exports, "bceWithLogits", bce_with_logits);
  def(env, exports, "bceWithLogitsBackward", bce_with_logits_backward);
  def(env, exports, "mse", mse);
  def(env, exports, "mseBackward", mse_backward);
}

static const Registration reg(register_nn);

}  // namespace gw::binding
