// CUDA build of the runtime services (see cuda_runtime.h).
#include "cuda_runtime.h"

#include <mutex>

#include "cuda_check.h"

namespace gw::cudart {

bool built_with_cuda() { return true; }

namespace {
struct Probe {
  int count = 0;
  std::string reason;
};
const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    cudaError_t e = cudaGetDeviceCount(&r.count);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      r.count = 0;
      r.reason = std::string("no usable CUDA device: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    } else if (r.count == 0) {
      r.reason = "no CUDA device present";
    }
    return r;
  }();
  return p;
}
}  // namespace

int device_count() { return probe().count; }
std::string unavailable_reason() { return probe().reason; }

DeviceInfo device_info(int device) {
  GW_CHECK(device >= 0 && device < device_count(), kNoCuda, "CUDA device ", device, " is not available: ",
           unavailable_reason());
  cudaDeviceProp prop{};
  GW_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  DeviceInfo info;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.sm_count = prop.multiProcessorCount;
  GW_CUDA_CHECK(cudaSetDevice(device));
  GW_CUDA_CHECK(cudaMemGetInfo(&info.free_bytes, &info.total_bytes));
  GW_CUDA_CHECK(cudaDriverGetVersion(&info.driver_version));
  GW_CUDA_CHECK(cudaRuntimeGetVersion(&info.runtime_version));
  return info;
}

void* malloc_device(size_t bytes) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    return nullptr;
  }
  GW_CUDA_CHECK(e);
  return p;
}

void free_device(void* p) {
  if (p) (void)cudaFree(p);  // never throws: called from destructors
}

void memcpy_h2d(void* dst, const void* src, size_t bytes, Stream s) {
  if (!bytes) return;
  GW_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s));
  // The host buffer belongs to JS and may move or be collected: finish before returning.
  GW_CUDA_CHECK(cudaStreamSynchronize(s));
}

void memcpy_d2h(void* dst, const void* src, size_t bytes, Stream s) {
  if (!bytes) return;
  GW_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
  GW_CUDA_CHECK(cudaStreamSynchronize(s));
}

void memcpy_d2d(void* dst, const void* src, size_t bytes, Stream s) {
  if (!bytes) return;
  GW_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s));
}

void memset_device(void* dst, int value, size_t bytes, Stream s) {
  if (!bytes) return;
  GW_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, s));
}

Stream compute_stream() {
  static std::once_flag once;
  static cudaStream_t stream = nullptr;
  std::call_once(once, [] {
    GW_CHECK(device_count() > 0, kNoCuda, unavailable_reason());
    GW_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  });
  GW_CHECK(stream != nullptr, kNoCuda, unavailable_reason());
  return stream;
}

void synchronize(Stream s) { GW_CUDA_CHECK(cudaStreamSynchronize(s)); }

void* malloc_pinned(size_t bytes) {
  void* p = nullptr;
  GW_CUDA_CHECK(cudaMallocHost(&p, bytes ? bytes : 1));
  return p;
}

void free_pinned(void* p) {
  if (p) (void)cudaFreeHost(p);
}

void memcpy_d2h_async(void* dst, const void* src, size_t bytes, Stream s) {
  if (bytes) GW_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
}

Event record_event(Stream s) {
  cudaEvent_t e = nullptr;
  GW_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  cudaError_t err = cudaEventRecord(e, s);
  if (err != cudaSuccess) cudaEventDestroy(e);
  GW_CUDA_CHECK(err);
  return e;
}

void wait_event(Event e) { GW_CUDA_CHECK(cudaEventSynchronize(e)); }

void destroy_event(Event e) {
  if (e) (void)cudaEventDestroy(e);
}

}  // namespace gw::cudart
