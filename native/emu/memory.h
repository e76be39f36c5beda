// gatewise — the emulated device's memory. Device allocations live in one reserved mapping
// that is PROT_NONE except while a kernel, a copy or a memset runs (a DeviceAccess is
// alive), so host code that reads a device pointer faults as it would with a GPU. Fresh
// allocations start as 0xFF bytes (NaN floats). Under AddressSanitizer the bytes between and
// after allocations, and freed blocks, are poisoned, so a kernel's out-of-bounds access is
// reported as compute-sanitizer's memcheck would.
#pragma once
#include <cstddef>

namespace gw::emu {

void* device_malloc(size_t bytes);  ///< nullptr when the emulated device is full
bool device_free(void* p);          ///< false (nothing freed) unless p starts a live allocation or is null
/// Whether [p, p + bytes) lies inside one live device allocation.
bool is_device_range(const void* p, size_t bytes);
/// Whether p points into the device mapping at all (live, freed or never allocated).
bool in_device_mapping(const void* p);
size_t device_total_bytes();
size_t device_used_bytes();

/// The caching allocator (core/allocator.cpp) hands out a block of `size` bytes for a request
/// of `bytes`, fresh or reused: it starts as 0xFF garbage again, and under ASan the `size -
/// bytes` tail is poisoned, so an off-by-one past a tensor's end is reported.
void block_handed_out(void* p, size_t bytes, size_t size);
/// ... and taken back: under ASan the whole block is poisoned until it is handed out again.
void block_taken_back(void* p, size_t size);

void* pinned_malloc(size_t bytes);
void pinned_free(void* p);
bool is_pinned(const void* p);

/// While alive, device memory may be read and written (by any thread). Nests.
class DeviceAccess {
 public:
  DeviceAccess();
  ~DeviceAccess();
  DeviceAccess(const DeviceAccess&) = delete;
  DeviceAccess& operator=(const DeviceAccess&) = delete;
};

}  // namespace gw::emu
