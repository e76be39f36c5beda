// gatewise — the emulated device's stand-in for CUB's DeviceRadixSort (a test instrument,
// never in product code): the same two-call protocol and the same result, a stable sort of
// (key, value) pairs by the key bits [begin_bit, end_bit).
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../../../memory.h"
#include "../../../runtime_api.h"

namespace cub {

struct DeviceRadixSort {
  template <typename K, typename V, typename N>
  static cudaError_t SortPairs(void* temp, size_t& temp_bytes, const K* keys_in, K* keys_out, const V* values_in,
                               V* values_out, N n, int begin_bit = 0, int end_bit = sizeof(K) * 8,
                               cudaStream_t = nullptr) {
    static_assert(std::is_unsigned_v<K>, "the emulated SortPairs sorts unsigned keys, as gatewise uses it");
    if (!temp) {
      temp_bytes = 256;
      return cudaSuccess;
    }
    const size_t count = static_cast<size_t>(n);
    if (!gw::emu::is_device_range(keys_in, count * sizeof(K)) || !gw::emu::is_device_range(keys_out, count * sizeof(K)) ||
        !gw::emu::is_device_range(values_in, count * sizeof(V)) || !gw::emu::is_device_range(values_out, count * sizeof(V)))
      return cudaErrorInvalidValue;
    const int bits = end_bit - begin_bit;
    const K mask = bits >= static_cast<int>(sizeof(K) * 8) ? ~K(0) : static_cast<K>((K(1) << bits) - 1);
    gw::emu::DeviceAccess access;
    std::vector<std::pair<K, V>> pairs(count);
    for (size_t i = 0; i < count; ++i) pairs[i] = {keys_in[i], values_in[i]};
    std::stable_sort(pairs.begin(), pairs.end(), [&](const auto& a, const auto& b) {
      return ((a.first >> begin_bit) & mask) < ((b.first >> begin_bit) & mask);
    });
    for (size_t i = 0; i < count; ++i) {
      keys_out[i] = pairs[i].first;
      values_out[i] = pairs[i].second;
    }
    return cudaSuccess;
  }
};

}  // namespace cub
