#include "allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include "cuda_runtime.h"
#include "error.h"

namespace gw {
namespace {

std::mutex g_mu;
MemoryStats g_stats[2];
std::multimap<size_t, void*> g_cached;  // device blocks free for reuse, by rounded size

void note_alloc(Device d, size_t bytes) {
  MemoryStats& s = g_stats[static_cast<int>(d)];
  s.allocated += bytes;
  s.alloc_count += 1;
  if (s.allocated > s.peak_allocated) s.peak_allocated = s.allocated;
}

void release_cache_locked() {
  for (auto& kv : g_cached) {
    cudart::free_device(kv.second);
    g_stats[1].reserved -= kv.first;
  }
  g_cached.clear();
}

}  // namespace

size_t rounded_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= (1u << 20)) return (bytes + 511) & ~size_t(511);  // small: 512 B granules
  return (bytes + (2u << 20) - 1) & ~size_t((2u << 20) - 1);   // large: 2 MiB granules
}

void* mem_alloc(Device d, size_t bytes) {
  size_t size = rounded_size(bytes);
  std::lock_guard<std::mutex> lk(g_mu);
  if (d == Device::kCpu) {
    void* p = std::aligned_alloc(64, size);
    GW_CHECK(p != nullptr, kOom, "out of host memory allocating ", bytes, " bytes");
    note_alloc(d, size);
    g_stats[0].reserved = g_stats[0].allocated;
    g_stats[0].system_allocs += 1;
    return p;
  }
  // Reuse a cached block of exactly this size class (sizes are rounded to 512 B / 2 MiB
  // granules, so steady-state shapes always hit; a larger block is never split).
  auto it = g_cached.find(size);
  if (it != g_cached.end()) {
    void* p = it->second;
    g_cached.erase(it);
    note_alloc(d, size);
    return p;
  }
  GW_CHECK(cudart::device_count() > 0, kNoCuda, "cannot allocate on cuda: ", cudart::unavailable_reason());
  void* p = cudart::malloc_device(size);
  if (!p) {
    release_cache_locked();
    p = cudart::malloc_device(size);
  }
  GW_CHECK(p != nullptr, kOom, "CUDA out of memory allocating ", bytes, " bytes (",
           g_stats[1].allocated, " bytes in use)");
  g_stats[1].reserved += size;
  g_stats[1].system_allocs += 1;
  note_alloc(d, size);
  return p;
}

void mem_free(Device d, void* p, size_t bytes) noexcept {
  if (!p) return;
  size_t size = rounded_size(bytes);
  std::lock_guard<std::mutex> lk(g_mu);
  MemoryStats& s = g_stats[static_cast<int>(d)];
  s.allocated -= size;
  if (d == Device::kCpu) {
    std::free(p);
    s.reserved = s.allocated;
    return;
  }
  g_cached.emplace(size, p);
}

MemoryStats memory_stats(Device d) {
  std::lock_guard<std::mutex> lk(g_mu);
  return g_stats[static_cast<int>(d)];
}

void empty_cache() {
  std::lock_guard<std::mutex> lk(g_mu);
  release_cache_locked();
}

}  // namespace gw
