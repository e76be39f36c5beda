// stream — the memory-bandwidth ceiling benchmarks compare against (STREAM triad).
//   a[i] = b[i] + s·c[i]      a, b, c: (n) float32, allocated here on the op's device
// Returns GB/s counted as STREAM does: 3·n·4 bytes per pass (two reads, one write), the
// same convention the benchmarks use for every memory-bound kernel. Best of `reps` passes.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw::cpu {
double stream_triad_gbs(int64_t n, int reps);
}
namespace gw::cuda {
double stream_triad_gbs(int64_t n, int reps, Stream stream);
}
