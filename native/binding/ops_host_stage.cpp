// gatewise binding — host staging for collectives (lib/distributed/staging.ts): a tensor's
// values as a typed array the Gloo backend can send and receive. A CPU tensor's array is its
// own storage (no copy; the array keeps the storage alive); a CUDA tensor's values are copied
// into page-locked host memory in stream order, as PyTorch's Gloo backend stages CUDA
// tensors, and written back with a host-to-device copy.
#include <cstring>

#include "napi_util.h"
#include "registry.h"

namespace gw::binding {

// hostStage(t) → a typed array of t's values: t's own storage on the CPU, pinned memory for CUDA.
GW_BINDING(host_stage) {
  const Tensor& t = arg_tensor(info, 0, "tensor");
  Napi::Env env = info.Env();
  const size_t bytes = t.nbytes();
  const size_t n = static_cast<size_t>(t.numel());
  if (bytes == 0) return typed_array_of(env, t.dtype(), 0, Napi::ArrayBuffer::New(env, 0));
  if (t.device() == Device::kCpu) {
    auto* owner = new Tensor(t);  // the storage lives as long as the array
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, t.raw(), bytes, [](Napi::Env, void*, Tensor* o) { delete o; }, owner);
    return typed_array_of(env, t.dtype(), n, buf);
  }
  void* pinned = cudart::malloc_pinned(bytes);
  try {
    cudart::memcpy_d2h_async(pinned, t.raw(), bytes, cudart::compute_stream());
    cudart::synchronize(cudart::compute_stream());
  } catch (...) {
    cudart::free_pinned(pinned);
    throw;
  }
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, pinned, bytes, [](Napi::Env, void* p) { cudart::free_pinned(p); });
  return typed_array_of(env, t.dtype(), n, buf);
}

// hostUnstage(t, array): t ← the array's values (nothing to do for a CPU tensor's own storage).
GW_BINDING(host_unstage) {
  const Tensor& t = arg_tensor(info, 0, "tensor");
  Napi::Value v = arg_at(info, 1);
  GW_CHECK(v.IsTypedArray(), kArgument, "Expected a typed array for array");
  auto a = v.As<Napi::TypedArray>();
  GW_CHECK(a.ByteLength() == t.nbytes(), kShape, "array has ", a.ByteLength(), " bytes but the tensor ", t.nbytes());
  if (t.nbytes() == 0) return info.Env().Undefined();
  const char* src = static_cast<const char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  if (t.device() == Device::kCpu) {
    if (src != t.raw()) std::memcpy(t.raw(), src, t.nbytes());
  } else {
    cudart::memcpy_h2d(t.raw(), src, t.nbytes(), cudart::compute_stream());
  }
  return info.Env().Undefined();
}

static void register_host_stage(Napi::Env env, Napi::Object exports) {
  def(env, exports, "hostStage", host_stage);
  def(env, exports, "hostUnstage", host_unstage);
}

static const Registration reg(register_host_stage);

}  // namespace gw::binding
