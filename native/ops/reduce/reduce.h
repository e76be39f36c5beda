// reduce — reductions over one axis, over broadcast dims, and over everything.
//
// Axis reductions view x as (outer, n, inner) and reduce the middle axis:
//   sum:  out[o, k] = Σ_j x[o, j, k]
//   mean: out[o, k] = Σ_j x[o, j, k] / n                 (NaN when n == 0)
//   max:  out[o, k] = max_j x[o, j, k], indices[o, k] = the first j that attains it
//   min:  likewise with min.  NaN wins (propagates) and its first j is the index.
//     x: (outer, n, inner) float32   out: (outer, inner) float32
//     indices: (outer, inner) int64, written for max/min (may be null: then not written),
//              ignored for sum/mean. max/min need n ≥ 1.
// reduce_axis_backward (activation-gradient semantics: gx is overwritten):
//   sum:  gx[o, j, k] = gout[o, k];   mean: gout[o, k] / n
//   max/min: gx[o, j, k] = gout[o, k] if j == indices[o, k] else 0   (indices required)
//
// sum_to_shape — the backward of broadcasting: out = alpha · Σ over the dims in which
// out_shape (broadcastable to in_shape, NumPy rules) has extent 1 or is missing.
//     x: in_shape float32   out: out_shape float32 (overwritten)
//
// sum_all:      out[0] = Σ_i x[i]            x: (n)   out: (1), 0 when n == 0
// sum_squares:  out[0] = Σ_i x[i]²           (gradient clipping)
// count_nonfinite: number of NaN/±Inf elements of x (returned to the host).
//
// Accuracy and determinism: CPU sums accumulate in double over a partition that depends
// only on the sizes (never on the thread count), so results are bit-identical from run to
// run. CUDA sums accumulate in double per thread, combine with warp shuffles and fixed
// shared-memory trees, and full reductions run in two passes: no atomics anywhere.
// The CUDA versions of sum_to_shape / sum_all / sum_squares / count_nonfinite take
// scratch memory from the caching allocator, freed in stream order: they assume the
// process-wide compute stream (the only stream gatewise launches on).
#pragma once
#include <cstdint>

#include "../../core/stream.h"
#include "../binary/broadcast.h"

namespace gw {
enum class ReduceOp : int { kSum = 0, kMean = 1, kMax = 2, kMin = 3 };
}

namespace gw::cpu {
void reduce_axis(ReduceOp op, const float* x, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* indices);
void reduce_axis_backward(ReduceOp op, const float* gout, const int64_t* indices, int64_t outer, int64_t n,
                          int64_t inner, float* gx);
void sum_to_shape(const float* x, const Dims& in_shape, const Dims& out_shape, float* out, float alpha);
void sum_all(const float* x, int64_t n, float* out);
void sum_squares(const float* x, int64_t n, float* out);
int64_t count_nonfinite(const float* x, int64_t n);
}  // namespace gw::cpu

namespace gw::cuda {
void reduce_axis(ReduceOp op, const float* x, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* indices,
                 Stream stream);
void reduce_axis_backward(ReduceOp op, const float* gout, const int64_t* indices, int64_t outer, int64_t n,
                          int64_t inner, float* gx, Stream stream);
void sum_to_shape(const float* x, const Dims& in_shape, const Dims& out_shape, float* out, float alpha,
                  Stream stream);
void sum_all(const float* x, int64_t n, float* out, Stream stream);
void sum_squares(const float* x, int64_t n, float* out, Stream stream);
int64_t count_nonfinite(const float* x, int64_t n, Stream stream);
}  // namespace gw::cuda
