// The emulated CUDA device's own tests (GW_CUDA=EMU only): host C++ is the device language
// there, so the kernels below are written right here and launched through gw::launch. Each
// case pins down one GPU behaviour the emulator must reproduce (warp shuffles and votes,
// barriers, atomics, poisoned memory, launch limits) or one misuse it must report as a
// gw::Error naming the kernel. The cases are named emulator_* (never "cuda"), so the
// random-schedule rerun of the CUDA cases leaves them out.
#ifdef GW_CUDA_EMU
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/cuda_runtime.h"
#include "core/launch.cuh"
#include "emu/memory.h"
#include "emu/schedule.h"
#include "harness.h"

namespace {

constexpr unsigned kFull = 0xffffffffu;

gw::Stream stream() { return gw::cudart::compute_stream(); }

/// Runs fn, which must throw a gw::Error (kCuda) whose message holds every one of words.
template <typename F>
void expect_error(F&& fn, std::initializer_list<const char*> words) {
  std::string msg;
  try {
    fn();
  } catch (const gw::Error& e) {
    GW_EXPECT(e.code() == gw::ErrorCode::kCuda, "error code ", gw::error_code_name(e.code()), ": ", e.what());
    msg = e.what();
  }
  std::string all;
  for (const char* w : words) all += std::string(" '") + w + "'";
  GW_EXPECT(!msg.empty(), "no gw::Error thrown; expected one with", all);
  for (const char* w : words) GW_EXPECT(msg.find(w) != std::string::npos, "message lacks '", w, "': ", msg);
}

}  // namespace

// ---- kernels (static: the error messages name them as written here)

// Every shuffle flavour at width 32 and 8; row k of out holds shuffle k's result per thread.
static __global__ void emu_shuffles(int* out) {
  const int t = threadIdx.x, lane = t % 32, v = 1000 + t, n = blockDim.x;
  const int src = (lane * 7 + 3) & 63;  // 0..63: often >= width
  out[0 * n + t] = __shfl_sync(kFull, v, src);
  out[1 * n + t] = __shfl_sync(kFull, v, src, 8);
  out[2 * n + t] = __shfl_sync(kFull, v, 37);  // 37 % 32 = 5
  out[3 * n + t] = __shfl_sync(kFull, v, 37, 8);  // 37 % 8 = 5 within each group of 8
  out[4 * n + t] = __shfl_up_sync(kFull, v, 3);
  out[5 * n + t] = __shfl_up_sync(kFull, v, 3, 8);
  out[6 * n + t] = __shfl_down_sync(kFull, v, 5);
  out[7 * n + t] = __shfl_down_sync(kFull, v, 5, 8);
  out[8 * n + t] = __shfl_xor_sync(kFull, v, 21);
  out[9 * n + t] = __shfl_xor_sync(kFull, v, 5, 8);
}

// __shfl_xor_sync with a laneMask >= width: a partner in an earlier group is read, in a later one not.
static __global__ void emu_shfl_xor_across_groups(int* out) {
  const int t = threadIdx.x, v = 1000 + t;
  out[t] = __shfl_xor_sync(kFull, v, 8, 8);
  out[blockDim.x + t] = __shfl_xor_sync(kFull, v, 20, 16);
}

// Votes over sub-masks: halves of the warp, and odd / even lanes, vote apart.
static __global__ void emu_votes(unsigned* out) {
  const unsigned t = threadIdx.x, lane = t % 32, n = blockDim.x;
  const unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  const unsigned parity = lane % 2 ? 0xaaaaaaaau : 0x55555555u;
  out[0 * n + t] = __ballot_sync(half, t % 3 == 0);
  out[1 * n + t] = __any_sync(half, t == 37);
  out[2 * n + t] = __all_sync(half, t != 50);
  out[3 * n + t] = __ballot_sync(parity, t % 5 == 0);
  out[4 * n + t] = __any_sync(parity, t == 7);
  out[5 * n + t] = __all_sync(kFull, 1);
  out[6 * n + t] = __ballot_sync(kFull, lane >= 30);
}

constexpr unsigned kSumBlock = 256;

// The classic shared-memory tree reduction: one partial sum per block.
static __global__ void emu_block_sum(const float* x, float* out) {
  GW_SHARED(float[kSumBlock], s);
  const unsigned t = threadIdx.x;
  s[t] = x[blockIdx.x * kSumBlock + t];
  __syncthreads();
  for (unsigned h = kSumBlock / 2; h > 0; h >>= 1) {
    if (t < h) s[t] += s[t + h];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

static __global__ void emu_count(float* f, unsigned long long* u) {
  atomicAdd(f, 1.f);
  atomicAdd(u, 1ull);
}

static __global__ void emu_noop(int* out) {
  if (out && threadIdx.x == 0) out[blockIdx.x] = 1;
}

static __global__ void emu_divergent_barrier(int* out) {
  if (threadIdx.x < 16) __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}

static __global__ void emu_two_barriers(int* out) {
  if (threadIdx.x % 2) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

static __global__ void emu_xor_full_mask(int* out) {
  out[threadIdx.x] = __shfl_xor_sync(kFull, static_cast<int>(threadIdx.x), 1);
}

static __global__ void emu_mask_without_caller(int* out) {
  out[threadIdx.x] = __shfl_sync(0xfffffffeu, static_cast<int>(threadIdx.x), 1);
}

// Lanes 0-15 wait at the barrier, lanes 16-31 in a shuffle whose mask names lanes 0-15: neither can go on.
static __global__ void emu_deadlock(int* out) {
  const int t = threadIdx.x;
  if (t < 16) {
    __syncthreads();
    out[t] = 0;
  } else {
    out[t] = __shfl_sync(kFull, t, 0);
  }
}

static __global__ void emu_throws(int* out) {
  if (threadIdx.x == 5) throw std::runtime_error("boom from thread five");
  out[threadIdx.x] = 1;
}

// Fills n ints of dynamic shared memory and reads them back mirrored.
static __global__ void emu_big_dynamic(int n, int* out) {
  GW_DYNAMIC_SHARED(int, d);
  for (int i = threadIdx.x; i < n; i += blockDim.x) d[i] = i;
  __syncthreads();
  out[threadIdx.x] = d[n - 1 - static_cast<int>(threadIdx.x)];
}

static __global__ void emu_static_48k(float* out) {
  GW_SHARED(float[12288], s);  // exactly 48 KiB: the limit
  s[12287 - threadIdx.x] = 2.f;
  __syncthreads();
  out[threadIdx.x] = s[12287 - threadIdx.x];
}

static __global__ void emu_static_over_48k(float* out) {
  GW_SHARED(float[12289], s);  // 4 bytes over
  s[threadIdx.x] = 1.f;
  out[threadIdx.x] = s[threadIdx.x];
}

static __global__ void emu_write_one(float* out) { out[threadIdx.x] = 3.f; }

static __global__ void emu_write_shared(float* out) {
  GW_SHARED(float[64], s);
  s[threadIdx.x] = 1.f;
  __syncthreads();
  out[threadIdx.x] = s[63 - threadIdx.x];
}

static __global__ void emu_read_shared_first(unsigned* out) {
  GW_SHARED(float[64], s);
  out[threadIdx.x] = __float_as_uint(s[threadIdx.x]);
}

static __global__ void emu_write_dynamic(float* out) {
  GW_DYNAMIC_SHARED(float, d);
  d[threadIdx.x] = 5.f;
  __syncthreads();
  out[threadIdx.x] = d[63 - threadIdx.x];
}

static __global__ void emu_read_dynamic_first(unsigned* out) {
  GW_DYNAMIC_SHARED(float, d);
  out[threadIdx.x] = __float_as_uint(d[threadIdx.x]);
}

// Thread i writes shared[i]; thread 0 reads the last element with (or without) a barrier between.
static __global__ void emu_racy(bool barrier, float* out) {
  GW_SHARED(float[256], s);
  const unsigned t = threadIdx.x;
  s[t] = static_cast<float>(t);
  if (barrier) __syncthreads();
  if (t == 0) out[0] = s[blockDim.x - 1];
}

// Each block fills its n ints of dynamic shared memory with block-specific values, round after
// round, and counts the values that are not its own; a static variable lies after the dynamic ones.
static __global__ void emu_dynamic_per_block(int n, int* bad, int* markers) {
  GW_DYNAMIC_SHARED(int, d);
  GW_SHARED(int, marker);
  const int t = threadIdx.x, b = blockIdx.x;
  if (t == 0) marker = -7 - b;
  for (int round = 0; round < 4; ++round) {
    const int tag = b * 100000 + round * 10000;
    for (int i = t; i < n; i += blockDim.x) d[i] = tag + i % 10000;
    __syncthreads();
    int wrong = 0;
    for (int i = t; i < n; i += blockDim.x) {
      const int j = (i + 37) % n;  // another thread's element
      wrong += d[j] != tag + j % 10000;
    }
    if (wrong) atomicAdd(bad + b, wrong);
    __syncthreads();
  }
  if (t == 0) markers[b] = marker;
}

// ---- 1. warp shuffles and votes

/// The lane __shfl*_sync reads, per the CUDA programming guide: op 0 idx, 1 up, 2 down, 3 xor.
static int shfl_source(int op, int lane, int param, int width) {
  const int base = lane & ~(width - 1), pos = lane - base;
  switch (op) {
    case 0: return base + (param & (width - 1));  // srcLane modulo width, within the caller's group
    case 1: return pos >= param ? lane - param : lane;  // the lowest delta lanes of a group keep their own
    case 2: return pos + param < width ? lane + param : lane;  // the highest delta lanes keep their own
    default: {
      const int j = lane ^ param;  // an earlier group may be read; a later one gives the caller's own value
      return j < base + width ? j : lane;
    }
  }
}

// __shfl_sync / _up / _down / _xor at widths 32 and 8 on two warps: every lane gets the value
// the CUDA programming guide says, wrapping and out-of-group cases included.
GW_TEST(emulator_warp_shuffles) {
  const int n = 64;
  gwtest::DeviceArray<int> d(10 * n);
  gw::launch<emu_shuffles>(dim3(1), dim3(n), 0, stream(), d.get());
  const std::vector<int> got = d.download();
  struct Row {
    const char* what;
    int op, width;
    int param;  // -1: the per-lane srcLane of the kernel
  };
  const Row rows[10] = {
      {"shfl w32", 0, 32, -1},        {"shfl w8", 0, 8, -1},         // per-lane srcLane in 0..63
      {"shfl 37 w32", 0, 32, 37},     {"shfl 37 w8", 0, 8, 37},      // srcLane >= width wraps
      {"shfl_up 3 w32", 1, 32, 3},    {"shfl_up 3 w8", 1, 8, 3},
      {"shfl_down 5 w32", 2, 32, 5},  {"shfl_down 5 w8", 2, 8, 5},
      {"shfl_xor 21 w32", 3, 32, 21}, {"shfl_xor 5 w8", 3, 8, 5},
  };
  for (int r = 0; r < 10; ++r)
    for (int t = 0; t < n; ++t) {
      const int lane = t % 32, warp = t / 32;
      const int param = rows[r].param >= 0 ? rows[r].param : (lane * 7 + 3) & 63;
      const int want = 1000 + warp * 32 + shfl_source(rows[r].op, lane, param, rows[r].width);
      GW_EXPECT(got[r * n + t] == want, rows[r].what, ": thread ", t, " got ", got[r * n + t], " want ", want);
    }
}

// The butterfly with laneMask >= width: CUDA documents that a group may read lanes of EARLIER
// groups (PTX: valid while lane ^ laneMask <= the group's last lane), and gets its own value
// when the partner lies in a later group. (The emulator's butterfly in scheduler.cpp treats an
// earlier group like a later one and returns the caller's own value: this case fails until then.)
GW_TEST(emulator_shfl_xor_reads_earlier_group) {
  const int n = 32;
  gwtest::DeviceArray<int> d(2 * n);
  gw::launch<emu_shfl_xor_across_groups>(dim3(1), dim3(n), 0, stream(), d.get());
  const std::vector<int> got = d.download();
  for (int t = 0; t < n; ++t) {
    const int w8 = 1000 + shfl_source(3, t, 8, 8), w16 = 1000 + shfl_source(3, t, 20, 16);
    GW_EXPECT(got[t] == w8, "shfl_xor 8 w8: lane ", t, " got ", got[t], " want ", w8);
    GW_EXPECT(got[n + t] == w16, "shfl_xor 20 w16: lane ", t, " got ", got[n + t], " want ", w16);
  }
}

// __ballot_sync / __any_sync / __all_sync over sub-masks: only the lanes the mask names vote,
// and every one of them gets the same answer.
GW_TEST(emulator_warp_votes) {
  const unsigned n = 64;
  gwtest::DeviceArray<unsigned> d(7 * n);
  gw::launch<emu_votes>(dim3(1), dim3(n), 0, stream(), d.get());
  const std::vector<unsigned> got = d.download();
  auto ballot = [](unsigned warp, unsigned mask, auto pred) {
    unsigned b = 0;
    for (unsigned l = 0; l < 32; ++l)
      if ((mask >> l & 1u) && pred(warp * 32 + l)) b |= 1u << l;
    return b;
  };
  for (unsigned t = 0; t < n; ++t) {
    const unsigned lane = t % 32, warp = t / 32;
    const unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
    const unsigned parity = lane % 2 ? 0xaaaaaaaau : 0x55555555u;
    const unsigned want[7] = {
        ballot(warp, half, [](unsigned i) { return i % 3 == 0; }),
        ballot(warp, half, [](unsigned i) { return i == 37; }) != 0,
        ballot(warp, half, [](unsigned i) { return i != 50; }) == half,
        ballot(warp, parity, [](unsigned i) { return i % 5 == 0; }),
        ballot(warp, parity, [](unsigned i) { return i == 7; }) != 0,
        1,
        0xc0000000u,
    };
    for (unsigned r = 0; r < 7; ++r)
      GW_EXPECT(got[r * n + t] == want[r], "vote row ", r, ", thread ", t, ": got ", got[r * n + t], " want ", want[r]);
  }
  // Spot checks that the expectations are not vacuous.
  GW_EXPECT(got[1 * n + 32] == 1 && got[1 * n + 48] == 0 && got[2 * n + 48] == 0 && got[2 * n + 0] == 1, "any/all");
}

// ---- 2. barriers and atomics

// A shared-memory tree reduction with __syncthreads between the levels is exact; without
// correct barriers the emulator's sequential fibers would read stale partial sums.
/// Runs emu_block_sum over x (kSumBlock values per block) and expects every block's exact sum.
static void expect_block_sums(const std::vector<float>& x, const std::string& what) {
  const unsigned blocks = static_cast<unsigned>(x.size() / kSumBlock);
  gwtest::DeviceArray<float> dx(x), dout(blocks);
  gw::launch<emu_block_sum>(dim3(blocks), dim3(kSumBlock), 0, stream(), dx.get(), dout.get());
  const std::vector<float> got = dout.download();
  for (unsigned b = 0; b < blocks; ++b) {
    double want = 0;
    for (unsigned i = 0; i < kSumBlock; ++i) want += x[b * kSumBlock + i];
    GW_EXPECT(got[b] == static_cast<float>(want), what, " block ", b, ": got ", got[b], " want ", want);
  }
}

GW_TEST(emulator_block_reduction) {
  std::vector<float> x(16 * kSumBlock);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>((i * 37) % 101) - 50);
  expect_block_sums(x, "16 blocks:");
}

// atomicAdd from every thread of a 512-block grid (blocks run in parallel on the CPU's
// threads) loses no update, for float and unsigned long long.
GW_TEST(emulator_atomics_count_exactly) {
  const unsigned blocks = 512, threads = 256;
  gwtest::DeviceArray<float> f(std::vector<float>{0.f});
  gwtest::DeviceArray<unsigned long long> u(std::vector<unsigned long long>{0});
  gw::launch<emu_count>(dim3(blocks), dim3(threads), 0, stream(), f.get(), u.get());
  const float fc = f.download()[0];
  const unsigned long long uc = u.download()[0];
  GW_EXPECT(fc == static_cast<float>(blocks * threads), "float count ", fc);
  GW_EXPECT(uc == blocks * threads, "u64 count ", uc);
}

// ---- 3. misuse is an error naming the kernel and the problem

// A __syncthreads that only some threads reach (the others exit) hangs or corrupts on a GPU.
GW_TEST(emulator_error_divergent_barrier) {
  gwtest::DeviceArray<int> out(4 * 64);
  expect_error([&] { gw::launch<emu_divergent_barrier>(dim3(4), dim3(64), 0, stream(), out.get()); },
               {"emu_divergent_barrier", "__syncthreads", "test_emulator.cpp:", "not reached by every thread"});
}

// Two different __syncthreads met at once: undefined on a GPU.
GW_TEST(emulator_error_two_barrier_sites) {
  gwtest::DeviceArray<int> out(64);
  expect_error([&] { gw::launch<emu_two_barriers>(dim3(1), dim3(64), 0, stream(), out.get()); },
               {"emu_two_barriers", "different __syncthreads"});
}

// A full mask from a 48-thread block names lanes 16-31 of the second warp, which do not exist.
GW_TEST(emulator_error_mask_names_missing_lanes) {
  gwtest::DeviceArray<int> out(48);
  expect_error([&] { gw::launch<emu_xor_full_mask>(dim3(1), dim3(48), 0, stream(), out.get()); },
               {"emu_xor_full_mask", "__shfl_xor_sync", "0xffff0000", "do not exist", "warp 1"});
}

// The calling lane must be in the mask.
GW_TEST(emulator_error_mask_without_caller) {
  gwtest::DeviceArray<int> out(32);
  expect_error([&] { gw::launch<emu_mask_without_caller>(dim3(1), dim3(32), 0, stream(), out.get()); },
               {"emu_mask_without_caller", "__shfl_sync", "0xfffffffe", "does not name the calling lane", "lane 0 "});
}

// An exception thrown by kernel code fails the launch, naming the thread.
GW_TEST(emulator_error_kernel_throws) {
  gwtest::DeviceArray<int> out(32);
  expect_error([&] { gw::launch<emu_throws>(dim3(1), dim3(32), 0, stream(), out.get()); },
               {"emu_throws", "thread (5,0,0)", "boom from thread five"});
}

// The launch limits of an sm_90 device: cudaErrorInvalidConfiguration before anything runs.
GW_TEST(emulator_error_launch_config) {
  const char* cfg = "cudaErrorInvalidConfiguration";
  expect_error([] { gw::launch<emu_noop>(dim3(1), dim3(1025), 0, stream(), nullptr); },
               {"emu_noop", cfg, "block (1025,1,1)", "exceed (1024, 1024, 64)"});
  expect_error([] { gw::launch<emu_noop>(dim3(1), dim3(32, 32, 2), 0, stream(), nullptr); },
               {"emu_noop", cfg, "more than 1024 threads per block"});
  expect_error([] { gw::launch<emu_noop>(dim3(1), dim3(1, 1, 65), 0, stream(), nullptr); },
               {"emu_noop", cfg, "block dimensions exceed"});
  expect_error([] { gw::launch<emu_noop>(dim3(1, 65536), dim3(32), 0, stream(), nullptr); },
               {"emu_noop", cfg, "grid (1,65536,1)", "grid dimensions exceed"});
  expect_error([] { gw::launch<emu_noop>(dim3(0), dim3(32), 0, stream(), nullptr); },
               {"emu_noop", cfg, "a grid dimension is 0"});
  expect_error([] { gw::launch<emu_noop>(dim3(1), dim3(0), 0, stream(), nullptr); },
               {"emu_noop", cfg, "a block dimension is 0"});
  // The largest legal shapes do launch.
  gwtest::DeviceArray<int> out(65535);
  gw::launch<emu_noop>(dim3(1), dim3(1024), 0, stream(), out.get());
  gw::launch<emu_noop>(dim3(1, 65535), dim3(1), 0, stream(), nullptr);
}

// More than 48 KiB of dynamic shared memory needs cudaFuncSetAttribute(MaxDynamicSharedMemorySize)
// first, and then no more than it allowed.
GW_TEST(emulator_error_dynamic_shared_limit) {
  const int n = (49 << 10) / 4;
  gwtest::DeviceArray<int> out(64);
  auto run = [&](size_t bytes) { gw::launch<emu_big_dynamic>(dim3(2), dim3(64), bytes, stream(), n, out.get()); };
  expect_error([&] { run(49 << 10); },
               {"emu_big_dynamic", "50176 bytes of dynamic shared memory", "without cudaFuncSetAttribute"});
  GW_EXPECT(cudaFuncSetAttribute(emu_big_dynamic, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 << 10) == cudaSuccess,
            "cudaFuncSetAttribute");
  out.poison();
  run(49 << 10);
  const std::vector<int> got = out.download();
  for (int t = 0; t < 64; ++t) GW_EXPECT(got[t] == n - 1 - t, "thread ", t, " read ", got[t]);
  expect_error([&] { run(80 << 10); },
               {"emu_big_dynamic", "more dynamic shared memory than cudaFuncSetAttribute allowed"});
  // Above sm_90's opt-in maximum (227 KiB) the attribute itself is refused.
  GW_EXPECT(cudaFuncSetAttribute(emu_big_dynamic, cudaFuncAttributeMaxDynamicSharedMemorySize, 228 << 10) ==
                cudaErrorInvalidValue,
            "cudaFuncSetAttribute above 227 KiB");
  GW_EXPECT(cudaGetLastError() == cudaErrorInvalidValue && cudaGetLastError() == cudaSuccess, "last error");
}

// Static shared memory: exactly 48 KiB is fine, 4 bytes more is an error (ptxas refuses it on a GPU).
GW_TEST(emulator_error_static_shared_limit) {
  gwtest::DeviceArray<float> out(64);
  gw::launch<emu_static_48k>(dim3(2), dim3(64), 0, stream(), out.get());
  gwtest::expect_close(out.download(), std::vector<float>(64, 2.f), 0, 0, "48 KiB of static shared memory");
  expect_error([&] { gw::launch<emu_static_over_48k>(dim3(1), dim3(64), 0, stream(), out.get()); },
               {"emu_static_over_48k", "shared memory of 49168 bytes", "exceeds the block's limit of 49152 bytes"});
}

// A host pointer as a kernel argument is caught at the launch; pinned host memory is fine (UVA).
GW_TEST(emulator_error_host_pointer_argument) {
  std::vector<float> host(32, 0.f);
  expect_error([&] { gw::launch<emu_write_one>(dim3(1), dim3(32), 0, stream(), host.data()); },
               {"emu_write_one", "argument 0 is the host pointer"});
  GW_EXPECT(host[0] == 0.f, "the kernel ran on host memory");
  float* pinned = static_cast<float*>(gw::cudart::malloc_pinned(32 * sizeof(float)));
  gw::launch<emu_write_one>(dim3(1), dim3(32), 0, stream(), pinned);
  const float p0 = pinned[0], p31 = pinned[31];
  gw::cudart::free_pinned(pinned);
  GW_EXPECT(p0 == 3.f && p31 == 3.f, "pinned memory written by the kernel: ", p0, " ", p31);
}

// A deadlock (lanes 0-15 at __syncthreads, lanes 16-31 in a shuffle naming lanes 0-15) is an
// error that says who waits where, not a hang. In forward order the barrier is reached
// first and the scheduler finds nothing left to run; in other orders a lane may reach the
// barrier while its shuffle partners already wait, which is reported at once.
GW_TEST(emulator_error_deadlock) {
  gwtest::DeviceArray<int> out(32);
  if (gw::emu::schedule().order == gw::emu::Schedule::kForward) {
    expect_error([&] { gw::launch<emu_deadlock>(dim3(1), dim3(32), 0, stream(), out.get()); },
                 {"emu_deadlock", "deadlock", "16 threads wait at __syncthreads", "lanes 0xffff0000 of warp 0",
                  "wait in __shfl_sync", "for lanes 0x0000ffff"});
  } else {
    expect_error([&] { gw::launch<emu_deadlock>(dim3(1), dim3(32), 0, stream(), out.get()); },
                 {"emu_deadlock", "__syncthreads", "__shfl_sync", "wait"});
  }
}

// ---- 4. the emulator recovers from a failed launch

// Fibers abandoned mid-kernel (at a barrier, in a shuffle, unwound by an exception) are made
// afresh: correct kernels launched right after give exact answers.
GW_TEST(emulator_recovers_after_failed_launch) {
  gwtest::DeviceArray<int> scratch(8 * 1024);
  for (int round = 0; round < 2; ++round) {
    expect_error([&] { gw::launch<emu_divergent_barrier>(dim3(8), dim3(1024), 0, stream(), scratch.get()); },
                 {"emu_divergent_barrier"});
    expect_error([&] { gw::launch<emu_deadlock>(dim3(1), dim3(32), 0, stream(), scratch.get()); }, {"emu_deadlock"});
    expect_error([&] { gw::launch<emu_throws>(dim3(4), dim3(32), 0, stream(), scratch.get()); }, {"emu_throws"});
    expect_error([&] { gw::launch<emu_xor_full_mask>(dim3(4), dim3(48), 0, stream(), scratch.get()); },
                 {"emu_xor_full_mask"});

    std::vector<float> x(32 * kSumBlock);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i % 13) - 6 + round);
    expect_block_sums(x, "round " + std::to_string(round));
    gwtest::DeviceArray<int> sh(640);
    gw::launch<emu_shuffles>(dim3(1), dim3(64), 0, stream(), sh.get());
    const std::vector<int> s = sh.download();
    for (int t = 0; t < 64; ++t) GW_EXPECT(s[8 * 64 + t] == 1000 + (t & 32) + ((t % 32) ^ 21), "xor after failure");
  }
}

// ---- 5. memory starts as garbage

// Shared memory (static and dynamic) holds 0xFF bytes (NaN) when a block starts, even where
// the previous kernel on the same CPU thread left values; fresh or reused device memory too.
GW_TEST(emulator_memory_starts_poisoned) {
  gwtest::DeviceArray<float> w(64);
  gwtest::DeviceArray<unsigned> r(64);
  gw::launch<emu_write_shared>(dim3(1), dim3(64), 0, stream(), w.get());
  gwtest::expect_close(w.download(), std::vector<float>(64, 1.f), 0, 0, "static shared written");
  gw::launch<emu_read_shared_first>(dim3(1), dim3(64), 0, stream(), r.get());
  for (unsigned v : r.download())
    GW_EXPECT(v == 0xffffffffu && std::isnan(__uint_as_float(v)), "static shared read ", v);

  gw::launch<emu_write_dynamic>(dim3(1), dim3(64), 64 * sizeof(float), stream(), w.get());
  gwtest::expect_close(w.download(), std::vector<float>(64, 5.f), 0, 0, "dynamic shared written");
  gw::launch<emu_read_dynamic_first>(dim3(1), dim3(64), 64 * sizeof(float), stream(), r.get());
  for (unsigned v : r.download()) GW_EXPECT(v == 0xffffffffu, "dynamic shared read ", v);

  const size_t n = 3000;
  {
    gwtest::DeviceArray<uint8_t> fresh(n);
    for (uint8_t b : fresh.download()) GW_EXPECT(b == 0xFF, "fresh device byte ", int(b));
    fresh.upload(std::vector<uint8_t>(n, 0));
    for (uint8_t b : fresh.download()) GW_EXPECT(b == 0, "uploaded zero byte ", int(b));
  }
  gwtest::DeviceArray<uint8_t> reused(n);  // most likely the block just freed, from the allocator's cache
  for (uint8_t b : reused.download()) GW_EXPECT(b == 0xFF, "reused device byte ", int(b));
}

// ---- 6. host code cannot touch device memory

/// Forks; the child runs fn and _exit(0)s. Returns the child's wait status.
template <typename F>
static int in_child(F&& fn) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(SIGSEGV, SIG_DFL);  // die of the fault (a sanitizer would otherwise report and exit)
    signal(SIGBUS, SIG_DFL);
    fn();
    _exit(0);
  }
  GW_EXPECT(pid > 0, "fork failed");
  int status = 0;
  GW_EXPECT(waitpid(pid, &status, 0) == pid, "waitpid");
  return status;
}

// Like a GPU's memory, the emulated device's is out of the host's reach: a host read faults
// (SIGSEGV) rather than returning data, while the same read inside a DeviceAccess (as a
// kernel or a copy sees it) works. A copy whose pointers are not of the kind it names fails.
GW_TEST(emulator_host_cannot_touch_device_memory) {
  gwtest::DeviceArray<uint8_t> d(std::vector<uint8_t>(4096, 42));
  const volatile uint8_t* p = d.get() + 100;
  int st = in_child([&] {
    gw::emu::DeviceAccess open;
    _exit(*p == 42 ? 0 : 3);
  });
  GW_EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a read inside DeviceAccess: wait status ", st);
  st = in_child([&] {
    const uint8_t b = *p;
    _exit(b == 42 ? 5 : 6);
  });
  GW_EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "a host read of device memory: wait status ", st,
            WIFEXITED(st) ? " (exited with " + std::to_string(WEXITSTATUS(st)) + ")" : std::string());

  std::vector<uint8_t> host(4096, 0);
  gwtest::DeviceArray<uint8_t> d2(4096);
  GW_EXPECT(cudaGetLastError() == cudaSuccess, "no error pending");
  // A device pointer passed where the copy's kind says host memory:
  GW_EXPECT(cudaMemcpyAsync(d2.get(), d.get(), 4096, cudaMemcpyHostToDevice, stream()) == cudaErrorInvalidValue,
            "H2D from a device pointer");
  GW_EXPECT(cudaGetLastError() == cudaErrorInvalidValue, "H2D error recorded");
  GW_EXPECT(cudaMemcpyAsync(d2.get(), d.get(), 4096, cudaMemcpyDeviceToHost, stream()) == cudaErrorInvalidValue,
            "D2H into a device pointer");
  // ... a host pointer where it says device, and a range past the allocation's end:
  GW_EXPECT(cudaMemcpyAsync(host.data(), d.get(), 4096, cudaMemcpyDeviceToDevice, stream()) == cudaErrorInvalidValue,
            "D2D into a host pointer");
  GW_EXPECT(cudaMemcpyAsync(host.data(), d.get() + 1, 4096, cudaMemcpyDeviceToHost, stream()) == cudaErrorInvalidValue,
            "D2H past the end");
  GW_EXPECT(cudaGetLastError() == cudaErrorInvalidValue && cudaGetLastError() == cudaSuccess, "last error");
  // The right kinds work.
  GW_EXPECT(cudaMemcpyAsync(d2.get(), d.get(), 4096, cudaMemcpyDeviceToDevice, stream()) == cudaSuccess, "D2D");
  GW_EXPECT(cudaMemcpyAsync(host.data(), d2.get(), 4096, cudaMemcpyDeviceToHost, stream()) == cudaSuccess, "D2H");
  GW_EXPECT(host[0] == 42 && host[4095] == 42, "copied bytes ", int(host[0]), " ", int(host[4095]));
}

// ---- 7. the schedule exposes a missing barrier

// Thread 0 reads shared[255] without a barrier after thread 255's write. On a GPU the result
// depends on warp scheduling; in the emulator's forward order thread 0 runs to its end before
// thread 255 starts, so it reads the poison (NaN), and in reverse order it reads 255. With the
// barrier the answer is 255 in every order.
GW_TEST(emulator_schedule_exposes_missing_barrier) {
  gwtest::DeviceArray<float> out(1);
  const gw::emu::Schedule::Order order = gw::emu::schedule().order;
  gw::launch<emu_racy>(dim3(1), dim3(256), 0, stream(), false, out.get());
  const float racy = out.download()[0];
  if (order == gw::emu::Schedule::kForward) GW_EXPECT(std::isnan(racy), "forward order read ", racy, ", not NaN");
  if (order == gw::emu::Schedule::kReverse) GW_EXPECT(racy == 255.f, "reverse order read ", racy);
  if (order == gw::emu::Schedule::kRandom) GW_EXPECT(std::isnan(racy) || racy == 255.f, "random order read ", racy);
  out.poison();
  gw::launch<emu_racy>(dim3(1), dim3(256), 0, stream(), true, out.get());
  GW_EXPECT(out.download()[0] == 255.f, "with the barrier: ", out.download()[0]);
}

// ---- 8. dynamic shared memory is per block

// Blocks running at the same time on different CPU threads each have their own dynamic
// shared memory, of the size the launch asked for, with static shared variables after it.
GW_TEST(emulator_dynamic_shared_per_block) {
  const unsigned blocks = 64;
  for (int n : {2048, 4096}) {
    gwtest::DeviceArray<int> bad(std::vector<int>(blocks, 0)), markers(blocks);
    gw::launch<emu_dynamic_per_block>(dim3(blocks), dim3(128), n * sizeof(int), stream(), n, bad.get(), markers.get());
    const std::vector<int> b = bad.download(), m = markers.download();
    for (unsigned i = 0; i < blocks; ++i) {
      GW_EXPECT(b[i] == 0, "n ", n, " block ", i, " saw ", b[i], " values that are not its own");
      GW_EXPECT(m[i] == -7 - static_cast<int>(i), "n ", n, " block ", i, " static marker ", m[i]);
    }
  }
}

// ---- 9. events, the stream and the device's identity

// Events record, synchronize and time (launches run to completion, so the elapsed time is
// the launch's wall time); the device calls itself emulated so no log mistakes it for a GPU.
GW_TEST(emulator_events_and_device_info) {
  cudaEvent_t a = nullptr, b = nullptr;
  GW_EXPECT(cudaEventCreate(&a) == cudaSuccess && cudaEventCreate(&b) == cudaSuccess, "cudaEventCreate");
  GW_EXPECT(cudaEventRecord(a, stream()) == cudaSuccess, "record a");
  gwtest::DeviceArray<float> f(std::vector<float>{0.f});
  gwtest::DeviceArray<unsigned long long> u(std::vector<unsigned long long>{0});
  gw::launch<emu_count>(dim3(64), dim3(256), 0, stream(), f.get(), u.get());
  GW_EXPECT(cudaEventRecord(b, stream()) == cudaSuccess, "record b");
  GW_EXPECT(cudaEventSynchronize(b) == cudaSuccess, "synchronize");
  float ms = -1;
  GW_EXPECT(cudaEventElapsedTime(&ms, a, b) == cudaSuccess, "elapsed");
  GW_EXPECT(std::isfinite(ms) && ms > 0.f && ms < 60e3f, "elapsed ms ", ms);
  GW_EXPECT(cudaEventRecord(nullptr, stream()) == cudaErrorInvalidResourceHandle, "record of a null event");
  GW_EXPECT(cudaGetLastError() == cudaErrorInvalidResourceHandle, "last error");
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  GW_EXPECT(cudaStreamSynchronize(stream()) == cudaSuccess, "stream synchronize");
  gw::Event e = gw::cudart::record_event(stream());
  gw::cudart::wait_event(e);
  gw::cudart::destroy_event(e);
  GW_EXPECT(u.download()[0] == 64 * 256, "the launch between the events ran");

  GW_EXPECT(gw::cudart::device_count() == 1, "device count ", gw::cudart::device_count());
  const gw::cudart::DeviceInfo info = gw::cudart::device_info(0);
  GW_EXPECT(info.name.find("emulated") != std::string::npos, "device name '", info.name, "'");
  GW_EXPECT(info.major == 9 && info.minor == 0 && info.sm_count > 0, "sm ", info.major, ".", info.minor);
}

#endif  // GW_CUDA_EMU
