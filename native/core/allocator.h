// gatewise — memory. Host buffers are 64-byte aligned (one cache line, one AVX-512
// vector). Host and device buffers both come from a caching allocator: freed blocks are
// kept in size-class free lists and handed out again, so steady-state training makes no
// cudaMalloc calls and takes no page faults on fresh host memory. All kernels run on one stream, so a block freed in stream order can be reused at
// once. On cudaMalloc failure the cache is released and the call retried once before
// ERR_GATEWISE_OOM is thrown; empty_cache() gives every cached block back.
#pragma once
#include <cstddef>

#include "dtype.h"

namespace gw {

struct MemoryStats {
  size_t allocated = 0;       ///< bytes in live buffers
  size_t peak_allocated = 0;  ///< high-water mark of `allocated`
  size_t reserved = 0;        ///< bytes held from the system (live + cached)
  size_t alloc_count = 0;     ///< allocations served
  size_t system_allocs = 0;   ///< of those, how many reached malloc/cudaMalloc
};

void* mem_alloc(Device d, size_t bytes);  ///< never nullptr; throws ERR_GATEWISE_OOM
void mem_free(Device d, void* p, size_t bytes) noexcept;
MemoryStats memory_stats(Device d);
void empty_cache();  ///< returns cached blocks (host and device) to the system

/// Size a block is rounded up to (exposed for tests).
size_t rounded_size(size_t bytes);

}  // namespace gw
