// layout — CPU twin (the readable reference). See layout.h.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "../../core/error.h"
#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "layout.h"
#include "permute_plan.h"

namespace gw::cpu {

namespace {

constexpr int64_t kTile = 32;             ///< transpose tile edge (elements)
constexpr int64_t kCopyGrainBytes = 1 << 16;  ///< bytes per parallel chunk for copies

// ---- hot loops (one per element size so that each can be cloned per ISA)
GW_CPU_CLONES void gather_strided(const uint8_t* GW_RESTRICT x, int64_t stride, uint8_t* GW_RESTRICT out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = x[j * stride];
}
GW_CPU_CLONES void gather_strided(const uint32_t* GW_RESTRICT x, int64_t stride, uint32_t* GW_RESTRICT out,
                                  int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = x[j * stride];
}
GW_CPU_CLONES void gather_strided(const uint64_t* GW_RESTRICT x, int64_t stride, uint64_t* GW_RESTRICT out,
                                  int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = x[j * stride];
}
GW_CPU_CLONES void add_into(float* GW_RESTRICT dst, const float* GW_RESTRICT src, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dst[j] += src[j];
}

template <typename T>
void transpose_tiled(const T* x, T* out, int64_t batch, int64_t rows, int64_t cols) {
  const int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
  const int64_t tiles = batch * row_tiles * col_tiles;
  parallel_for(0, tiles, std::max<int64_t>(1, 4096 / (kTile * kTile)), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      int64_t b = t / (row_tiles * col_tiles), rem = t % (row_tiles * col_tiles);
      int64_t r0 = rem / col_tiles * kTile, c0 = rem % col_tiles * kTile;
      int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      const T* xb = x + b * rows * cols;
      T* ob = out + b * rows * cols;
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) ob[c * rows + r] = xb[r * cols + c];
    }
  });
}

template <typename T>
void permute_general(const T* x, T* out, const layout::PermutePlan& p) {
  const int nd = p.ndim;
  const int64_t last = p.out_dims[nd - 1], last_stride = p.in_strides[nd - 1];
  const int64_t out_rows = p.numel / last;
  parallel_for(0, out_rows, std::max<int64_t>(1, 16384 / last), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t rem = r, base = 0;
      for (int d = nd - 2; d >= 0; --d) {
        base += rem % p.out_dims[d] * p.in_strides[d];
        rem /= p.out_dims[d];
      }
      gather_strided(x + base, last_stride, out + r * last, last);
    }
  });
}

template <typename T>
void permute_typed(const void* x, void* out, const layout::PermutePlan& p) {
  if (p.kind == layout::PermutePlan::kTranspose)
    transpose_tiled(static_cast<const T*>(x), static_cast<T*>(out), p.batch, p.rows, p.cols);
  else
    permute_general(static_cast<const T*>(x), static_cast<T*>(out), p);
}

void check_elem_size(size_t elem_size) {
  GW_CHECK(elem_size == 1 || elem_size == 4 || elem_size == 8, kDType, "layout ops move 1-, 4- or 8-byte elements, not ",
           elem_size, "-byte ones");
}

/// dst rows of `row_bytes` at stride dst_ld ← src rows at stride src_ld (bytes), `rows` rows.
void copy_rows(const char* src, int64_t src_ld, char* dst, int64_t dst_ld, int64_t rows, int64_t row_bytes) {
  if (rows == 0 || row_bytes == 0) return;
  parallel_for(0, rows, std::max<int64_t>(1, kCopyGrainBytes / row_bytes), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) std::memcpy(dst + r * dst_ld, src + r * src_ld, static_cast<size_t>(row_bytes));
  });
}

template <typename I>
void check_indices(const I* idx, int64_t n, int64_t rows) {
  for (int64_t i = 0; i < n; ++i)
    GW_CHECK(idx[i] >= 0 && idx[i] < rows, kArgument, "idx[", i, "] = ", static_cast<int64_t>(idx[i]),
             " is out of range for a table of ", rows, " rows");
}

int64_t index_at(const int64_t* idx64, const int32_t* idx32, int64_t i) { return idx64 ? idx64[i] : idx32[i]; }

}  // namespace

void permute(const void* x, void* out, const int64_t* shape, const int* perm, int ndim, size_t elem_size) {
  check_elem_size(elem_size);
  layout::PermutePlan p = layout::make_permute_plan(shape, perm, ndim);
  if (p.numel == 0) return;
  if (p.kind == layout::PermutePlan::kCopy) {
    copy_rows(static_cast<const char*>(x), 0, static_cast<char*>(out), 0, 1, p.numel * static_cast<int64_t>(elem_size));
    return;
  }
  switch (elem_size) {
    case 1: permute_typed<uint8_t>(x, out, p); break;
    case 4: permute_typed<uint32_t>(x, out, p); break;
    default: permute_typed<uint64_t>(x, out, p); break;
  }
}

void slice_axis(const void* x, void* out, int64_t outer, int64_t axis_len, int64_t inner, int64_t start,
                int64_t len, size_t elem_size) {
  check_elem_size(elem_size);
  GW_CHECK(start >= 0 && len >= 0 && start + len <= axis_len, kArgument, "slice [", start, ", ", start + len,
           ") is out of range for an axis of ", axis_len);
  const int64_t es = static_cast<int64_t>(elem_size);
  copy_rows(static_cast<const char*>(x) + start * inner * es, axis_len * inner * es, static_cast<char*>(out),
            len * inner * es, outer, len * inner * es);
}

void slice_axis_backward(const float* gout, float* gx, int64_t outer, int64_t axis_len, int64_t inner,
                         int64_t start, int64_t len) {
  GW_CHECK(start >= 0 && len >= 0 && start + len <= axis_len, kArgument, "slice [", start, ", ", start + len,
           ") is out of range for an axis of ", axis_len);
  const int64_t row = len * inner;
  if (outer == 0 || row == 0) return;
  parallel_for(0, outer, std::max<int64_t>(1, 16384 / row), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) add_into(gx + (o * axis_len + start) * inner, gout + o * row, row);
  });
}

void concat(const void* const* inputs, const int64_t* lens, int n_inputs, void* out, int64_t outer, int64_t inner,
            size_t elem_size) {
  check_elem_size(elem_size);
  const int64_t es = static_cast<int64_t>(elem_size);
  int64_t total = 0;
  for (int k = 0; k < n_inputs; ++k) total += lens[k];
  int64_t off = 0;
  for (int k = 0; k < n_inputs; ++k) {
    copy_rows(static_cast<const char*>(inputs[k]), lens[k] * inner * es, static_cast<char*>(out) + off * inner * es,
              total * inner * es, outer, lens[k] * inner * es);
    off += lens[k];
  }
}

void index_select_rows(const void* table, int64_t rows, int64_t cols, const int64_t* idx64, const int32_t* idx32,
                       int64_t n, void* out, size_t elem_size) {
  check_elem_size(elem_size);
  GW_CHECK((idx64 == nullptr) != (idx32 == nullptr), kInternal, "index_select_rows needs exactly one index array");
  if (idx64) check_indices(idx64, n, rows);
  else check_indices(idx32, n, rows);
  const int64_t row_bytes = cols * static_cast<int64_t>(elem_size);
  if (n == 0 || row_bytes == 0) return;
  const char* t = static_cast<const char*>(table);
  char* o = static_cast<char*>(out);
  parallel_for(0, n, std::max<int64_t>(1, kCopyGrainBytes / row_bytes), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      std::memcpy(o + i * row_bytes, t + index_at(idx64, idx32, i) * row_bytes, static_cast<size_t>(row_bytes));
  });
}

void index_add_rows(const float* gout, int64_t n, int64_t cols, const int64_t* idx64, const int32_t* idx32,
                    float* gtable, int64_t rows) {
  GW_CHECK((idx64 == nullptr) != (idx32 == nullptr), kInternal, "index_add_rows needs exactly one index array");
  if (idx64) check_indices(idx64, n, rows);
  else check_indices(idx32, n, rows);
  if (n == 0 || cols == 0) return;
  // Deterministic: positions sorted (stably) by target row; each target row is summed by
  // one thread in increasing position order, so repeated indices never race.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return index_at(idx64, idx32, a) < index_at(idx64, idx32, b); });
  std::vector<int64_t> group_start;  // positions in `order` where a new target row begins
  for (int64_t k = 0; k < n; ++k)
    if (k == 0 || index_at(idx64, idx32, order[k]) != index_at(idx64, idx32, order[k - 1])) group_start.push_back(k);
  group_start.push_back(n);
  const int64_t groups = static_cast<int64_t>(group_start.size()) - 1;
  parallel_for(0, groups, std::max<int64_t>(1, 16384 / cols), [&](int64_t lo, int64_t hi) {
    for (int64_t g = lo; g < hi; ++g) {
      float* dst = gtable + index_at(idx64, idx32, order[group_start[g]]) * cols;
      for (int64_t k = group_start[g]; k < group_start[g + 1]; ++k) add_into(dst, gout + order[k] * cols, cols);
    }
  });
}

}  // namespace gw::cpu
