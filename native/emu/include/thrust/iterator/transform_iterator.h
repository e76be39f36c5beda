// gatewise — the emulated device's stand-in for thrust::transform_iterator (test instrument).
#pragma once
#include <cstddef>

namespace thrust {

template <typename F, typename It>
class transform_iterator {
 public:
  transform_iterator(It it, F f) : it_(it), f_(f) {}
  auto operator[](std::ptrdiff_t i) const { return f_(it_[i]); }
  auto operator*() const { return f_(*it_); }

 private:
  It it_;
  F f_;
};

}  // namespace thrust
