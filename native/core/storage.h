// gatewise — Storage: one owned buffer on one device. Tensors share a Storage through a
// shared_ptr (views), and the buffer returns to the allocator when the last one lets go.
#pragma once
#include <cstddef>
#include <memory>

#include "allocator.h"
#include "dtype.h"

namespace gw {

class Storage {
 public:
  Storage(Device device, size_t bytes) : device_(device), bytes_(bytes), data_(mem_alloc(device, bytes)) {}
  ~Storage() { mem_free(device_, data_, bytes_); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  Device device_;
  size_t bytes_;
  void* data_;
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace gw
