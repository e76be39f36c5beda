// gatewise — CPU parallelism: one persistent thread pool shared by every CPU kernel.
// parallel_for splits [begin, end) into chunks of at least `grain` items and runs
// fn(lo, hi) on the pool; the calling thread takes part. Nested calls (from inside a
// chunk) and calls from a second JS thread while the pool is busy run serially, so the
// pool is safe under worker_threads.
#pragma once
#include <cstdint>
#include <functional>

namespace gw {

int num_threads();            ///< threads a parallel_for may use (the caller included)
void set_num_threads(int n);  ///< 1..256; defaults to GATEWISE_NUM_THREADS or the core count

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

/// While one lives, parallel_for on this thread runs serially: for work too small to repay
/// handing chunks to the pool (a worker that has to be woken costs more than the work).
class SerialRegion {
 public:
  SerialRegion();
  ~SerialRegion();
  SerialRegion(const SerialRegion&) = delete;
  SerialRegion& operator=(const SerialRegion&) = delete;

 private:
  bool saved_;
};

}  // namespace gw
