// gatewise — the emulated device's memory (see memory.h).
#include "memory.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>

#include "../core/error.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define GW_EMU_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define GW_EMU_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define GW_EMU_POISON(p, n) ((void)(p), (void)(n))
#define GW_EMU_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace gw::emu {
namespace {

constexpr size_t kAlign = 256;  // cudaMalloc's alignment
constexpr size_t kGap = 256;    // kept free after every block: an overrun lands in poison
// The mapping grows and is (un)protected in 2 MiB steps over transparent huge pages, so that
// opening and closing the window around every launch costs a few page-table entries rather
// than one per 4 KiB page.
constexpr size_t kPage = 2 << 20;

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

size_t reserve_bytes() {
  const char* gb = std::getenv("GATEWISE_EMU_MEMORY_GB");
  long v = gb ? std::atol(gb) : 16;
  return static_cast<size_t>(v > 0 ? v : 16) << 30;
}

struct Heap {
  char* base = nullptr;
  size_t size = 0;
  size_t high = 0;  ///< bytes from base that have ever been handed out (page-rounded)
  size_t used = 0;
  std::map<size_t, size_t> free_blocks;  ///< offset → size, coalesced
  std::map<size_t, size_t> live;         ///< offset → size asked for
  std::recursive_mutex window_mu;        ///< held while a DeviceAccess is alive
  int depth = 0;
  std::mutex mu;  ///< guards the maps

  Heap() {
    size = reserve_bytes();
    void* p = mmap(nullptr, size + kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    GW_CHECK(p != MAP_FAILED, kOom, "emulated CUDA device: cannot reserve ", size, " bytes of address space");
    base = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(p), kPage));  // huge-page aligned
    madvise(base, size, MADV_HUGEPAGE);  // a hint: without THP it is only slower
    free_blocks.emplace(0, size);
  }

  void protect(size_t from, size_t to, int prot) {
    if (to > from) mprotect(base + from, to - from, prot);
  }
};

Heap& heap() {
  static Heap* h = new Heap();  // never destroyed: kernels may run during static destruction
  return *h;
}

std::mutex g_pinned_mu;
std::map<const char*, size_t> g_pinned;  ///< start → bytes

}  // namespace

DeviceAccess::DeviceAccess() {
  Heap& h = heap();
  h.window_mu.lock();
  if (h.depth++ == 0) h.protect(0, h.high, PROT_READ | PROT_WRITE);
}

DeviceAccess::~DeviceAccess() {
  Heap& h = heap();
  if (--h.depth == 0) h.protect(0, h.high, PROT_NONE);
  h.window_mu.unlock();
}

void* device_malloc(size_t bytes) {
  Heap& h = heap();
  DeviceAccess access;  // the fresh block is poisoned below, and the mapping may grow
  const size_t need = round_up(bytes ? bytes : 1, kAlign) + kGap;
  size_t off = 0;
  {
    std::lock_guard<std::mutex> lk(h.mu);
    auto it = h.free_blocks.begin();
    while (it != h.free_blocks.end() && it->second < need) ++it;
    if (it == h.free_blocks.end()) return nullptr;
    off = it->first;
    const size_t rest = it->second - need;
    h.free_blocks.erase(it);
    if (rest) h.free_blocks.emplace(off + need, rest);
    h.live.emplace(off, bytes);
    h.used += need;
    const size_t end = round_up(off + need, kPage);
    if (end > h.high) {
      h.protect(h.high, end, PROT_READ | PROT_WRITE);  // inside the open window
      GW_EMU_POISON(h.base + h.high, end - h.high);
      h.high = end;
    }
  }
  char* p = h.base + off;
  GW_EMU_UNPOISON(p, bytes);
  std::memset(p, 0xFF, bytes);
  return p;
}

bool device_free(void* p) {
  if (!p) return true;
  Heap& h = heap();
  if (!in_device_mapping(p)) return false;
  std::lock_guard<std::mutex> lk(h.mu);
  const size_t off = static_cast<size_t>(static_cast<char*>(p) - h.base);
  auto it = h.live.find(off);
  if (it == h.live.end()) return false;  // not the start of a live allocation
  size_t size = round_up(it->second ? it->second : 1, kAlign) + kGap;
  GW_EMU_POISON(h.base + off, size);
  h.live.erase(it);
  h.used -= size;
  // Give the block back, merged with free neighbours.
  size_t start = off;
  auto next = h.free_blocks.lower_bound(off);
  if (next != h.free_blocks.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      start = prev->first;
      size += prev->second;
      h.free_blocks.erase(prev);
    }
  }
  if (next != h.free_blocks.end() && start + size == next->first) {
    size += next->second;
    h.free_blocks.erase(next);
  }
  h.free_blocks.emplace(start, size);
  return true;
}

bool is_device_range(const void* p, size_t bytes) {
  Heap& h = heap();
  const char* c = static_cast<const char*>(p);
  if (c < h.base || c >= h.base + h.size) return false;
  std::lock_guard<std::mutex> lk(h.mu);
  const size_t off = static_cast<size_t>(c - h.base);
  auto it = h.live.upper_bound(off);
  if (it == h.live.begin()) return false;
  --it;
  return off + bytes <= it->first + it->second;
}

bool in_device_mapping(const void* p) {
  Heap& h = heap();
  const char* c = static_cast<const char*>(p);
  return c >= h.base && c < h.base + h.size;
}

size_t device_total_bytes() { return heap().size; }

size_t device_used_bytes() {
  Heap& h = heap();
  std::lock_guard<std::mutex> lk(h.mu);
  return h.used;
}

void block_handed_out(void* p, size_t bytes, size_t size) {
  DeviceAccess access;
  char* c = static_cast<char*>(p);
  GW_EMU_UNPOISON(c, bytes);
  std::memset(c, 0xFF, bytes);
  GW_EMU_POISON(c + bytes, size - bytes);
}

void block_taken_back(void* p, size_t size) { GW_EMU_POISON(p, size); }

void* pinned_malloc(size_t bytes) {
  void* p = std::aligned_alloc(4096, round_up(bytes ? bytes : 1, 4096));
  if (p) {
    std::lock_guard<std::mutex> lk(g_pinned_mu);
    g_pinned.emplace(static_cast<const char*>(p), bytes);
  }
  return p;
}

void pinned_free(void* p) {
  if (!p) return;
  {
    std::lock_guard<std::mutex> lk(g_pinned_mu);
    g_pinned.erase(static_cast<const char*>(p));
  }
  std::free(p);
}

bool is_pinned(const void* p) {
  std::lock_guard<std::mutex> lk(g_pinned_mu);
  const char* c = static_cast<const char*>(p);
  auto it = g_pinned.upper_bound(c);
  if (it == g_pinned.begin()) return false;
  --it;
  return c < it->first + it->second;
}

}  // namespace gw::emu
