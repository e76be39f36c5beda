// gatewise binding — fused optimizer steps over a parameter group, and the global gradient
// norm with clipping. Every list argument is a JS array of Tensors; tensor i of each list
// pairs with params[i] (same shape, float32, one device for all). Options come as a plain
// object whose fields are each checked and named in the error; unknown fields are refused
// so that a misspelt option never silently falls back to its default.
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "../ops/optim/adagrad.h"
#include "../ops/optim/adam.h"
#include "../ops/optim/grad_norm.h"
#include "../ops/optim/sgd.h"
#include "addon_data.h"
#include "napi_util.h"
#include "options.h"
#include "registry.h"
#include "tensor_wrap.h"

namespace gw::binding {
namespace {


// ---- tensor lists

/// The tensors of one list argument, in order, with the list's name for messages.
struct TensorList {
  std::string name;
  std::vector<const Tensor*> tensors;
  size_t size() const { return tensors.size(); }
  std::string item(size_t i) const { return name + "[" + std::to_string(i) + "]"; }
  std::vector<float*> data() const {
    std::vector<float*> p;
    for (const Tensor* t : tensors) p.push_back(t->data<float>());
    return p;
  }
  std::vector<const float*> cdata() const {
    std::vector<const float*> p;
    for (const Tensor* t : tensors) p.push_back(t->data<float>());
    return p;
  }
};

TensorList arg_list(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = arg_at(info, i);
  GW_CHECK(v.IsArray(), kArgument, "Expected an array of Tensors for ", name, " but received a value of type ",
           type_name(v));
  Napi::Array a = v.As<Napi::Array>();
  TensorList l{name, {}};
  for (uint32_t k = 0; k < a.Length(); ++k) l.tensors.push_back(&value_tensor(info.Env(), a.Get(k), l.item(k)));
  return l;
}

/// params: float32, all on one device. Returns that device (CPU for an empty group).
Device check_params(const TensorList& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    check_dtype(*params.tensors[i], DType::kF32, params.item(i).c_str());
    check_same_device(*params.tensors[i], *params.tensors[0], params.item(i).c_str(), params.item(0).c_str());
  }
  return params.size() ? params.tensors[0]->device() : Device::kCpu;
}

/// `other` pairs with params: as many tensors, each float32 with its param's shape and device.
void check_paired(const TensorList& params, const TensorList& other) {
  GW_CHECK(other.size() == params.size(), kShape, "Expected ", params.size(), " tensors for ", other.name,
           " (one per tensor of ", params.name, ") but received ", other.size());
  for (size_t i = 0; i < other.size(); ++i) {
    const std::string n = other.item(i);
    check_dtype(*other.tensors[i], DType::kF32, n.c_str());
    check_shape(*other.tensors[i], params.tensors[i]->shape(), n.c_str());
    check_same_device(*other.tensors[i], *params.tensors[i], n.c_str(), params.item(i).c_str());
  }
}

/// No two tensors of the lists share memory: an update must not race with itself.
void check_disjoint(std::initializer_list<const TensorList*> lists) {
  struct Range {
    const char* lo;
    const char* hi;
    const TensorList* list;
    size_t i;
  };
  std::vector<Range> r;
  for (const TensorList* l : lists)
    for (size_t i = 0; i < l->size(); ++i) {
      const Tensor& t = *l->tensors[i];
      if (t.nbytes()) r.push_back({static_cast<const char*>(t.raw()), static_cast<const char*>(t.raw()) + t.nbytes(), l, i});
    }
  std::sort(r.begin(), r.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
  for (size_t k = 1; k < r.size(); ++k)
    GW_CHECK(r[k - 1].hi <= r[k].lo, kArgument, r[k - 1].list->item(r[k - 1].i), " and ", r[k].list->item(r[k].i),
             " share memory; every tensor of an optimizer step must be distinct");
}

std::vector<int64_t> numels(const TensorList& l) {
  std::vector<int64_t> n;
  for (const Tensor* t : l.tensors) n.push_back(t->numel());
  return n;
}

/// A one-element tensor of dtype `dt` on `device`.
void check_scalar(const Tensor& t, DType dt, Device device, const char* name) {
  check_dtype(t, dt, name);
  GW_CHECK(t.numel() == 1, kShape, "Expected a one-element tensor for ", name, " but received shape ",
           shape_str(t.shape()));
  GW_CHECK(t.device() == device, kDevice, "Expected ", name, " on ", device_name(device), " but it is on ",
           device_name(t.device()));
}

}  // namespace

// ---- steps

// sgdStep(params[], grads[], momentumBufs[] | null, {lr, momentum?, dampening?, nesterov?,
//         weightDecay?, firstStep?}) — params (and momentumBufs) updated in place.
GW_BINDING(sgd_step_fn) {
  TensorList params = arg_list(info, 0, "params"), grads = arg_list(info, 1, "grads");
  Options opts(info, 3, "sgdStep", {"lr", "momentum", "dampening", "nesterov", "weightDecay", "firstStep"});
  SgdOptions o;
  o.lr = static_cast<float>(opts.number("lr"));
  o.momentum = static_cast<float>(opts.number("momentum", o.momentum));
  o.dampening = static_cast<float>(opts.number("dampening", o.dampening));
  o.nesterov = opts.boolean("nesterov", o.nesterov);
  o.weight_decay = static_cast<float>(opts.number("weightDecay", o.weight_decay));
  o.first_step = opts.boolean("firstStep", o.first_step);
  check_sgd_options(o);

  const Device dev = check_params(params);
  check_paired(params, grads);
  Napi::Value bufs_arg = arg_at(info, 2);
  const bool has_bufs = !bufs_arg.IsNull() && !bufs_arg.IsUndefined();
  GW_CHECK(has_bufs || o.momentum == 0, kArgument, "Expected an array of Tensors for momentumBufs (momentum is ",
           o.momentum, ") but received a value of type ", type_name(bufs_arg));
  TensorList bufs = has_bufs ? arg_list(info, 2, "momentumBufs") : TensorList{"momentumBufs", {}};
  if (has_bufs) check_paired(params, bufs);
  check_disjoint({&params, &grads, &bufs});

  std::vector<float*> p = params.data(), b = bufs.data();
  std::vector<const float*> g = grads.cdata();
  std::vector<int64_t> n = numels(params);
  GW_DISPATCH(dev, sgd_step, p.data(), g.data(), has_bufs ? b.data() : nullptr, n.data(),
              static_cast<int64_t>(n.size()), o);
  return info.Env().Undefined();
}

// adamStep(params[], grads[], m[], v[], {lr, step, beta1?, beta2?, eps?, weightDecay?,
//          decoupled?, amsgrad?}, maxV[]?) — params, m, v (and maxV) updated in place.
GW_BINDING(adam_step_fn) {
  TensorList params = arg_list(info, 0, "params"), grads = arg_list(info, 1, "grads");
  TensorList m = arg_list(info, 2, "m"), v = arg_list(info, 3, "v");
  Options opts(info, 4, "adamStep",
               {"lr", "beta1", "beta2", "eps", "weightDecay", "decoupled", "amsgrad", "step"});
  AdamOptions o;
  o.lr = static_cast<float>(opts.number("lr"));
  o.beta1 = static_cast<float>(opts.number("beta1", o.beta1));
  o.beta2 = static_cast<float>(opts.number("beta2", o.beta2));
  o.eps = static_cast<float>(opts.number("eps", o.eps));
  o.weight_decay = static_cast<float>(opts.number("weightDecay", o.weight_decay));
  o.decoupled = opts.boolean("decoupled", o.decoupled);
  o.step = opts.step("step");
  const bool amsgrad = opts.boolean("amsgrad", false);
  check_adam_options(o);

  const Device dev = check_params(params);
  check_paired(params, grads);
  check_paired(params, m);
  check_paired(params, v);
  Napi::Value max_arg = arg_at(info, 5);
  const bool has_max = !max_arg.IsNull() && !max_arg.IsUndefined();
  GW_CHECK(has_max || !amsgrad, kArgument, "Expected an array of Tensors for maxV (amsgrad is true) but received a value of type ",
           type_name(max_arg));
  GW_CHECK(!has_max || amsgrad, kArgument, "Expected no maxV (amsgrad is false) but received a value of type ",
           type_name(max_arg));
  TensorList max_v = has_max ? arg_list(info, 5, "maxV") : TensorList{"maxV", {}};
  if (has_max) check_paired(params, max_v);
  check_disjoint({&params, &grads, &m, &v, &max_v});

  std::vector<float*> p = params.data(), mp = m.data(), vp = v.data(), xp = max_v.data();
  std::vector<const float*> g = grads.cdata();
  std::vector<int64_t> n = numels(params);
  GW_DISPATCH(dev, adam_step, p.data(), g.data(), mp.data(), vp.data(), has_max ? xp.data() : nullptr, n.data(),
              static_cast<int64_t>(n.size()), o);
  return info.Env().Undefined();
}

// adagradStep(params[], grads[], acc[], {lr, step, lrDecay?, eps?, weightDecay?}) — params
// and acc updated in place; acc starts at initial_accumulator_value (the caller fills it).
GW_BINDING(adagrad_step_fn) {
  TensorList params = arg_list(info, 0, "params"), grads = arg_list(info, 1, "grads");
  TensorList acc = arg_list(info, 2, "acc");
  Options opts(info, 3, "adagradStep", {"lr", "lrDecay", "eps", "weightDecay", "step"});
  AdagradOptions o;
  o.lr = static_cast<float>(opts.number("lr"));
  o.lr_decay = static_cast<float>(opts.number("lrDecay", o.lr_decay));
  o.eps = static_cast<float>(opts.number("eps", o.eps));
  o.weight_decay = static_cast<float>(opts.number("weightDecay", o.weight_decay));
  o.step = opts.step("step");
  check_adagrad_options(o);

  const Device dev = check_params(params);
  check_paired(params, grads);
  check_paired(params, acc);
  check_disjoint({&params, &grads, &acc});

  std::vector<float*> p = params.data(), a = acc.data();
  std::vector<const float*> g = grads.cdata();
  std::vector<int64_t> n = numels(params);
  GW_DISPATCH(dev, adagrad_step, p.data(), g.data(), a.data(), n.data(), static_cast<int64_t>(n.size()), o);
  return info.Env().Undefined();
}

// ---- global norm

// gradNorm(grads[], out, nonFinite?) — out (1 element, float32) ← sqrt(Σ g²);
// nonFinite (1 element, uint8) ← 1 if the norm is NaN/Inf else 0. Nothing waits for the device.
GW_BINDING(grad_norm_fn) {
  TensorList grads = arg_list(info, 0, "grads");
  const Tensor& out = arg_tensor(info, 1, "out");
  const Tensor* flag = arg_opt_tensor(info, 2, "nonFinite");
  const Device dev = grads.size() ? check_params(grads) : out.device();
  check_scalar(out, DType::kF32, dev, "out");
  if (flag) check_scalar(*flag, DType::kU8, dev, "nonFinite");
  std::vector<const float*> g = grads.cdata();
  std::vector<int64_t> n = numels(grads);
  GW_DISPATCH(dev, grad_norm, g.data(), n.data(), static_cast<int64_t>(n.size()), out.data<float>(),
              flag ? flag->data<uint8_t>() : nullptr);
  return info.Env().Undefined();
}

// clipByNorm(grads[], norm, maxNorm) — grads ← grads · min(1, maxNorm / (norm + 1e-6)),
// reading norm (1 element, float32) on the device; a non-finite norm leaves grads alone.
GW_BINDING(clip_by_norm_fn) {
  TensorList grads = arg_list(info, 0, "grads");
  const Tensor& norm = arg_tensor(info, 1, "norm");
  const double max_norm = arg_number(info, 2, "maxNorm");
  GW_CHECK(std::isfinite(max_norm) && max_norm >= 0, kArgument, "Expected a finite number >= 0 for maxNorm but received ",
           max_norm);
  const Device dev = grads.size() ? check_params(grads) : norm.device();
  check_scalar(norm, DType::kF32, dev, "norm");
  check_disjoint({&grads});
  std::vector<float*> g = grads.data();
  std::vector<int64_t> n = numels(grads);
  GW_DISPATCH(dev, clip_by_norm, g.data(), n.data(), static_cast<int64_t>(n.size()), norm.data<float>(),
              static_cast<float>(max_norm));
  return info.Env().Undefined();
}

void register_optim(Napi::Env env, Napi::Object exports) {
  def(env, exports, "sgdStep", sgd_step_fn);
  def(env, exports, "adamStep", adam_step_fn);
  def(env, exports, "adagradStep", adagrad_step_fn);
  def(env, exports, "gradNorm", grad_norm_fn);
  def(env, exports, "clipByNorm", clip_by_norm_fn);
}

static const Registration reg(register_optim);

}  // namespace gw::binding
