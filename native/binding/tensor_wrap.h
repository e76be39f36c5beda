// gatewise binding — NativeTensor: the JS handle of a gw::Tensor. lib/tensor.ts wraps it.
// dispose() drops the storage at once (the device memory goes back to the cache); a
// disposed handle throws ERR_GATEWISE_DISPOSED wherever it is passed.
#pragma once
#include <napi.h>

#include "../core/tensor.h"

namespace gw::binding {

class NativeTensor : public Napi::ObjectWrap<NativeTensor> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit NativeTensor(const Napi::CallbackInfo& info);

  Tensor& tensor() { return t_; }
  bool disposed() const { return !t_.defined(); }

 private:
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value get_disposed(const Napi::CallbackInfo& info);
  Napi::Value get_shape(const Napi::CallbackInfo& info);
  Napi::Value get_dtype(const Napi::CallbackInfo& info);
  Napi::Value get_device(const Napi::CallbackInfo& info);
  Napi::Value get_storage_id(const Napi::CallbackInfo& info);

  Tensor t_;
};

}  // namespace gw::binding
