// gatewise — the emulated CUDA device, as kernel code sees it. A test instrument (never in
// a prebuilt binary): with GW_CUDA=EMU the same .cu sources are compiled by the host C++
// compiler and every launch runs on the CPU with CUDA's semantics (native/emu/scheduler.cpp):
// each thread of a block is a fiber; __syncthreads is a rendezvous of the whole block; a
// warp-synchronous intrinsic is a rendezvous of the lanes its mask names, and a shuffle
// reads the value its source lane passed to that same call. Misuse that a GPU would punish
// (a barrier not every thread reaches, a mask naming a lane that does not take part, launch
// limits, too much shared memory) is an error naming the kernel.
#pragma once
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../core/stream.h"

// ---- the qualifiers: plain host C++ here
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// Shared memory must be per block: kernels declare it with GW_SHARED / GW_DYNAMIC_SHARED
// (core/launch.cuh). A bare __shared__ fails to compile here, on purpose.
#define __shared__ gw_emu_use_GW_SHARED_from_core_launch_cuh_instead_of___shared__

// ---- vector types (same layout and alignment as CUDA's)
#define GW_EMU_VEC1(name, T, al) \
  struct __attribute__((aligned(al))) name { T x; };
#define GW_EMU_VEC2(name, T, al) \
  struct __attribute__((aligned(al))) name { T x, y; };
#define GW_EMU_VEC3(name, T) \
  struct name { T x, y, z; };
#define GW_EMU_VEC4(name, T, al) \
  struct __attribute__((aligned(al))) name { T x, y, z, w; };
GW_EMU_VEC2(float2, float, 8)
GW_EMU_VEC3(float3, float)
GW_EMU_VEC4(float4, float, 16)
GW_EMU_VEC2(double2, double, 16)
GW_EMU_VEC2(int2, int, 8)
GW_EMU_VEC3(int3, int)
GW_EMU_VEC4(int4, int, 16)
GW_EMU_VEC2(uint2, unsigned, 8)
GW_EMU_VEC3(uint3, unsigned)
GW_EMU_VEC4(uint4, unsigned, 16)
GW_EMU_VEC4(uchar4, unsigned char, 4)
GW_EMU_VEC2(longlong2, long long, 16)
GW_EMU_VEC2(ulonglong2, unsigned long long, 16)
#undef GW_EMU_VEC1
#undef GW_EMU_VEC2
#undef GW_EMU_VEC3
#undef GW_EMU_VEC4

inline float2 make_float2(float x, float y) { return {x, y}; }
inline float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline uchar4 make_uchar4(unsigned char x, unsigned char y, unsigned char z, unsigned char w) { return {x, y, z, w}; }

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};

namespace gw::emu {

/// What the built-in variables read: the fiber now running on this OS thread.
struct ThreadCtx {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};
/// The running thread's context. A call rather than an extern thread_local: kernel code
/// compiled with the sanitizers misread such a variable after a fiber switch.
const ThreadCtx& this_thread();

// ---- synchronization (scheduler.cpp)
enum class WarpOp : uint8_t { kSyncwarp, kShfl, kShflUp, kShflDown, kShflXor, kBallot, kAny, kAll };
void syncthreads(const char* file, int line);
uint64_t warp_call(WarpOp op, unsigned mask, uint64_t value, int param, int width, const char* file, int line);
unsigned active_lanes();
void* block_shared_place(const void* key, size_t bytes);
void* dynamic_shared_base();

template <typename T>
T& block_shared(const void* key) {
  static_assert(std::is_trivially_destructible_v<T>, "shared memory holds trivially destructible types");
  return *static_cast<T*>(block_shared_place(key, sizeof(T)));
}
template <typename T>
T* dynamic_shared() {
  return static_cast<T*>(dynamic_shared_base());
}

template <typename T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp shuffles move values of at most 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <typename T>
T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

}  // namespace gw::emu

// ---- built-in variables
#define threadIdx (::gw::emu::this_thread().thread_idx)
#define blockIdx (::gw::emu::this_thread().block_idx)
#define blockDim (::gw::emu::this_thread().block_dim)
#define gridDim (::gw::emu::this_thread().grid_dim)
constexpr int warpSize = 32;

// ---- barriers and warp-synchronous intrinsics
#define __syncthreads() ::gw::emu::syncthreads(__FILE__, __LINE__)
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::gw::emu::warp_call(::gw::emu::WarpOp::kSyncwarp, mask, 0, 0, 32, file, line);
}
inline unsigned __activemask() { return ::gw::emu::active_lanes(); }
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<unsigned>(::gw::emu::warp_call(::gw::emu::WarpOp::kBallot, mask, pred != 0, 0, 32, file, line));
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<int>(::gw::emu::warp_call(::gw::emu::WarpOp::kAny, mask, pred != 0, 0, 32, file, line));
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<int>(::gw::emu::warp_call(::gw::emu::WarpOp::kAll, mask, pred != 0, 0, 32, file, line));
}
#define GW_EMU_SHFL(name, op)                                                                            \
  template <typename T>                                                                                 \
  T name(unsigned mask, T v, int param, int width = 32, const char* file = __builtin_FILE(),            \
         int line = __builtin_LINE()) {                                                                 \
    return ::gw::emu::from_bits<T>(::gw::emu::warp_call(::gw::emu::WarpOp::op, mask, ::gw::emu::to_bits(v), \
                                                        param, width, file, line));                     \
  }
GW_EMU_SHFL(__shfl_sync, kShfl)
GW_EMU_SHFL(__shfl_up_sync, kShflUp)
GW_EMU_SHFL(__shfl_down_sync, kShflDown)
GW_EMU_SHFL(__shfl_xor_sync, kShflXor)
#undef GW_EMU_SHFL

inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- atomics: real atomics, since blocks run in parallel on the CPU's threads. The value
// argument is not deduced: CUDA's overloads convert it to the pointee type.
namespace gw::emu {
template <typename T>
struct same {
  using type = T;
};
}  // namespace gw::emu
#define GW_EMU_ARG(T) typename ::gw::emu::same<T>::type
template <typename T>
T atomicAdd(T* p, GW_EMU_ARG(T) v) {
  if constexpr (std::is_floating_point_v<T>) {
    using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
    Bits* bp = reinterpret_cast<Bits*>(p);
    Bits old = __atomic_load_n(bp, __ATOMIC_RELAXED);
    for (;;) {
      T cur;
      std::memcpy(&cur, &old, sizeof(T));
      const T next = cur + v;
      Bits nb;
      std::memcpy(&nb, &next, sizeof(T));
      if (__atomic_compare_exchange_n(bp, &old, nb, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return cur;
    }
  } else {
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
  }
}
// Read-modify-write atomics that map one to one onto a GCC builtin.
#define GW_EMU_ATOMIC_RMW(name, builtin)          \
  template <typename T>                           \
  T name(T* p, GW_EMU_ARG(T) v) {                 \
    return builtin(p, v, __ATOMIC_SEQ_CST);       \
  }
GW_EMU_ATOMIC_RMW(atomicSub, __atomic_fetch_sub)
GW_EMU_ATOMIC_RMW(atomicExch, __atomic_exchange_n)
GW_EMU_ATOMIC_RMW(atomicOr, __atomic_fetch_or)
GW_EMU_ATOMIC_RMW(atomicAnd, __atomic_fetch_and)
GW_EMU_ATOMIC_RMW(atomicXor, __atomic_fetch_xor)
#undef GW_EMU_ATOMIC_RMW
template <typename T>
T atomicCAS(T* p, GW_EMU_ARG(T) expected, GW_EMU_ARG(T) desired) {
  __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return expected;  // the old value, whether or not the swap happened
}
namespace gw::emu {
/// Stores v where it beats the current value (atomicMin / atomicMax); returns the old value.
template <typename T, typename Beats>
T atomic_store_if(T* p, T v, Beats beats) {
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (beats(v, old) && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
  }
  return old;
}
}  // namespace gw::emu
template <typename T>
T atomicMin(T* p, GW_EMU_ARG(T) v) {
  return ::gw::emu::atomic_store_if(p, v, [](T a, T b) { return a < b; });
}
template <typename T>
T atomicMax(T* p, GW_EMU_ARG(T) v) {
  return ::gw::emu::atomic_store_if(p, v, [](T a, T b) { return a > b; });
}

// ---- integer and float intrinsics
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline int __clz(int x) { return x ? __builtin_clz(static_cast<unsigned>(x)) : 32; }
inline int __clzll(long long x) { return x ? __builtin_clzll(static_cast<unsigned long long>(x)) : 64; }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline float __int_as_float(int v) { return ::gw::emu::from_bits<float>(static_cast<uint32_t>(v)); }
inline int __float_as_int(float v) { return static_cast<int>(::gw::emu::to_bits(v)); }
inline float __uint_as_float(unsigned v) { return ::gw::emu::from_bits<float>(v); }
inline unsigned __float_as_uint(float v) { return static_cast<unsigned>(::gw::emu::to_bits(v)); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : (x == x ? x : 0.f)); }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
// CUDA's math library has these in the global namespace.
using std::isfinite;
using std::isinf;
using std::isnan;
template <typename T>
T __ldg(const T* p) {
  return *p;
}

// ---- launches (core/launch.cuh's gw::launch comes here)
namespace gw::emu {

struct LaunchSpec {
  const char* kernel;  ///< its name, template arguments included
  const void* fn;      ///< identifies the kernel for cudaFuncSetAttribute
  dim3 grid, block;
  size_t dynamic_smem;
  void (*body)(const void* params);  ///< runs the kernel for the calling (emulated) thread
  const void* params;
};

/// Runs the launch to completion; throws gw::Error (kCuda) naming the kernel on any misuse.
void run_launch(const LaunchSpec& spec);
/// Records cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) for
/// the launch-limit check.
void set_max_dynamic_smem(const void* fn, size_t bytes);
/// Fails the launch when a pointer argument is neither null nor device (or pinned) memory.
void check_pointer_arg(const char* kernel, int index, const void* p);

std::string kernel_name_from(const char* pretty);

template <auto Kernel>
const char* kernel_name() {
  static const std::string name = kernel_name_from(__PRETTY_FUNCTION__);
  return name.c_str();
}

template <typename F>
struct KernelParams;
template <typename... P>
struct KernelParams<void (*)(P...)> {
  using Tuple = std::tuple<std::decay_t<P>...>;
};

template <auto Kernel, typename... Args>
void launch(dim3 grid, dim3 block, size_t smem, ::gw::Stream, Args&&... args) {
  using Tuple = typename KernelParams<decltype(Kernel)>::Tuple;
  // Converted once, as CUDA fills the parameter buffer; each thread gets its own copy.
  const Tuple params(std::forward<Args>(args)...);
  std::apply(
      [](const auto&... p) {
        int i = 0;
        (
            [&](const auto& v) {
              if constexpr (std::is_pointer_v<std::decay_t<decltype(v)>>) {
                check_pointer_arg(kernel_name<Kernel>(), i, static_cast<const void*>(v));
              }
              ++i;
            }(p),
            ...);
      },
      params);
  LaunchSpec spec{kernel_name<Kernel>(), reinterpret_cast<const void*>(Kernel), grid, block, smem,
                  [](const void* t) { std::apply(Kernel, *static_cast<const Tuple*>(t)); }, &params};
  run_launch(spec);
}

}  // namespace gw::emu
