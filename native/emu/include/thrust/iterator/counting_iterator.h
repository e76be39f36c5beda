// gatewise — the emulated device's stand-in for thrust::counting_iterator (test instrument).
#pragma once
#include <cstddef>

namespace thrust {

template <typename T>
class counting_iterator {
 public:
  using value_type = T;
  explicit counting_iterator(T start) : start_(start) {}
  T operator[](std::ptrdiff_t i) const { return static_cast<T>(start_ + i); }
  T operator*() const { return start_; }

 private:
  T start_;
};

}  // namespace thrust
