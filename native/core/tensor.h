// gatewise — Tensor: a dense, contiguous, row-major view into a Storage.
// Views (reshape, a range of the first dimension) share the storage and carry an element
// offset; every other layout change is a copy made by a kernel. Kernels receive raw
// pointers from data<T>() and sizes from shape; they never see a Tensor.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "error.h"
#include "storage.h"

namespace gw {

using Shape = std::vector<int64_t>;

inline int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}
std::string shape_str(const Shape& s);  ///< "[2, 3]"

class Tensor {
 public:
  Tensor() = default;
  Tensor(StoragePtr storage, int64_t offset, Shape shape, DType dtype)
      : storage_(std::move(storage)), offset_(offset), shape_(std::move(shape)), dtype_(dtype) {}

  /// A new uninitialized tensor.
  static Tensor empty(const Shape& shape, DType dtype, Device device);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t i) const { return shape_[i < 0 ? i + dim() : i]; }
  int64_t numel() const { return shape_numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_->device(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  int64_t offset() const { return offset_; }
  const StoragePtr& storage() const { return storage_; }

  void* raw() const { return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_); }
  template <typename T>
  T* data() const { return static_cast<T*>(raw()); }

  Tensor view(const Shape& shape) const;            ///< same storage, same numel
  Tensor narrow0(int64_t start, int64_t len) const;  ///< rows [start, start+len) of dim 0

 private:
  StoragePtr storage_;
  int64_t offset_ = 0;
  Shape shape_;
  DType dtype_ = DType::kF32;
};

// ---- checks used by the binding (cheap invariants; lib/ validates first)
void check_dtype(const Tensor& t, DType want, const char* name);
void check_shape(const Tensor& t, const Shape& want, const char* name);
void check_same_device(const Tensor& a, const Tensor& b, const char* name_a, const char* name_b);

}  // namespace gw

namespace gw {
/// dst ← src: same dtype and numel, any pair of devices. Host reads wait for the device.
void copy_tensor(const Tensor& dst, const Tensor& src);
/// Every byte of t set to zero.
void zero_tensor(const Tensor& t);
}  // namespace gw
