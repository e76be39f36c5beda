// parallel — the thread pool behind every CPU kernel: each index of a region is run exactly
// once, whether the regions follow each other at once (the workers still spinning) or after
// a pause (the workers asleep); a chunk that throws, on the caller's thread or a worker's,
// reaches the caller as that exception and the pool runs the next region; a region inside a
// region runs inline; small regions closed while a worker is still waking; a SerialRegion keeps
// its regions on the caller.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/parallel.h"
#include "harness.h"

namespace {

/// Runs a region over n indices and checks that each ran once.
void expect_each_once(int64_t n, int64_t grain, const char* what) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  gw::parallel_for(0, n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) hits[i].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) GW_EXPECT(hits[i].load() == 1, what, ": index ", i, " ran ", hits[i].load(), " times");
}

}  // namespace

GW_TEST(parallel_runs_every_index_once) {
  const int saved = gw::num_threads();
  gw::set_num_threads(3);
  for (int r = 0; r < 200; ++r) expect_each_once(1000 + r, 7, "back to back");
  for (int r = 0; r < 5; ++r) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // past the spin: the workers sleep
    expect_each_once(5000, 16, "after a pause");
  }
  gw::set_num_threads(saved);
}

GW_TEST(parallel_rethrows_a_chunks_exception) {
  const int saved = gw::num_threads();
  gw::set_num_threads(3);
  for (int64_t bad : {0, 499, 999}) {  // the first chunk (the caller's, likely), a middle one, the last
    bool caught = false;
    try {
      gw::parallel_for(0, 1000, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i)
          if (i == bad) throw std::runtime_error("chunk " + std::to_string(i));
      });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "chunk " + std::to_string(bad);
    }
    GW_EXPECT(caught, "the exception of index ", bad, " did not reach the caller");
    expect_each_once(3000, 5, "the region after an exception");
  }
  gw::set_num_threads(saved);
}

GW_TEST(parallel_nested_region_runs_inline) {
  const int saved = gw::num_threads();
  gw::set_num_threads(2);
  std::atomic<int64_t> sum{0};
  gw::parallel_for(0, 64, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      gw::parallel_for(0, 100, 1, [&](int64_t a, int64_t b) { sum.fetch_add(b - a); });
  });
  GW_EXPECT(sum.load() == 6400, "nested regions covered ", sum.load(), " of 6400 indices");
  gw::set_num_threads(saved);
}

GW_TEST(parallel_small_regions_while_workers_wake) {
  // Regions of a few indices right after a pause: the caller often runs every chunk before a
  // sleeping worker wakes, closes the region and returns; a worker that wakes late must not run
  // a chunk of it, nor of the next one twice.
  const int saved = gw::num_threads();
  gw::set_num_threads(3);
  for (int r = 0; r < 300; ++r) {
    if (r % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    expect_each_once(2 + r % 5, 1, "a small region after a pause");
    expect_each_once(4000, 8, "a large region right after");
  }
  gw::set_num_threads(saved);
}

GW_TEST(parallel_serial_region_stays_on_the_caller) {
  const int saved = gw::num_threads();
  gw::set_num_threads(3);
  const std::thread::id me = std::this_thread::get_id();
  std::atomic<int> elsewhere{0};
  {
    gw::SerialRegion serial;
    gw::parallel_for(0, 10000, 1, [&](int64_t, int64_t) {
      if (std::this_thread::get_id() != me) elsewhere.fetch_add(1);
    });
  }
  GW_EXPECT(elsewhere.load() == 0, elsewhere.load(), " chunks ran off the caller's thread inside a SerialRegion");
  expect_each_once(10000, 1, "a region after the serial one");  // the pool is back
  gw::set_num_threads(saved);
}
