// gatewise binding — tensors: creation, transfer, views, and the backend's state.
#include <cstring>
#include <memory>

#include "../core/allocator.h"
#include "../core/cpu_features.h"
#include "../core/parallel.h"
#include "../ops/fill/fill.h"
#include "napi_util.h"
#include "registry.h"

namespace gw::binding {

static DType typed_array_dtype(const Napi::TypedArray& a, const char* name) {
  switch (a.TypedArrayType()) {
    case napi_float32_array: return DType::kF32;
    case napi_int32_array: return DType::kI32;
    case napi_bigint64_array: return DType::kI64;
    case napi_uint8_array: return DType::kU8;
    default: GW_THROW(kDType, "Expected a Float32Array, Int32Array, BigInt64Array or Uint8Array for ", name);
  }
}

// fromTypedArray(array, shape, device) → Tensor holding a copy of the array.
GW_BINDING(from_typed_array) {
  Napi::Value v = info[0];
  GW_CHECK(v.IsTypedArray(), kArgument, "Expected a typed array for data");
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  DType dt = typed_array_dtype(a, "data");
  Shape shape = arg_shape(info, 1, "shape");
  Device dev = arg_device(info, 2, "device");
  GW_CHECK(shape_numel(shape) == static_cast<int64_t>(a.ElementLength()), kShape, "data has ", a.ElementLength(),
           " elements but shape ", shape_str(shape), " needs ", shape_numel(shape));
  Tensor t = Tensor::empty(shape, dt, dev);
  const char* src = static_cast<const char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  if (dev == Device::kCpu) std::memcpy(t.raw(), src, t.nbytes());
  else cudart::memcpy_h2d(t.raw(), src, t.nbytes(), cudart::compute_stream());
  return wrap(info.Env(), std::move(t));
}

// empty(shape, dtype, device) → uninitialized Tensor.
GW_BINDING(empty) {
  return wrap(info.Env(), Tensor::empty(arg_shape(info, 0, "shape"), arg_dtype(info, 1, "dtype"),
                                        arg_device(info, 2, "device")));
}

Napi::Value typed_array_of(Napi::Env env, DType dtype, size_t n, Napi::ArrayBuffer buf) {
  switch (dtype) {
    case DType::kF32: return Napi::Float32Array::New(env, n, buf, 0);
    case DType::kI32: return Napi::Int32Array::New(env, n, buf, 0);
    case DType::kI64: return Napi::BigInt64Array::New(env, n, buf, 0);
    case DType::kU8: return Napi::Uint8Array::New(env, n, buf, 0);
  }
  return env.Undefined();
}

// toTypedArray(t) → a new typed array with t's values (waits for pending device work).
GW_BINDING(to_typed_array) {
  const Tensor& t = arg_tensor(info, 0, "tensor");
  Napi::Env env = info.Env();
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, t.nbytes());
  if (t.nbytes()) {
    if (t.device() == Device::kCpu) std::memcpy(buf.Data(), t.raw(), t.nbytes());
    else cudart::memcpy_d2h(buf.Data(), t.raw(), t.nbytes(), cudart::compute_stream());
  }
  return typed_array_of(env, t.dtype(), static_cast<size_t>(t.numel()), buf);
}

// Reads a CUDA tensor without blocking the event loop: the copy into pinned memory is
// queued in stream order on the main thread (so it sees exactly the ops queued before the
// call), a libuv thread waits for it, and the main thread builds the typed array.
class DeviceRead : public Napi::AsyncWorker {
 public:
  DeviceRead(Napi::Env env, const Tensor& t)
      : Napi::AsyncWorker(env, "gatewise.toTypedArrayAsync"), deferred_(Napi::Promise::Deferred::New(env)),
        dtype_(t.dtype()), n_(static_cast<size_t>(t.numel())), bytes_(t.nbytes()) {
    staging_ = cudart::malloc_pinned(bytes_);
    try {
      cudart::memcpy_d2h_async(staging_, t.raw(), bytes_, cudart::compute_stream());
      done_ = cudart::record_event(cudart::compute_stream());
    } catch (...) {
      cudart::free_pinned(staging_);
      throw;
    }
  }
  ~DeviceRead() override {
    cudart::destroy_event(done_);
    cudart::free_pinned(staging_);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {  // no JS here: wait for the copy, keep any error for the main thread
    try {
      cudart::wait_event(done_);
    } catch (const gw::Error& e) {
      error_ = std::make_unique<gw::Error>(e);
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, bytes_);
    if (bytes_) std::memcpy(buf.Data(), staging_, bytes_);
    deferred_.Resolve(typed_array_of(env, dtype_, n_, buf));
  }
  void OnError(const Napi::Error&) override {
    Napi::Env env = Env();
    Napi::Error err = Napi::Error::New(env, error_ ? error_->what() : "CUDA read failed");
    err.Set("code", Napi::String::New(env, error_code_name(error_ ? error_->code() : ErrorCode::kCuda)));
    deferred_.Reject(err.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  DType dtype_;
  size_t n_, bytes_;
  void* staging_ = nullptr;
  Event done_ = nullptr;
  std::unique_ptr<gw::Error> error_;
};

// toTypedArrayAsync(t) → Promise of a typed array. CPU tensors resolve at once (their ops
// have finished when they return); CUDA tensors resolve once the queued work is done.
GW_BINDING(to_typed_array_async) {
  const Tensor& t = arg_tensor(info, 0, "tensor");
  Napi::Env env = info.Env();
  if (t.device() == Device::kCpu || t.nbytes() == 0) {
    Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
    d.Resolve(to_typed_array(info));
    return d.Promise();
  }
  auto* worker = new DeviceRead(env, t);
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

// copy(dst, src): dst ← src (same dtype and numel; any devices).
GW_BINDING(copy) {
  copy_tensor(arg_tensor(info, 0, "dst"), arg_tensor(info, 1, "src"));
  return info.Env().Undefined();
}

// toDevice(t, device) → a copy of t on device.
GW_BINDING(to_device) {
  const Tensor& t = arg_tensor(info, 0, "tensor");
  Tensor out = Tensor::empty(t.shape(), t.dtype(), arg_device(info, 1, "device"));
  copy_tensor(out, t);
  return wrap(info.Env(), std::move(out));
}

// fill(t, value): float32 t ← value everywhere.
GW_BINDING(fill) {
  const Tensor& t = arg_tensor(info, 0, "tensor");
  check_dtype(t, DType::kF32, "tensor");
  float value = static_cast<float>(arg_number(info, 1, "value"));
  GW_DISPATCH(t.device(), fill, t.data<float>(), value, t.numel());
  return info.Env().Undefined();
}

// zero(t): every byte of t ← 0 (any dtype).
GW_BINDING(zero) {
  zero_tensor(arg_tensor(info, 0, "tensor"));
  return info.Env().Undefined();
}

// view(t, shape) → same storage, new shape.
GW_BINDING(view) {
  return wrap(info.Env(), arg_tensor(info, 0, "tensor").view(arg_shape(info, 1, "shape")));
}

// narrow0(t, start, length) → rows [start, start+length) of dim 0, sharing storage.
GW_BINDING(narrow0) {
  return wrap(info.Env(), arg_tensor(info, 0, "tensor").narrow0(arg_int(info, 1, "start"), arg_int(info, 2, "length")));
}

// backendInfo() → what was built and what is present.
GW_BINDING(backend_info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("cudaBuilt", cudart::built_with_cuda());
  int n = cudart::device_count();
  o.Set("cudaDeviceCount", n);
  o.Set("cudaUnavailableReason", cudart::unavailable_reason());
  o.Set("cpuIsa", cpu_isa_name(cpu_isa()));
  o.Set("numThreads", num_threads());
  if (n > 0) {
    cudart::DeviceInfo d = cudart::device_info(0);
    o.Set("deviceName", d.name);
    o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    o.Set("totalMemory", double(d.total_bytes));
    o.Set("freeMemory", double(d.free_bytes));
    o.Set("smCount", d.sm_count);
    o.Set("driverVersion", d.driver_version);
    o.Set("runtimeVersion", d.runtime_version);
  }
  return o;
}

// memoryStats(device) → allocator counters.
GW_BINDING(memory_stats) {
  MemoryStats s = memory_stats(arg_device(info, 0, "device"));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("allocated", double(s.allocated));
  o.Set("peakAllocated", double(s.peak_allocated));
  o.Set("reserved", double(s.reserved));
  o.Set("allocCount", double(s.alloc_count));
  o.Set("systemAllocs", double(s.system_allocs));
  return o;
}

GW_BINDING(empty_cache_fn) {
  empty_cache();
  return info.Env().Undefined();
}

GW_BINDING(set_num_threads_fn) {
  int64_t n = arg_int(info, 0, "threads");
  GW_CHECK(n >= 1 && n <= 256, kArgument, "Expected an integer from 1 to 256 for threads but received ", n);
  set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

// synchronize(): wait until every queued CUDA kernel has finished (no-op on CPU).
GW_BINDING(synchronize) {
  if (cudart::device_count() > 0) cudart::synchronize(cudart::compute_stream());
  return info.Env().Undefined();
}

void register_tensor(Napi::Env env, Napi::Object exports) {
  def(env, exports, "fromTypedArray", from_typed_array);
  def(env, exports, "empty", empty);
  def(env, exports, "toTypedArray", to_typed_array);
  def(env, exports, "toTypedArrayAsync", to_typed_array_async);
  def(env, exports, "copy", copy);
  def(env, exports, "toDevice", to_device);
  def(env, exports, "fill", fill);
  def(env, exports, "zero", zero);
  def(env, exports, "view", view);
  def(env, exports, "narrow0", narrow0);
  def(env, exports, "backendInfo", backend_info);
  def(env, exports, "memoryStats", memory_stats);
  def(env, exports, "emptyCache", empty_cache_fn);
  def(env, exports, "setNumThreads", set_num_threads_fn);
  def(env, exports, "synchronize", synchronize);
}

static const Registration reg(register_tensor);

}  // namespace gw::binding
