// scratch — a temporary device buffer from the caching allocator for the duration of a
// launcher (partial sums, elementwise gradients before a reduction). It is freed when the
// launcher returns, with kernels still queued: safe because every gatewise kernel runs on
// the one compute stream, so a later user of the block is ordered after them.
#pragma once
#include <cstddef>

#include "../../core/allocator.h"

namespace gw {

template <typename T>
class DeviceScratch {
 public:
  explicit DeviceScratch(size_t n) : bytes_(n * sizeof(T) ? n * sizeof(T) : 1),
                                     p_(static_cast<T*>(mem_alloc(Device::kCuda, bytes_))) {}
  ~DeviceScratch() { mem_free(Device::kCuda, p_, bytes_); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  T* get() const { return p_; }

 private:
  size_t bytes_;
  T* p_;
};

}  // namespace gw
