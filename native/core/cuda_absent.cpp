// CPU-only build: the CUDA services report no device and refuse politely.
#include "cuda_runtime.h"
#include "error.h"

namespace gw::cudart {

#define GW_NO_CUDA GW_THROW(kNoCuda, "this build of gatewise has no CUDA support (built without nvcc)")

bool built_with_cuda() { return false; }
int device_count() { return 0; }
std::string unavailable_reason() { return "gatewise was built without CUDA (nvcc was not found at build time)"; }
DeviceInfo device_info(int) { GW_NO_CUDA; }
void* malloc_device(size_t) { GW_NO_CUDA; }
void free_device(void*) {}
void memcpy_h2d(void*, const void*, size_t, Stream) { GW_NO_CUDA; }
void memcpy_d2h(void*, const void*, size_t, Stream) { GW_NO_CUDA; }
void memcpy_d2d(void*, const void*, size_t, Stream) { GW_NO_CUDA; }
void memset_device(void*, int, size_t, Stream) { GW_NO_CUDA; }
Stream compute_stream() { GW_NO_CUDA; }
void synchronize(Stream) {}
void* malloc_pinned(size_t) { GW_NO_CUDA; }
void free_pinned(void*) {}
void memcpy_d2h_async(void*, const void*, size_t, Stream) { GW_NO_CUDA; }
Event record_event(Stream) { GW_NO_CUDA; }
void wait_event(Event) { GW_NO_CUDA; }
void destroy_event(Event) {}

}  // namespace gw::cudart
