// gatewise — the emulated device's scheduler: how a launch runs on the CPU.
//
// Blocks are spread over the CPU thread pool (each block on one OS thread from start to end;
// atomics are real atomics). Inside a block every CUDA thread is a ucontext fiber with a
// stack of its own. The scheduler resumes the ready fibers in the schedule's order; a fiber
// runs until it exits or reaches a synchronization point:
//   __syncthreads   waits until every thread of the block is there; a thread that exits
//                   while others wait, or two different __syncthreads met at once, is an error;
//   warp calls      (__shfl*_sync, __ballot_sync, __syncwarp, ...) wait until every lane the
//                   mask names has made the same call; the last one to arrive computes every
//                   lane's result from the values all of them passed. A mask that names a lane
//                   that does not exist, has exited or never comes is an error.
// When no fiber is ready and some have not exited, the block is deadlocked: an error that
// says who waits where. GATEWISE_EMU_SCHEDULE=reverse|random[:seed] changes the order in
// which the threads run between two synchronization points, so that a missing barrier or a
// race between threads changes the result.
//
// A fiber is made once per worker with glibc's makecontext and then reused for thread after
// thread; switching between the scheduler and a fiber is _setjmp/_longjmp, which (unlike
// swapcontext) makes no system call. _FORTIFY_SOURCE's longjmp check rejects jumps between
// stacks, so it is off in this file.
#undef _FORTIFY_SOURCE
#include <setjmp.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "../core/error.h"
#include "../core/parallel.h"
#include "cuda_emu.h"
#include "memory.h"
#include "schedule.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace gw::emu {

namespace {
thread_local const ThreadCtx* t_ctx = nullptr;
}  // namespace

const ThreadCtx& this_thread() { return *t_ctx; }

namespace {

constexpr unsigned kMaxThreads = 1024;
constexpr size_t kStaticSmemLimit = 48 << 10;   // without cudaFuncSetAttribute
constexpr size_t kOptinSmemLimit = 227 << 10;   // sm_90's opt-in maximum per block

size_t stack_bytes() {
  static const size_t n = [] {
    const char* kb = std::getenv("GATEWISE_EMU_STACK_KB");
    long v = kb ? std::atol(kb) : 0;
#if defined(__SANITIZE_ADDRESS__)
    if (v <= 0) v = 512;
#else
    if (v <= 0) v = 128;
#endif
    return static_cast<size_t>(v) << 10;
  }();
  return n;
}

enum class State : uint8_t { kReady, kBarrier, kWarp, kExited, kAborted };

struct Fiber {
  jmp_buf jb;             ///< where it resumes
  char* stack = nullptr;  ///< stack_bytes() plus a guard page below
  ThreadCtx ctx;
  State state = State::kExited;
  unsigned lane = 0, warp = 0;
  uint64_t warp_result = 0;
  bool parked = false;  ///< waiting in fiber_main's loop for a thread to run
};

/// A warp-synchronous call some lanes of a warp are waiting in.
struct WarpCall {
  WarpOp op;
  unsigned mask, arrived;
  const char* file;
  int line;
  uint64_t value[32];
  int param[32], width[32];
};

struct WarpState {
  unsigned exists = 0, exited = 0;
  std::vector<WarpCall> pending;  ///< at most a few: lanes of disjoint masks may wait apart
};

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::kSyncwarp: return "__syncwarp";
    case WarpOp::kShfl: return "__shfl_sync";
    case WarpOp::kShflUp: return "__shfl_up_sync";
    case WarpOp::kShflDown: return "__shfl_down_sync";
    case WarpOp::kShflXor: return "__shfl_xor_sync";
    case WarpOp::kBallot: return "__ballot_sync";
    case WarpOp::kAny: return "__any_sync";
    case WarpOp::kAll: return "__all_sync";
  }
  return "?";
}

std::string site(const char* file, int line) {
  const char* slash = std::strrchr(file, '/');
  return std::string(slash ? slash + 1 : file) + ":" + std::to_string(line);
}

std::string hex(unsigned v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

/// One per OS thread that runs blocks: its fibers, shared memory and the block in progress.
struct Worker {
  std::vector<std::unique_ptr<Fiber>> fibers;
  jmp_buf sched;
  std::vector<char> arena = std::vector<char>(kOptinSmemLimit + 4096);
  const LaunchSpec* spec = nullptr;
  size_t smem_limit = kStaticSmemLimit;
  unsigned n = 0, exited = 0, at_barrier = 0;
  uint3 block_idx{};
  const char* bar_file = nullptr;
  int bar_line = 0;
  std::vector<WarpState> warps;
  std::vector<std::pair<const void*, size_t>> shared_vars;  ///< key → offset in the arena
  size_t shared_top = 0;
  std::string error;
  Fiber* current = nullptr;
#if defined(__SANITIZE_ADDRESS__)
  const void* sched_stack_bottom = nullptr;
  size_t sched_stack_size = 0;
#endif

  ~Worker() {
    for (auto& f : fibers)
      if (f->stack) munmap(f->stack - 4096, stack_bytes() + 4096);
  }

  void fail(const std::string& what) {
    if (error.empty()) error = what;
  }
};

thread_local std::unique_ptr<Worker> t_worker;

Worker& this_worker() {
  if (!t_worker) t_worker = std::make_unique<Worker>();
  return *t_worker;
}

// ---- switching between the scheduler and a fiber
#if defined(__SANITIZE_ADDRESS__)
#define GW_EMU_SWITCH_TO(bottom, size) \
  void* gw_fake = nullptr;             \
  __sanitizer_start_switch_fiber(&gw_fake, bottom, size)
#define GW_EMU_SWITCHED(bottom_out, size_out) __sanitizer_finish_switch_fiber(gw_fake, bottom_out, size_out)
#else
#define GW_EMU_SWITCH_TO(bottom, size) ((void)0)
#define GW_EMU_SWITCHED(bottom_out, size_out) ((void)0)
#endif

void enter_fiber(Worker& w, Fiber& f) {
  w.current = &f;
  t_ctx = &f.ctx;
  // The fiber reads these after a jump the compiler cannot follow: keep the stores before it.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  GW_EMU_SWITCH_TO(f.stack, stack_bytes());
  if (_setjmp(w.sched) == 0) _longjmp(f.jb, 1);
  GW_EMU_SWITCHED(nullptr, nullptr);
  w.current = nullptr;
  t_ctx = nullptr;
}

/// From inside a fiber: back to the scheduler until it resumes this fiber.
void leave_fiber(Worker& w, Fiber& f) {
#if defined(__SANITIZE_ADDRESS__)
  GW_EMU_SWITCH_TO(w.sched_stack_bottom, w.sched_stack_size);
  if (_setjmp(f.jb) == 0) _longjmp(w.sched, 1);
  GW_EMU_SWITCHED(&w.sched_stack_bottom, &w.sched_stack_size);
#else
  if (_setjmp(f.jb) == 0) _longjmp(w.sched, 1);
#endif
}

/// From inside a fiber, after an error: never resumed again (its stack is simply reused).
[[noreturn]] void abort_fiber(Worker& w, Fiber& f, const std::string& what) {
  w.fail(what);
  f.state = State::kAborted;
  f.parked = false;  // its stack is mid-kernel: made afresh before it runs again
  leave_fiber(w, f);
  __builtin_unreachable();  // an aborted fiber is never resumed
}

std::string where(const Worker& w) {
  const LaunchSpec& s = *w.spec;
  return std::string("kernel ") + s.kernel + ", block (" + std::to_string(w.block_idx.x) + "," +
         std::to_string(w.block_idx.y) + "," + std::to_string(w.block_idx.z) + ") of grid (" +
         std::to_string(s.grid.x) + "," + std::to_string(s.grid.y) + "," + std::to_string(s.grid.z) +
         "), block size (" + std::to_string(s.block.x) + "," + std::to_string(s.block.y) + "," +
         std::to_string(s.block.z) + ")";
}

std::string thread_name(const Fiber& f) {
  return "thread (" + std::to_string(f.ctx.thread_idx.x) + "," + std::to_string(f.ctx.thread_idx.y) + "," +
         std::to_string(f.ctx.thread_idx.z) + ")";
}

void on_exit(Worker& w, Fiber& f) {
  f.state = State::kExited;
  ++w.exited;
  WarpState& ws = w.warps[f.warp];
  ws.exited |= 1u << f.lane;
  for (const WarpCall& c : ws.pending)
    if (c.mask >> f.lane & 1u)
      w.fail(where(w) + ": " + thread_name(f) + " (lane " + std::to_string(f.lane) + ") exited while lanes " +
             hex(c.arrived) + " of warp " + std::to_string(f.warp) + " wait for it in " + op_name(c.op) + " at " +
             site(c.file, c.line) + " (mask " + hex(c.mask) + ")");
  if (w.at_barrier && w.at_barrier + w.exited == w.n)
    w.fail(where(w) + ": __syncthreads at " + site(w.bar_file, w.bar_line) + " is not reached by every thread: " +
           std::to_string(w.exited) + " exited before it");
}

thread_local Fiber* t_new_fiber = nullptr;

/// Every fiber's life: park, run the thread it is given, park again.
void fiber_main() {
  Worker& w = *t_worker;
  Fiber& f = *t_new_fiber;
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(nullptr, &w.sched_stack_bottom, &w.sched_stack_size);
#endif
  for (;;) {
    leave_fiber(w, f);  // parked until the scheduler starts a thread on it
    std::string threw;
    try {
      w.spec->body(w.spec->params);
    } catch (const std::exception& e) {
      threw = e.what();
    } catch (...) {
      threw = "an exception";
    }
    if (!threw.empty()) abort_fiber(w, f, where(w) + ": " + thread_name(f) + " threw: " + threw);
    on_exit(w, f);
  }
}

/// Fiber i of this worker, parked and ready to run a thread.
Fiber& fiber_at(Worker& w, unsigned i) {
  while (w.fibers.size() <= i) w.fibers.push_back(std::make_unique<Fiber>());
  Fiber& f = *w.fibers[i];
  if (!f.stack) {
    const size_t bytes = stack_bytes() + 4096;  // + a guard page: an overflow faults
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    GW_CHECK(p != MAP_FAILED, kOom, "emulated CUDA device: cannot map a thread stack");
    mprotect(p, 4096, PROT_NONE);
    f.stack = static_cast<char*>(p) + 4096;
  }
  if (!f.parked) {
#if defined(__SANITIZE_ADDRESS__)
    ASAN_UNPOISON_MEMORY_REGION(f.stack, stack_bytes());  // frames abandoned by an aborted thread
#endif
    ucontext_t uc, back;
    getcontext(&uc);
    uc.uc_stack.ss_sp = f.stack;
    uc.uc_stack.ss_size = stack_bytes();
    uc.uc_link = nullptr;
    makecontext(&uc, fiber_main, 0);
    t_new_fiber = &f;
    GW_EMU_SWITCH_TO(f.stack, stack_bytes());
    if (_setjmp(w.sched) == 0) swapcontext(&back, &uc);  // fiber_main parks and jumps back here
    GW_EMU_SWITCHED(nullptr, nullptr);
    f.parked = true;
  }
  return f;
}

// ---- one block
void diagnose_deadlock(Worker& w) {
  std::string why = where(w) + ": deadlock:";
  if (w.at_barrier)
    why += " " + std::to_string(w.at_barrier) + " threads wait at __syncthreads (" + site(w.bar_file, w.bar_line) + ");";
  for (size_t i = 0; i < w.warps.size(); ++i)
    for (const WarpCall& c : w.warps[i].pending)
      why += " lanes " + hex(c.arrived) + " of warp " + std::to_string(i) + " wait in " + op_name(c.op) + " (" +
             site(c.file, c.line) + ", mask " + hex(c.mask) + ") for lanes " + hex(c.mask & ~c.arrived) + ";";
  w.fail(why);
}

void run_block(Worker& w, const LaunchSpec& s, uint3 bidx, const Schedule& sched, uint64_t block_seed) {
  const unsigned n = s.block.x * s.block.y * s.block.z;
  w.spec = &s;
  w.n = n;
  w.exited = w.at_barrier = 0;
  w.block_idx = bidx;
  w.error.clear();
  w.warps.assign((n + 31) / 32, WarpState{});
  for (unsigned i = 0; i < n; ++i) w.warps[i / 32].exists |= 1u << (i % 32);
  w.shared_vars.clear();
  w.shared_top = (s.dynamic_smem + 15) & ~size_t(15);
  std::memset(w.arena.data(), 0xFF, s.dynamic_smem);  // shared memory starts as garbage (NaN)

  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = fiber_at(w, i);
    f.ctx.thread_idx = {i % s.block.x, (i / s.block.x) % s.block.y, i / (s.block.x * s.block.y)};
    f.ctx.block_idx = bidx;
    f.ctx.block_dim = s.block;
    f.ctx.grid_dim = s.grid;
    f.state = State::kReady;
    f.lane = i % 32;
    f.warp = i / 32;
  }

  std::vector<unsigned> order(n);
  for (unsigned i = 0; i < n; ++i) order[i] = sched.order == Schedule::kReverse ? n - 1 - i : i;
  std::mt19937_64 rng(block_seed);
  while (w.error.empty() && w.exited < n) {
    if (sched.order == Schedule::kRandom) std::shuffle(order.begin(), order.end(), rng);
    bool ran = false;
    for (unsigned i : order) {
      Fiber& f = *w.fibers[i];
      if (f.state != State::kReady) continue;
      ran = true;
      enter_fiber(w, f);
      if (!w.error.empty()) break;
    }
    if (!ran && w.error.empty()) diagnose_deadlock(w);
  }
  if (!w.error.empty())  // threads stopped mid-kernel: their fibers are made afresh
    for (unsigned i = 0; i < n; ++i)
      if (w.fibers[i]->state != State::kExited) w.fibers[i]->parked = false;
}

std::mutex g_attr_mu;
std::vector<std::pair<const void*, size_t>> g_max_dynamic_smem;  ///< from cudaFuncSetAttribute

size_t opted_in_smem(const void* fn) {
  std::lock_guard<std::mutex> lk(g_attr_mu);
  for (auto& kv : g_max_dynamic_smem)
    if (kv.first == fn) return kv.second;
  return 0;
}

void check_config(const LaunchSpec& s, size_t optin) {
  auto fail = [&](const std::string& what) {
    GW_THROW(kCuda, "emulated CUDA: launch of kernel ", s.kernel, " with grid (", s.grid.x, ",", s.grid.y, ",",
             s.grid.z, "), block (", s.block.x, ",", s.block.y, ",", s.block.z, "), ", s.dynamic_smem,
             " bytes of dynamic shared memory: cudaErrorInvalidConfiguration: ", what);
  };
  if (!s.block.x || !s.block.y || !s.block.z) fail("a block dimension is 0");
  if (!s.grid.x || !s.grid.y || !s.grid.z) fail("a grid dimension is 0");
  if (s.block.x > 1024 || s.block.y > 1024 || s.block.z > 64) fail("block dimensions exceed (1024, 1024, 64)");
  if (static_cast<uint64_t>(s.block.x) * s.block.y * s.block.z > kMaxThreads) fail("more than 1024 threads per block");
  if (s.grid.x > 2147483647u || s.grid.y > 65535 || s.grid.z > 65535) fail("grid dimensions exceed (2^31-1, 65535, 65535)");
  if (s.dynamic_smem > (optin ? optin : kStaticSmemLimit))
    fail(optin ? "more dynamic shared memory than cudaFuncSetAttribute allowed"
               : "more than 48 KiB of dynamic shared memory without cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
}

}  // namespace

// ---- called from kernel code (cuda_emu.h)
void syncthreads(const char* file, int line) {
  Worker& w = *t_worker;
  Fiber& f = *w.current;
  for (const WarpCall& c : w.warps[f.warp].pending)
    if (c.mask >> f.lane & 1u)
      abort_fiber(w, f, where(w) + ": " + thread_name(f) + " reached __syncthreads (" + site(file, line) +
                            ") while lanes " + hex(c.arrived) + " of its warp wait for it in " + op_name(c.op) +
                            " (" + site(c.file, c.line) + ")");
  if (w.at_barrier == 0) {
    w.bar_file = file;
    w.bar_line = line;
  } else if (line != w.bar_line || std::strcmp(file, w.bar_file) != 0) {
    abort_fiber(w, f, where(w) + ": threads wait at different __syncthreads: " + site(w.bar_file, w.bar_line) +
                          " and " + site(file, line) + " (" + thread_name(f) + ")");
  }
  f.state = State::kBarrier;
  ++w.at_barrier;
  if (w.at_barrier + w.exited == w.n) {
    if (w.exited)
      abort_fiber(w, f, where(w) + ": __syncthreads at " + site(file, line) + " is not reached by every thread: " +
                            std::to_string(w.exited) + " exited before it");
    for (unsigned i = 0; i < w.n; ++i)
      if (w.fibers[i]->state == State::kBarrier) w.fibers[i]->state = State::kReady;
    w.at_barrier = 0;
  }
  leave_fiber(w, f);
}

uint64_t warp_call(WarpOp op, unsigned mask, uint64_t value, int param, int width, const char* file, int line) {
  Worker& w = *t_worker;
  Fiber& f = *w.current;
  WarpState& ws = w.warps[f.warp];
  const unsigned bit = 1u << f.lane;
  auto fail = [&](const std::string& what) {
    abort_fiber(w, f, where(w) + ": " + op_name(op) + " at " + site(file, line) + ", " + thread_name(f) + " (lane " +
                          std::to_string(f.lane) + " of warp " + std::to_string(f.warp) + "): " + what);
  };
  if (!(mask & bit)) fail("the mask " + hex(mask) + " does not name the calling lane");
  if (mask & ~ws.exists) fail("the mask " + hex(mask) + " names lanes " + hex(mask & ~ws.exists) + " that do not exist in this block");
  if (mask & ws.exited) fail("the mask " + hex(mask) + " names lanes " + hex(mask & ws.exited) + " that have exited");
  if (width <= 0 || width > 32 || (width & (width - 1))) fail("width " + std::to_string(width) + " is not a power of 2 up to 32");
  WarpCall* call = nullptr;
  for (WarpCall& c : ws.pending) {
    if (!(c.mask & mask)) continue;
    if (c.op != op || c.mask != mask || (op != WarpOp::kSyncwarp && (c.line != line || std::strcmp(c.file, file) != 0)))
      fail("lanes " + hex(c.arrived) + " of the warp wait in a different call, " + op_name(c.op) + " at " +
           site(c.file, c.line) + " with mask " + hex(c.mask));
    call = &c;
  }
  if (!call) {
    ws.pending.push_back(WarpCall{op, mask, 0, file, line, {}, {}, {}});
    call = &ws.pending.back();
  }
  call->arrived |= bit;
  call->value[f.lane] = value;
  call->param[f.lane] = param;
  call->width[f.lane] = width;
  f.state = State::kWarp;
  if (call->arrived == call->mask) {
    uint64_t votes = 0;
    for (unsigned l = 0; l < 32; ++l)
      if ((call->mask >> l & 1u) && call->value[l]) votes |= 1ull << l;
    for (unsigned l = 0; l < 32; ++l) {
      if (!(call->mask >> l & 1u)) continue;
      Fiber& lf = *w.fibers[f.warp * 32 + l];
      const int wd = call->width[l], p = call->param[l] & 31;  // PTX reads 5 bits of the lane operand
      const int base = static_cast<int>(l) & ~(wd - 1);
      int src = static_cast<int>(l);
      switch (op) {
        case WarpOp::kShfl: src = base + (call->param[l] & (wd - 1)); break;
        case WarpOp::kShflUp: src = static_cast<int>(l) - p < base ? static_cast<int>(l) : static_cast<int>(l) - p; break;
        case WarpOp::kShflDown: src = static_cast<int>(l) + p >= base + wd ? static_cast<int>(l) : static_cast<int>(l) + p; break;
        case WarpOp::kShflXor: {
          // A lane may read an earlier segment; past the end of its own it keeps its value.
          const int j = static_cast<int>(l) ^ p;
          src = j >= base + wd ? static_cast<int>(l) : j;
          break;
        }
        default: break;
      }
      if (!(call->mask >> src & 1u))
        fail("lane " + std::to_string(l) + " reads lane " + std::to_string(src) + ", which the mask " + hex(call->mask) +
             " does not name (its value is undefined on a GPU)");
      switch (op) {
        case WarpOp::kBallot: lf.warp_result = votes; break;
        case WarpOp::kAny: lf.warp_result = votes != 0; break;
        case WarpOp::kAll: lf.warp_result = votes == call->mask; break;
        case WarpOp::kSyncwarp: lf.warp_result = 0; break;
        default: lf.warp_result = call->value[src]; break;
      }
      lf.state = State::kReady;
    }
    ws.pending.erase(ws.pending.begin() + (call - ws.pending.data()));
  }
  leave_fiber(w, f);
  return f.warp_result;
}

// A GPU promises only that the caller is among the lanes __activemask returns: which others
// happen to be converged with it is the scheduler's business. The emulator returns the
// caller alone, the most diverged answer, so code that takes the mask for "the whole warp"
// (NVIDIA's documented misuse) fails here rather than on some future GPU.
unsigned active_lanes() { return 1u << t_worker->current->lane; }

void* block_shared_place(const void* key, size_t bytes) {
  Worker& w = *t_worker;
  for (auto& kv : w.shared_vars)
    if (kv.first == key) return w.arena.data() + kv.second;
  const size_t off = w.shared_top;
  const size_t top = (off + bytes + 15) & ~size_t(15);
  if (top > w.smem_limit)
    abort_fiber(w, *w.current, where(w) + ": shared memory of " + std::to_string(top) + " bytes (static " +
                                   std::to_string(top - ((w.spec->dynamic_smem + 15) & ~size_t(15))) + " + dynamic " +
                                   std::to_string(w.spec->dynamic_smem) + ") exceeds the block's limit of " +
                                   std::to_string(w.smem_limit) + " bytes");
  std::memset(w.arena.data() + off, 0xFF, bytes);
  w.shared_vars.emplace_back(key, off);
  w.shared_top = top;
  return w.arena.data() + off;
}

void* dynamic_shared_base() { return t_worker->arena.data(); }

std::string kernel_name_from(const char* pretty) {
  // GCC: "const char* gw::emu::kernel_name() [with auto Kernel = gw::fill_kernel; ...]"
  std::string s(pretty);
  const std::string key = "Kernel = ";
  size_t a = s.find(key);
  if (a == std::string::npos) return s;
  a += key.size();
  size_t b = s.find_first_of(";]", a);
  std::string name = s.substr(a, b == std::string::npos ? std::string::npos : b - a);
  if (name.size() > 1 && name[0] == '&') name.erase(0, 1);
  return name;
}

void set_max_dynamic_smem(const void* fn, size_t bytes) {
  std::lock_guard<std::mutex> lk(g_attr_mu);
  for (auto& kv : g_max_dynamic_smem)
    if (kv.first == fn) {
      kv.second = bytes;
      return;
    }
  g_max_dynamic_smem.emplace_back(fn, bytes);
}

/// GATEWISE_EMU_KERNEL_LOG=<file>: each kernel (template arguments included) is appended to
/// the file the first time this process launches it, so a suite's kernel coverage can be read.
void log_kernel(const char* name) {
  static const char* path = std::getenv("GATEWISE_EMU_KERNEL_LOG");
  if (!path || !*path) return;
  static std::mutex mu;
  static std::vector<std::string> seen;
  std::lock_guard<std::mutex> lk(mu);
  if (std::find(seen.begin(), seen.end(), name) != seen.end()) return;
  seen.emplace_back(name);
  if (FILE* f = std::fopen(path, "a")) {
    std::fprintf(f, "%s\n", name);
    std::fclose(f);
  }
}

void run_launch(const LaunchSpec& s) {
  log_kernel(s.kernel);
  const size_t optin = opted_in_smem(s.fn);
  check_config(s, optin);
  const Schedule sched = schedule();
  const uint64_t blocks = static_cast<uint64_t>(s.grid.x) * s.grid.y * s.grid.z;
  std::mutex err_mu;
  std::string first_error;
  std::atomic<bool> failed{false};
  DeviceAccess access;
  auto run_range = [&](int64_t lo, int64_t hi) {
    Worker& w = this_worker();
    w.smem_limit = optin ? kOptinSmemLimit : kStaticSmemLimit;
    for (int64_t b = lo; b < hi && !failed.load(std::memory_order_relaxed); ++b) {
      // Reverse order runs the blocks backwards too.
      const uint64_t id = sched.order == Schedule::kReverse ? blocks - 1 - static_cast<uint64_t>(b) : static_cast<uint64_t>(b);
      const uint3 bidx{static_cast<unsigned>(id % s.grid.x), static_cast<unsigned>((id / s.grid.x) % s.grid.y),
                       static_cast<unsigned>(id / (static_cast<uint64_t>(s.grid.x) * s.grid.y))};
      run_block(w, s, bidx, sched, sched.seed * 0x9E3779B97F4A7C15ull + id);
      if (!w.error.empty()) {
        std::lock_guard<std::mutex> lk(err_mu);
        if (first_error.empty()) first_error = w.error;
        failed = true;
      }
    }
  };
  if (blocks == 1 || sched.threads == 1) run_range(0, static_cast<int64_t>(blocks));
  else parallel_for(0, static_cast<int64_t>(blocks), 1, run_range);
  if (!first_error.empty()) GW_THROW(kCuda, "emulated CUDA: ", first_error);
}

void check_pointer_arg(const char* kernel, int index, const void* p) {
  if (!p || in_device_mapping(p) || is_pinned(p)) return;
  GW_THROW(kCuda, "emulated CUDA: launch of kernel ", kernel, ": argument ", index, " is the host pointer ", p,
           ", which a GPU cannot dereference (cudaErrorIllegalAddress once the kernel touches it)");
}

}  // namespace gw::emu
