// layout — copies that change where elements live: permute (transpose), concat, slice along
// an axis and its backward, index_select of rows and its backward (index_add).
//
// Element types: permute, concat, slice_axis and index_select move elements of any size in
// {1, 4, 8} bytes (uint8, float32/int32, int64); the backward ops that accumulate are float32.
// All tensors are contiguous row-major and live on the op's device.
//
//   permute        out[j_0..j_{d-1}] = x[i] with i_{perm[k]} = j_k
//                    x: shape (d ≤ 8 dims), out: shape[perm[0]], …, shape[perm[d-1]]
//                    Size-1 dims are dropped and dims that stay adjacent are merged first;
//                    a (batched) swap of the last two dims runs as a tiled transpose.
//   slice_axis     out[o, a, r] = x[o, start + a, r]        (overwrites out)
//                    x: (outer, axis_len, inner), out: (outer, len, inner)
//   slice_axis_backward
//                  gx[o, start + a, r] += gout[o, a, r]     (ACCUMULATES; float32)
//                    gout: (outer, len, inner), gx: (outer, axis_len, inner)
//                  It is the backward of slice_axis and of concat (one call per input).
//   concat         out[o, off_k + a, r] = inputs[k][o, a, r] (overwrites out)
//                    inputs[k]: (outer, lens[k], inner), out: (outer, Σ lens, inner)
//   index_select_rows
//                  out[i, :] = table[idx[i], :]             (overwrites out)
//                    table: (rows, cols), idx: (n) int64 or int32, out: (n, cols)
//   index_add_rows gtable[idx[i], :] += gout[i, :]          (ACCUMULATES; float32)
//                    gout: (n, cols), idx: (n), gtable: (rows, cols)
//
// Index checks: every idx[i] must lie in [0, rows). The CPU ops check all indices before
// writing anything and throw ERR_GATEWISE_ARGUMENT naming the first bad position and value.
// The CUDA ops never clamp: the kernel records the first bad position in a device flag
// (atomicMin) and skips that row; the launcher then waits for the stream, reads the flag
// and throws the same error. That costs one stream synchronization per call (8 bytes back).
// The CUDA index_add_rows uses float atomicAdd, so with repeated indices its sums are not
// bit-reproducible run to run; the CPU twin is deterministic (rows summed in index order).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../../core/stream.h"

namespace gw {
constexpr int kMaxPermuteDims = 8;
}

namespace gw::cpu {
void permute(const void* x, void* out, const int64_t* shape, const int* perm, int ndim, size_t elem_size);
void slice_axis(const void* x, void* out, int64_t outer, int64_t axis_len, int64_t inner, int64_t start,
                int64_t len, size_t elem_size);
void slice_axis_backward(const float* gout, float* gx, int64_t outer, int64_t axis_len, int64_t inner,
                         int64_t start, int64_t len);
void concat(const void* const* inputs, const int64_t* lens, int n_inputs, void* out, int64_t outer, int64_t inner,
            size_t elem_size);
void index_select_rows(const void* table, int64_t rows, int64_t cols, const int64_t* idx64, const int32_t* idx32,
                       int64_t n, void* out, size_t elem_size);
void index_add_rows(const float* gout, int64_t n, int64_t cols, const int64_t* idx64, const int32_t* idx32,
                    float* gtable, int64_t rows);
}  // namespace gw::cpu

namespace gw::cuda {
void permute(const void* x, void* out, const int64_t* shape, const int* perm, int ndim, size_t elem_size,
             Stream stream);
void slice_axis(const void* x, void* out, int64_t outer, int64_t axis_len, int64_t inner, int64_t start,
                int64_t len, size_t elem_size, Stream stream);
void slice_axis_backward(const float* gout, float* gx, int64_t outer, int64_t axis_len, int64_t inner,
                         int64_t start, int64_t len, Stream stream);
void concat(const void* const* inputs, const int64_t* lens, int n_inputs, void* out, int64_t outer, int64_t inner,
            size_t elem_size, Stream stream);
void index_select_rows(const void* table, int64_t rows, int64_t cols, const int64_t* idx64, const int32_t* idx32,
                       int64_t n, void* out, size_t elem_size, Stream stream);
void index_add_rows(const float* gout, int64_t n, int64_t cols, const int64_t* idx64, const int32_t* idx32,
                    float* gtable, int64_t rows, Stream stream);
}  // namespace gw::cuda
