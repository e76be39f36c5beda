// multi-tensor loop — CPU. A fused optimizer call covers a list of tensors of different
// sizes; this splits them into (tensor, range) work items of at most kCpuChunk elements and
// runs the items on the thread pool. Item boundaries depend only on the sizes, never on the
// thread count, so a reduction summed per item and then in item order is deterministic.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../../core/parallel.h"

namespace gw::optim_cpu {

constexpr int64_t kCpuChunk = int64_t(1) << 15;    ///< elements per work item (128 KB per list)
constexpr int64_t kSerialBelow = int64_t(1) << 16;  ///< fewer elements in all: run on the caller

struct Item {
  int64_t tensor;  ///< index into the lists
  int64_t begin;   ///< first element of the range
  int64_t len;     ///< elements in the range (> 0)
};

inline std::vector<Item> chunk_items(const int64_t* numels, int64_t count, int64_t* total_out = nullptr) {
  std::vector<Item> items;
  int64_t total = 0;
  for (int64_t t = 0; t < count; ++t) {
    for (int64_t b = 0; b < numels[t]; b += kCpuChunk) items.push_back({t, b, std::min(kCpuChunk, numels[t] - b)});
    total += numels[t];
  }
  if (total_out) *total_out = total;
  return items;
}

/// fn(item_index, item) for every item, on the pool when there is enough work.
template <typename F>
void run_items(const std::vector<Item>& items, int64_t total, F&& fn) {
  const int64_t n = static_cast<int64_t>(items.size());
  parallel_for(0, n, total < kSerialBelow ? n : 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) fn(i, items[i]);
  });
}

/// chunk_items then run_items.
template <typename F>
void for_each_item(const int64_t* numels, int64_t count, F&& fn) {
  int64_t total = 0;
  std::vector<Item> items = chunk_items(numels, count, &total);
  run_items(items, total, fn);
}

}  // namespace gw::optim_cpu
