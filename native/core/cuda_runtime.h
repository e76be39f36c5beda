// gatewise — the few CUDA runtime services the core needs, behind a header that compiles
// without CUDA. Built with CUDA: cuda_runtime.cpp (cudart linked statically, so loading
// never needs libcudart; libcuda is opened lazily by cudart and its absence only means
// device_count() == 0). Built without: cuda_absent.cpp, where device_count() is 0 and
// everything else throws ERR_GATEWISE_NO_CUDA.
#pragma once
#include <cstddef>
#include <string>

#include "stream.h"

namespace gw::cudart {

struct DeviceInfo {
  std::string name;          ///< e.g. "NVIDIA H100 80GB HBM3"
  int major = 0, minor = 0;  ///< compute capability
  size_t total_bytes = 0;    ///< global memory
  size_t free_bytes = 0;     ///< free right now
  int sm_count = 0;
  int driver_version = 0, runtime_version = 0;
};

bool built_with_cuda();
int device_count();              ///< 0 when no driver, no device or CPU-only build; never throws
std::string unavailable_reason();  ///< why device_count() is 0 ("" when it is not)
DeviceInfo device_info(int device = 0);

void* malloc_device(size_t bytes);  ///< returns nullptr on out-of-memory, throws on other errors
void free_device(void* p);
void memcpy_h2d(void* dst, const void* src, size_t bytes, Stream s);
void memcpy_d2h(void* dst, const void* src, size_t bytes, Stream s);  ///< waits for completion
void memcpy_d2d(void* dst, const void* src, size_t bytes, Stream s);
void memset_device(void* dst, int value, size_t bytes, Stream s);
Stream compute_stream();         ///< the process-wide non-blocking stream all kernels use
void synchronize(Stream s);

// ---- asynchronous reads: copy into pinned host memory in stream order, wait elsewhere
void* malloc_pinned(size_t bytes);  ///< page-locked host memory; throws ERR_GATEWISE_OOM
void free_pinned(void* p);          ///< never throws
void memcpy_d2h_async(void* dst, const void* src, size_t bytes, Stream s);  ///< dst must be pinned
Event record_event(Stream s);       ///< an event marking everything queued on s so far
void wait_event(Event e);           ///< blocks the calling thread until the event has happened
void destroy_event(Event e);        ///< never throws

}  // namespace gw::cudart
