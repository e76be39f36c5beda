#include "napi_util.h"

#include <cmath>

#include "addon_data.h"
#include "tensor_wrap.h"

namespace gw::binding {

Napi::Error js_error(Napi::Env env, const gw::Error& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, error_code_name(e.code())));
  err.Set("nativeLocation", Napi::String::New(env, e.where()));
  return err;
}

void throw_js(Napi::Env env, const gw::Error& e) { js_error(env, e).ThrowAsJavaScriptException(); }

Napi::Value arg_at(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

const char* type_name(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return v.IsArray() ? "array" : "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
  }
  return "unknown";
}

const Tensor& value_tensor(Napi::Env env, const Napi::Value& v, const std::string& name) {
  Napi::FunctionReference& ctor = env.GetInstanceData<AddonData>()->tensor_ctor;
  GW_CHECK(v.IsObject() && v.As<Napi::Object>().InstanceOf(ctor.Value()), kArgument, "Expected a Tensor for ", name,
           " but received a value of type ", type_name(v));
  NativeTensor* nt = NativeTensor::Unwrap(v.As<Napi::Object>());
  GW_CHECK(!nt->disposed(), kDisposed, "Tensor ", name, " was disposed");
  return nt->tensor();
}

const Tensor& arg_tensor(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return value_tensor(info.Env(), arg_at(info, i), name);
}

const Tensor* arg_opt_tensor(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = arg_at(info, i);
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return &arg_tensor(info, i, name);
}

double arg_number(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = arg_at(info, i);
  GW_CHECK(v.IsNumber(), kArgument, "Expected a number for ", name);
  return v.As<Napi::Number>().DoubleValue();
}

int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double d = arg_number(info, i, name);
  GW_CHECK(std::isfinite(d) && d == std::floor(d), kArgument, "Expected an integer for ", name, " but received ", d);
  return static_cast<int64_t>(d);
}

uint64_t arg_u64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = i < info.Length() ? info[i] : info.Env().Undefined();
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t u = v.As<Napi::BigInt>().Uint64Value(&lossless);
    GW_CHECK(lossless, kArgument, "Expected a BigInt in [0, 2^64) for ", name);
    return u;
  }
  GW_CHECK(v.IsNumber(), kArgument, "Expected a BigInt or a non-negative integer for ", name);
  double d = v.As<Napi::Number>().DoubleValue();
  GW_CHECK(d >= 0 && d == std::floor(d) && d <= 9007199254740991.0, kArgument,
           "Expected a BigInt or a non-negative safe integer for ", name, " but received ", d);
  return static_cast<uint64_t>(d);
}

bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = arg_at(info, i);
  GW_CHECK(v.IsBoolean(), kArgument, "Expected a boolean for ", name);
  return v.As<Napi::Boolean>().Value();
}

std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = arg_at(info, i);
  GW_CHECK(v.IsString(), kArgument, "Expected a string for ", name);
  return v.As<Napi::String>().Utf8Value();
}

Shape arg_shape(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = arg_at(info, i);
  GW_CHECK(v.IsArray(), kArgument, "Expected an array of dimensions for ", name);
  Napi::Array a = v.As<Napi::Array>();
  Shape s(a.Length());
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value d = a.Get(k);
    GW_CHECK(d.IsNumber(), kShape, "Expected integer dimensions for ", name);
    double x = d.As<Napi::Number>().DoubleValue();
    GW_CHECK(x >= 0 && x == std::floor(x) && x < 9.0e15, kShape, "Expected non-negative integer dimensions for ",
             name, " but received ", x);
    s[k] = static_cast<int64_t>(x);
  }
  return s;
}

DType arg_dtype(const Napi::CallbackInfo& info, size_t i, const char* name) {
  std::string s = arg_string(info, i, name);
  if (s == "float32") return DType::kF32;
  if (s == "int32") return DType::kI32;
  if (s == "int64") return DType::kI64;
  if (s == "uint8") return DType::kU8;
  GW_THROW(kDType, "Expected one of float32, int32, int64, uint8 for ", name, " but received ", s);
}

Device arg_device(const Napi::CallbackInfo& info, size_t i, const char* name) {
  std::string s = arg_string(info, i, name);
  if (s == "cpu") return Device::kCpu;
  if (s == "cuda") return Device::kCuda;
  GW_THROW(kDevice, "Expected 'cpu' or 'cuda' for ", name, " but received ", s);
}

void check_no_overlap(const Tensor& out, const char* out_name, const Tensor& in, const char* in_name) {
  const char* o = static_cast<const char*>(out.raw());
  const char* i = static_cast<const char*>(in.raw());
  bool overlap = out.nbytes() && in.nbytes() && o < i + in.nbytes() && i < o + out.nbytes();
  GW_CHECK(!overlap, kArgument, "Expected ", out_name, " not to share memory with ", in_name);
}

void check_operand(const Tensor& t, const Shape& shape, const Tensor& ref, const char* name,
                   const char* ref_name, DType dtype) {
  check_dtype(t, dtype, name);
  check_shape(t, shape, name);
  check_same_device(t, ref, name, ref_name);
}

void check_disjoint(std::initializer_list<std::pair<const Tensor*, const char*>> outs,
                    std::initializer_list<std::pair<const Tensor*, const char*>> ins) {
  for (auto o = outs.begin(); o != outs.end(); ++o) {
    if (!o->first) continue;
    for (const auto& i : ins)
      if (i.first) check_no_overlap(*o->first, o->second, *i.first, i.second);
    for (auto p = o + 1; p != outs.end(); ++p)
      if (p->first) check_no_overlap(*o->first, o->second, *p->first, p->second);
  }
}

Act arg_act(const Napi::CallbackInfo& info, size_t i, const char* name) {
  std::string s = arg_string(info, i, name);
  if (s == "identity") return Act::kIdentity;
  if (s == "relu") return Act::kRelu;
  if (s == "leaky_relu") return Act::kLeakyRelu;
  if (s == "sigmoid") return Act::kSigmoid;
  if (s == "tanh") return Act::kTanh;
  if (s == "gelu") return Act::kGelu;
  GW_THROW(kArgument, "Expected an activation (identity, relu, leaky_relu, sigmoid, tanh, gelu) for ", name,
           " but received ", s);
}

}  // namespace gw::binding
