// gatewise — the emulated device's stand-in for CUB's DeviceSelect::Flagged (a test
// instrument, never in product code): the inputs whose flag is set, in order, and their count.
#pragma once
#include <cstddef>

#include "../../../memory.h"
#include "../../../runtime_api.h"

namespace cub {

struct DeviceSelect {
  template <typename In, typename Flags, typename Out, typename Count, typename N>
  static cudaError_t Flagged(void* temp, size_t& temp_bytes, In in, Flags flags, Out out, Count num_selected, N n,
                             cudaStream_t = nullptr) {
    if (!temp) {
      temp_bytes = 256;
      return cudaSuccess;
    }
    gw::emu::DeviceAccess access;
    N k = 0;
    for (N i = 0; i < n; ++i)
      if (flags[i]) out[k++] = in[i];
    *num_selected = k;
    return cudaSuccess;
  }
};

}  // namespace cub
