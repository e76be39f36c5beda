#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <utility>
#include <mutex>
#include <thread>
#include <vector>

namespace gw {
namespace {

thread_local bool tl_inside_region = false;

/// Waits up to about kSpinMicros for pred() by spinning (a core's pause between checks), so a
/// region that follows soon after the last one — as ops of a training step do — starts without
/// a futex sleep and wake; returns whether pred() became true.
constexpr int64_t kSpinMicros = 50;

template <class Pred>
bool spin_until(Pred pred) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() >= until) return pred();
  }
}

/// A fixed pool: the caller of a region works too, workers take chunks off a shared counter.
/// Between regions a worker spins briefly, then sleeps on a condition variable. A worker joins
/// a region by taking one of its seats; when the caller has run out of chunks it closes the
/// seats and waits only for the workers that joined — a worker still waking from its sleep (on
/// a virtual machine that can take tens of microseconds) no longer holds up a small region
/// whose chunks the caller ran alone.
class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return n_; }

  void resize(int n) {
    std::lock_guard<std::mutex> region(region_mu_);
    stop();
    n_ = std::max(1, n);
    quit_.store(false);
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this, i] { loop(i); });
  }

  // Runs fn(lo, hi) over chunks; returns false if the pool is busy (caller runs serially).
  // A chunk that throws stops the handing out of chunks; once every thread is out of the
  // region, the first exception is rethrown here, on the caller's thread.
  bool run(int64_t begin, int64_t end, int64_t chunk, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock<std::mutex> region(region_mu_, std::try_to_lock);
    if (!region.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      error_ = nullptr;
      fn_ = &fn;
      begin_ = begin;
      end_ = end;
      chunk_ = chunk;
      next_.store(begin);
      finished_.store(0);
      seats_.store(n_ - 1);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    work();
    // Close the region: a worker that has not taken a seat by now never will.
    const int joined = (n_ - 1) - std::max(0, seats_.exchange(0, std::memory_order_acq_rel));
    auto all_out = [this, joined] { return finished_.load(std::memory_order_acquire) >= joined; };
    if (!spin_until(all_out)) {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, all_out);
    }
    fn_ = nullptr;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return true;
  }

 private:
  void work() {
    tl_inside_region = true;
    for (;;) {
      int64_t lo = next_.fetch_add(chunk_);
      if (lo >= end_) break;
      try {
        (*fn_)(lo, std::min(end_, lo + chunk_));
      } catch (...) {
        std::lock_guard<std::mutex> lk(error_mu_);
        if (!error_) error_ = std::current_exception();
        next_.store(end_);  // no more chunks for anyone
        break;
      }
    }
    tl_inside_region = false;
  }

  void loop(int) {
    uint64_t seen = 0;
    for (;;) {
      auto ready = [&] { return quit_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(ready)) {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, ready);
      }
      if (quit_.load()) return;
      seen = generation_.load(std::memory_order_acquire);
      if (seats_.fetch_sub(1, std::memory_order_acq_rel) <= 0) continue;  // closed: the caller finished alone
      work();
      finished_.fetch_add(1, std::memory_order_acq_rel);
      std::lock_guard<std::mutex> lk(mu_);
      done_cv_.notify_one();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      quit_.store(true);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int n_ = 1;
  std::vector<std::thread> workers_;
  std::mutex region_mu_, mu_, error_mu_;
  std::exception_ptr error_;  ///< the region's first exception (under error_mu_ while it runs)
  std::condition_variable cv_, done_cv_;
  std::atomic<bool> quit_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> seats_{0};     ///< workers that may still join the open region
  std::atomic<int> finished_{0};  ///< workers that joined the region and left it
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t begin_ = 0, end_ = 0, chunk_ = 1;
  std::atomic<int64_t> next_{0};
};

int default_threads() {
  if (const char* s = std::getenv("GATEWISE_NUM_THREADS")) {
    int n = std::atoi(s);
    if (n >= 1 && n <= 256) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min(hc, 256u));
}

Pool& pool() {
  static Pool* p = new Pool(default_threads());  // leaked on purpose: no join at process exit
  return *p;
}

}  // namespace

SerialRegion::SerialRegion() : saved_(tl_inside_region) { tl_inside_region = true; }
SerialRegion::~SerialRegion() { tl_inside_region = saved_; }

int num_threads() { return pool().size(); }
void set_num_threads(int n) { pool().resize(std::clamp(n, 1, 256)); }

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  int64_t n = end - begin;
  grain = std::max<int64_t>(1, grain);
  int threads = tl_inside_region ? 1 : num_threads();
  if (threads == 1 || n <= grain) {
    fn(begin, end);
    return;
  }
  // About four chunks per thread balances uneven work without much scheduling cost.
  int64_t chunk = std::max(grain, (n + 4 * threads - 1) / (4 * threads));
  if (!pool().run(begin, end, chunk, fn)) fn(begin, end);
}

}  // namespace gw
