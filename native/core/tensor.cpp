#include "tensor.h"

#include <sstream>

namespace gw {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) GW_CHECK(d >= 0, kShape, "negative dimension in shape ", shape_str(shape));
  size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  return Tensor(std::make_shared<Storage>(device, bytes), 0, shape, dtype);
}

Tensor Tensor::view(const Shape& shape) const {
  GW_CHECK(shape_numel(shape) == numel(), kShape, "cannot view a tensor of shape ", shape_str(shape_),
           " as ", shape_str(shape));
  return Tensor(storage_, offset_, shape, dtype_);
}

Tensor Tensor::narrow0(int64_t start, int64_t len) const {
  GW_CHECK(dim() >= 1, kShape, "cannot slice a 0-d tensor");
  GW_CHECK(start >= 0 && len >= 0 && start + len <= shape_[0], kShape, "rows [", start, ", ", start + len,
           ") are out of range for a first dimension of ", shape_[0]);
  Shape s = shape_;
  s[0] = len;
  int64_t row = numel() / (shape_[0] == 0 ? 1 : shape_[0]);
  return Tensor(storage_, offset_ + start * row, s, dtype_);
}

void check_dtype(const Tensor& t, DType want, const char* name) {
  GW_CHECK(t.dtype() == want, kDType, "Expected ", dtype_name(want), " for ", name, " but received ",
           dtype_name(t.dtype()));
}

void check_shape(const Tensor& t, const Shape& want, const char* name) {
  GW_CHECK(t.shape() == want, kShape, "Expected shape ", shape_str(want), " for ", name, " but received ",
           shape_str(t.shape()));
}

void check_same_device(const Tensor& a, const Tensor& b, const char* name_a, const char* name_b) {
  GW_CHECK(a.device() == b.device(), kDevice, name_a, " is on ", device_name(a.device()), " but ", name_b,
           " is on ", device_name(b.device()));
}

}  // namespace gw

#include <cstring>

#include "cuda_runtime.h"
#include "parallel.h"

namespace gw {

// Host copies of any size run on the thread pool (one core cannot saturate memory);
// overlapping ranges (a view onto itself) fall back to a single memmove.
static void copy_host(void* dst, const void* src, size_t n) {
  const char* s = static_cast<const char*>(src);
  char* d = static_cast<char*>(dst);
  if (d < s + n && s < d + n) {
    std::memmove(d, s, n);
    return;
  }
  parallel_for(0, static_cast<int64_t>(n), 1 << 20,
               [&](int64_t lo, int64_t hi) { std::memcpy(d + lo, s + lo, static_cast<size_t>(hi - lo)); });
}

void copy_tensor(const Tensor& dst, const Tensor& src) {
  GW_CHECK(dst.dtype() == src.dtype(), kDType, "copy from ", dtype_name(src.dtype()), " to ", dtype_name(dst.dtype()));
  GW_CHECK(dst.numel() == src.numel(), kShape, "copy from ", shape_str(src.shape()), " to ", shape_str(dst.shape()));
  size_t n = src.nbytes();
  if (n == 0 || dst.raw() == src.raw()) return;
  bool dc = dst.device() == Device::kCuda, sc = src.device() == Device::kCuda;
  if (!dc && !sc) copy_host(dst.raw(), src.raw(), n);
  else if (dc && sc) cudart::memcpy_d2d(dst.raw(), src.raw(), n, cudart::compute_stream());
  else if (dc) cudart::memcpy_h2d(dst.raw(), src.raw(), n, cudart::compute_stream());
  else cudart::memcpy_d2h(dst.raw(), src.raw(), n, cudart::compute_stream());
}

void zero_tensor(const Tensor& t) {
  if (t.nbytes() == 0) return;
  if (t.device() == Device::kCpu) std::memset(t.raw(), 0, t.nbytes());
  else cudart::memset_device(t.raw(), 0, t.nbytes(), cudart::compute_stream());
}

}  // namespace gw
