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
  ~NativeTensor() override;

  Tensor& tensor() { return t_; }
  /// Takes ownership of t and tells V8 how much native memory this handle keeps alive, so
  /// garbage collection runs before memory runs out.
  void set(Napi::Env env, Tensor t);
  bool disposed() const { return !t_.defined(); }

 private:
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value get_disposed(const Napi::CallbackInfo& info);
  Napi::Value get_shape(const Napi::CallbackInfo& info);
  Napi::Value get_dtype(const Napi::CallbackInfo& info);
  Napi::Value get_device(const Napi::CallbackInfo& info);
  Napi::Value get_storage_id(const Napi::CallbackInfo& info);

  void release(Napi::Env env);

  Tensor t_;
  int64_t external_bytes_ = 0;
};

}  // namespace gw::binding
