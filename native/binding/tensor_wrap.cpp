#include "tensor_wrap.h"

#include "addon_data.h"
#include "napi_util.h"

namespace gw::binding {

Napi::Function NativeTensor::define(Napi::Env env) {
  return DefineClass(env, "NativeTensor",
                     {
                         InstanceMethod<&NativeTensor::dispose>("dispose"),
                         InstanceAccessor<&NativeTensor::get_disposed>("disposed"),
                         InstanceAccessor<&NativeTensor::get_shape>("shape"),
                         InstanceAccessor<&NativeTensor::get_dtype>("dtype"),
                         InstanceAccessor<&NativeTensor::get_device>("device"),
                         InstanceAccessor<&NativeTensor::get_storage_id>("storageId"),
                     });
}

NativeTensor::NativeTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTensor>(info) {}

NativeTensor::~NativeTensor() { release(Env()); }

void NativeTensor::set(Napi::Env env, Tensor t) {
  release(env);
  t_ = std::move(t);
  // A view shares its storage: only the handle that allocated counts the bytes.
  external_bytes_ = t_.storage().use_count() == 1 ? static_cast<int64_t>(t_.storage()->bytes()) : 0;
  if (external_bytes_) Napi::MemoryManagement::AdjustExternalMemory(env, external_bytes_);
}

void NativeTensor::release(Napi::Env env) {
  if (external_bytes_) Napi::MemoryManagement::AdjustExternalMemory(env, -external_bytes_);
  external_bytes_ = 0;
  t_ = Tensor();
}

Napi::Value NativeTensor::dispose(const Napi::CallbackInfo& info) {
  release(info.Env());
  return info.Env().Undefined();
}

Napi::Value NativeTensor::get_disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed());
}

Napi::Value NativeTensor::get_shape(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    GW_CHECK(!disposed(), kDisposed, "tensor was disposed");
    Napi::Array a = Napi::Array::New(info.Env(), t_.shape().size());
    for (size_t i = 0; i < t_.shape().size(); ++i) a.Set(i, Napi::Number::New(info.Env(), double(t_.shape()[i])));
    return a;
  });
}

Napi::Value NativeTensor::get_dtype(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    GW_CHECK(!disposed(), kDisposed, "tensor was disposed");
    return Napi::String::New(info.Env(), dtype_name(t_.dtype()));
  });
}

Napi::Value NativeTensor::get_device(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    GW_CHECK(!disposed(), kDisposed, "tensor was disposed");
    return Napi::String::New(info.Env(), device_name(t_.device()));
  });
}

// Identifies the underlying storage, so JS can tell views of one buffer apart.
Napi::Value NativeTensor::get_storage_id(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    GW_CHECK(!disposed(), kDisposed, "tensor was disposed");
    return Napi::Number::New(info.Env(), double(reinterpret_cast<uintptr_t>(t_.storage().get()) & ((1ull << 52) - 1)));
  });
}

Napi::Value wrap(Napi::Env env, Tensor t) {
  Napi::Object obj = env.GetInstanceData<AddonData>()->tensor_ctor.New({});
  NativeTensor::Unwrap(obj)->set(env, std::move(t));
  return obj;
}

}  // namespace gw::binding
