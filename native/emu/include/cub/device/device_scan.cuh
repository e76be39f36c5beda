// gatewise — the emulated device's stand-in for CUB's DeviceScan::InclusiveSum (a test
// instrument, never in product code): out[i] = in[0] + … + in[i], accumulated in the input's
// value type as CUB does.
#pragma once
#include <cstddef>

#include "../../../memory.h"
#include "../../../runtime_api.h"

namespace cub {

struct DeviceScan {
  template <typename In, typename Out, typename N>
  static cudaError_t InclusiveSum(void* temp, size_t& temp_bytes, In in, Out out, N n, cudaStream_t = nullptr) {
    if (!temp) {
      temp_bytes = 256;
      return cudaSuccess;
    }
    gw::emu::DeviceAccess access;
    using Acc = decltype(in[0] + in[0]);
    Acc sum{};
    for (N i = 0; i < n; ++i) {
      sum = i == 0 ? static_cast<Acc>(in[i]) : static_cast<Acc>(sum + in[i]);
      out[i] = sum;
    }
    return cudaSuccess;
  }
};

}  // namespace cub
