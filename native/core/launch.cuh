// gatewise — the one way a kernel is launched, and the one way a kernel declares shared
// memory. With nvcc, gw::launch<kernel>(grid, block, smem, stream, args...) is exactly
// `kernel<<<grid, block, smem, stream>>>(args...)` followed by the launch-error check; on
// the emulated device (GW_CUDA_EMU, native/emu/) it runs the launch on the CPU with CUDA's
// semantics and its limits checked.
//
//   GW_SHARED(float[kBlock][33], tile);               // __shared__ float tile[kBlock][33];
//   GW_SHARED_ALIGNED(16, float[2][16][68], as);      // __shared__ __align__(16) float as[2][16][68];
//   GW_DYNAMIC_SHARED(float, smem);                   // extern __shared__ float smem[];
#pragma once
#include <cstddef>
#include <utility>

#include "cuda_check.h"
#include "stream.h"

namespace gw {

template <typename T>
using shared_type = T;  ///< lets GW_SHARED take an array type such as float[8][33]

template <auto Kernel, typename... Args>
inline void launch(dim3 grid, dim3 block, size_t smem, Stream stream, Args&&... args) {
#ifdef GW_CUDA_EMU
  emu::launch<Kernel>(grid, block, smem, stream, std::forward<Args>(args)...);
#else
  Kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
  GW_CUDA_CHECK_LAUNCH();
#endif
}

}  // namespace gw

#ifdef GW_CUDA_EMU
// Per-block memory of the emulated block that runs the calling thread, poisoned (0xFF
// bytes) when the block starts; the first thread to reach the declaration places it (every
// variable 16-byte aligned).
#define GW_SHARED(T, name)          \
  static char gw_shared_key_##name; \
  ::gw::shared_type<T>& name = ::gw::emu::block_shared<::gw::shared_type<T>>(&gw_shared_key_##name)
#define GW_SHARED_ALIGNED(align, T, name) GW_SHARED(T, name)
#define GW_DYNAMIC_SHARED(T, name) T* const name = ::gw::emu::dynamic_shared<T>()
#else
#define GW_SHARED(T, name) __shared__ ::gw::shared_type<T> name
#define GW_SHARED_ALIGNED(align, T, name) __shared__ __align__(align) ::gw::shared_type<T> name
#define GW_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif
