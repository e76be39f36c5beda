#include "allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "cuda_runtime.h"
#include "error.h"
#ifdef GW_CUDA_EMU
#include "../emu/memory.h"  // tests on the emulated device: reused blocks start as garbage too
#endif

namespace gw {
namespace {

std::mutex g_mu;
MemoryStats g_stats[2];
// Blocks free for reuse, by rounded size, per device. On the host this avoids the page
// faults of fresh large allocations (glibc returns big blocks to the OS at once).
std::multimap<size_t, void*> g_cached[2];

void note_alloc(Device d, size_t bytes) {
  MemoryStats& s = g_stats[static_cast<int>(d)];
  s.allocated += bytes;
  s.alloc_count += 1;
  if (s.allocated > s.peak_allocated) s.peak_allocated = s.allocated;
}

void system_free(Device d, void* p) {
  if (d == Device::kCpu) std::free(p);
  else cudart::free_device(p);
}

constexpr size_t kHugePage = size_t{2} << 20;

/// Host memory: 64-byte aligned; a large block (a whole number of 2 MiB granules) is aligned to
/// 2 MiB and asks the kernel for transparent huge pages, so random access over a big table
/// (an embedding table's rows) does not pay a page walk per access.
void* host_alloc(size_t size) {
  if (size < kHugePage) return std::aligned_alloc(64, size);
  void* p = std::aligned_alloc(kHugePage, size);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p) madvise(p, size, MADV_HUGEPAGE);  // advice only: without it the block works the same
#endif
  return p;
}

void* system_alloc(Device d, size_t size) {
  if (d == Device::kCpu) return host_alloc(size);
  return cudart::malloc_device(size);
}

void release_cache_locked(Device d) {
  int i = static_cast<int>(d);
  for (auto& kv : g_cached[i]) {
    system_free(d, kv.second);
    g_stats[i].reserved -= kv.first;
  }
  g_cached[i].clear();
}

}  // namespace

size_t rounded_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= (1u << 20)) return (bytes + 511) & ~size_t(511);  // small: 512 B granules
  return (bytes + (2u << 20) - 1) & ~size_t((2u << 20) - 1);   // large: 2 MiB granules
}

void* mem_alloc(Device d, size_t bytes) {
  size_t size = rounded_size(bytes);
  int i = static_cast<int>(d);
  std::lock_guard<std::mutex> lk(g_mu);
  // Reuse a cached block of exactly this size class (sizes are rounded to 512 B / 2 MiB
  // granules, so steady-state shapes always hit; a larger block is never split).
  auto it = g_cached[i].find(size);
  if (it != g_cached[i].end()) {
    void* p = it->second;
    g_cached[i].erase(it);
    note_alloc(d, size);
#ifdef GW_CUDA_EMU
    if (d == Device::kCuda) emu::block_handed_out(p, bytes, size);
#endif
    return p;
  }
  if (d == Device::kCuda) {
    GW_CHECK(cudart::device_count() > 0, kNoCuda, "cannot allocate on cuda: ", cudart::unavailable_reason());
  }
  void* p = system_alloc(d, size);
  if (!p) {
    release_cache_locked(d);
    p = system_alloc(d, size);
  }
  if (!p) {
    if (d == Device::kCpu) GW_THROW(kOom, "out of host memory allocating ", bytes, " bytes");
    GW_THROW(kOom, "CUDA out of memory allocating ", bytes, " bytes (", g_stats[i].allocated, " bytes in use)");
  }
  g_stats[i].reserved += size;
  g_stats[i].system_allocs += 1;
  note_alloc(d, size);
#ifdef GW_CUDA_EMU
  if (d == Device::kCuda) emu::block_handed_out(p, bytes, size);
#endif
  return p;
}

void mem_free(Device d, void* p, size_t bytes) noexcept {
  if (!p) return;
  size_t size = rounded_size(bytes);
  int i = static_cast<int>(d);
  std::lock_guard<std::mutex> lk(g_mu);
  g_stats[i].allocated -= size;
#ifdef GW_CUDA_EMU
  if (d == Device::kCuda) emu::block_taken_back(p, size);
#endif
  g_cached[i].emplace(size, p);
}

MemoryStats memory_stats(Device d) {
  std::lock_guard<std::mutex> lk(g_mu);
  return g_stats[static_cast<int>(d)];
}

void empty_cache() {
  std::lock_guard<std::mutex> lk(g_mu);
  release_cache_locked(Device::kCpu);
  release_cache_locked(Device::kCuda);
}

}  // namespace gw
