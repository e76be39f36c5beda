// layout — CUDA. See layout.h for the math and the index-check policy.
// Copies move the widest unit (16, 8, 4 or 1 bytes) that the pointers, strides and row
// length all allow; the 2-D transpose goes through a padded 32×32 shared-memory tile so
// both its reads and writes are coalesced; the general permute gathers with one output
// element per thread (reads stay coalesced whenever the last dim does not move).
#include <cstdint>
#include <initializer_list>

#include "../../core/allocator.h"
#include "../../core/cuda_check.h"
#include "../../core/cuda_runtime.h"
#include "../../core/launch.cuh"
#include "layout.h"
#include "permute_plan.h"

namespace {

constexpr int kBlock = 256;
constexpr int kTile = 32, kTileRows = 8;
constexpr unsigned long long kNoBadIndex = ~0ull;

struct PermuteArgs {
  int ndim;
  int64_t out_dims[gw::kMaxPermuteDims];
  int64_t in_strides[gw::kMaxPermuteDims];
};

}  // namespace

// ---- kernels

/// dst[r * dst_ld + c] = src[r * src_ld + c] for r < rows, c < row_units (units of V).
template <typename V>
__global__ void copy_rows_kernel(const V* __restrict__ src, int64_t src_ld, V* __restrict__ dst, int64_t dst_ld,
                                 int64_t rows, int64_t row_units) {
  const int64_t n = rows * row_units;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    int64_t r = i / row_units, c = i - r * row_units;
    dst[r * dst_ld + c] = src[r * src_ld + c];
  }
}

/// gx[(o * axis_len + start) * inner + c] += gout[o * row + c], row = len * inner, in units of VEC floats.
template <int VEC>
__global__ void slice_backward_kernel(const float* __restrict__ gout, float* __restrict__ gx, int64_t outer,
                                      int64_t gx_ld, int64_t row, int64_t offset) {
  const int64_t units = row / VEC, n = outer * units;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    int64_t o = i / units, c = (i - o * units) * VEC;
    float* d = gx + o * gx_ld + offset + c;
    const float* s = gout + o * row + c;
    if constexpr (VEC == 4) {
      float4 a = *reinterpret_cast<float4*>(d);
      const float4 b = *reinterpret_cast<const float4*>(s);
      a.x += b.x; a.y += b.y; a.z += b.z; a.w += b.w;
      *reinterpret_cast<float4*>(d) = a;
    } else {
      *d += *s;
    }
  }
}

/// out (batch, cols, rows) ← x (batch, rows, cols), one 32×32 tile per block, block (32, 8).
template <typename T>
__global__ void transpose_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t batch, int64_t rows,
                                 int64_t cols) {
  GW_SHARED(T[kTile][kTile + 1], tile);
  const int64_t col_tiles = (cols + kTile - 1) / kTile, row_tiles = (rows + kTile - 1) / kTile;
  const int64_t tiles = batch * row_tiles * col_tiles;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t b = t / (row_tiles * col_tiles), rem = t - b * row_tiles * col_tiles;
    const int64_t r0 = rem / col_tiles * kTile, c0 = (rem % col_tiles) * kTile;
    const T* xb = x + b * rows * cols;
    T* ob = out + b * rows * cols;
    for (int k = threadIdx.y; k < kTile; k += kTileRows) {
      int64_t r = r0 + k, c = c0 + threadIdx.x;
      if (r < rows && c < cols) tile[k][threadIdx.x] = xb[r * cols + c];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < kTile; k += kTileRows) {
      int64_t c = c0 + k, r = r0 + threadIdx.x;
      if (r < rows && c < cols) ob[c * rows + r] = tile[threadIdx.x][k];
    }
    __syncthreads();  // the tile is reused by the next iteration
  }
}

template <typename T>
__global__ void permute_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n, PermuteArgs a) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    int64_t rem = i, off = 0;
    for (int d = a.ndim - 1; d >= 0; --d) {
      int64_t q = rem / a.out_dims[d];
      off += (rem - q * a.out_dims[d]) * a.in_strides[d];
      rem = q;
    }
    out[i] = x[off];
  }
}

template <typename I>
__device__ __forceinline__ bool index_ok(const I* idx, int64_t i, int64_t rows, unsigned long long* bad) {
  int64_t v = static_cast<int64_t>(idx[i]);
  if (v >= 0 && v < rows) return true;
  atomicMin(bad, static_cast<unsigned long long>(i));
  return false;
}

/// out[i, :] = table[idx[i], :] in units of V; a bad index records its position and is skipped.
template <typename V, typename I>
__global__ void index_select_kernel(const V* __restrict__ table, int64_t rows, int64_t row_units,
                                    const I* __restrict__ idx, int64_t n, V* __restrict__ out,
                                    unsigned long long* bad) {
  const int64_t total = n * row_units;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total; k += stride) {
    int64_t i = k / row_units, c = k - i * row_units;
    if (index_ok(idx, i, rows, bad)) out[k] = table[static_cast<int64_t>(idx[i]) * row_units + c];
  }
}

template <typename I>
__global__ void check_indices_kernel(const I* __restrict__ idx, int64_t n, int64_t rows, unsigned long long* bad) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride)
    index_ok(idx, i, rows, bad);
}

/// gtable[idx[i], c] += gout[i, c] with float atomicAdd (indices already checked).
template <typename I>
__global__ void index_add_kernel(const float* __restrict__ gout, int64_t n, int64_t cols, const I* __restrict__ idx,
                                 float* gtable) {
  const int64_t total = n * cols;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total; k += stride) {
    int64_t i = k / cols, c = k - i * cols;
    atomicAdd(gtable + static_cast<int64_t>(idx[i]) * cols + c, gout[k]);
  }
}

// ---- launchers

namespace gw::cuda {

namespace {

void check_elem_size(size_t elem_size) {
  GW_CHECK(elem_size == 1 || elem_size == 4 || elem_size == 8, kDType,
           "layout ops move 1-, 4- or 8-byte elements, not ", elem_size, "-byte ones");
}

/// Widest unit in {16, 8, 4, 1} bytes dividing every address, stride and length given.
int unit_bytes(std::initializer_list<uint64_t> values) {
  uint64_t all = 0;
  for (uint64_t v : values) all |= v;
  if (all % 16 == 0) return 16;
  if (all % 8 == 0) return 8;
  if (all % 4 == 0) return 4;
  return 1;
}

template <typename V>
void launch_copy_rows(const char* src, int64_t src_ld, char* dst, int64_t dst_ld, int64_t rows, int64_t row_bytes,
                      Stream stream) {
  const int64_t u = sizeof(V);
  gw::launch<copy_rows_kernel<V>>(grid_for(rows * (row_bytes / u)), kBlock, 0, stream, reinterpret_cast<const V*>(src),
                                  src_ld / u, reinterpret_cast<V*>(dst), dst_ld / u, rows, row_bytes / u);
}

/// Byte-level strided row copy (lds and row length in bytes).
void copy_rows(const char* src, int64_t src_ld, char* dst, int64_t dst_ld, int64_t rows, int64_t row_bytes,
               Stream stream) {
  if (rows == 0 || row_bytes == 0) return;
  switch (unit_bytes({reinterpret_cast<uintptr_t>(src), reinterpret_cast<uintptr_t>(dst),
                      static_cast<uint64_t>(src_ld), static_cast<uint64_t>(dst_ld), static_cast<uint64_t>(row_bytes)})) {
    case 16: launch_copy_rows<uint4>(src, src_ld, dst, dst_ld, rows, row_bytes, stream); break;
    case 8: launch_copy_rows<uint2>(src, src_ld, dst, dst_ld, rows, row_bytes, stream); break;
    case 4: launch_copy_rows<uint32_t>(src, src_ld, dst, dst_ld, rows, row_bytes, stream); break;
    default: launch_copy_rows<uint8_t>(src, src_ld, dst, dst_ld, rows, row_bytes, stream); break;
  }
}

template <typename T>
void launch_permute(const void* x, void* out, const layout::PermutePlan& p, Stream stream) {
  if (p.kind == layout::PermutePlan::kTranspose) {
    int64_t tiles = p.batch * ((p.rows + kTile - 1) / kTile) * ((p.cols + kTile - 1) / kTile);
    unsigned grid = tiles > kMaxGrid ? kMaxGrid : static_cast<unsigned>(tiles);
    gw::launch<transpose_kernel<T>>(grid, dim3(kTile, kTileRows), 0, stream, static_cast<const T*>(x),
                                    static_cast<T*>(out), p.batch, p.rows, p.cols);
  } else {
    PermuteArgs a{};
    a.ndim = p.ndim;
    for (int d = 0; d < p.ndim; ++d) {
      a.out_dims[d] = p.out_dims[d];
      a.in_strides[d] = p.in_strides[d];
    }
    gw::launch<permute_kernel<T>>(grid_for(p.numel), kBlock, 0, stream, static_cast<const T*>(x), static_cast<T*>(out),
                                  p.numel, a);
  }
}

/// An 8-byte device flag holding the smallest bad index position (kNoBadIndex when none).
class BadIndexFlag {
 public:
  explicit BadIndexFlag(Stream s) : stream_(s) {
    p_ = static_cast<unsigned long long*>(mem_alloc(Device::kCuda, sizeof(unsigned long long)));
    cudart::memset_device(p_, 0xFF, sizeof(unsigned long long), stream_);
  }
  ~BadIndexFlag() { mem_free(Device::kCuda, p_, sizeof(unsigned long long)); }
  BadIndexFlag(const BadIndexFlag&) = delete;
  BadIndexFlag& operator=(const BadIndexFlag&) = delete;
  unsigned long long* get() const { return p_; }

  /// Waits for the stream; throws ERR_GATEWISE_ARGUMENT naming the first bad index.
  void throw_if_set(const int64_t* idx64, const int32_t* idx32, int64_t rows) const {
    unsigned long long pos = kNoBadIndex;
    cudart::memcpy_d2h(&pos, p_, sizeof pos, stream_);
    if (pos == kNoBadIndex) return;
    int64_t value = 0;
    if (idx64) {
      cudart::memcpy_d2h(&value, idx64 + pos, sizeof value, stream_);
    } else {
      int32_t v32 = 0;
      cudart::memcpy_d2h(&v32, idx32 + pos, sizeof v32, stream_);
      value = v32;
    }
    GW_THROW(kArgument, "idx[", pos, "] = ", value, " is out of range for a table of ", rows, " rows");
  }

 private:
  Stream stream_;
  unsigned long long* p_;
};

template <typename V, typename I>
void launch_index_select(const void* table, int64_t rows, int64_t row_bytes, const I* idx, int64_t n, void* out,
                         unsigned long long* bad, Stream stream) {
  const int64_t units = row_bytes / static_cast<int64_t>(sizeof(V));
  gw::launch<index_select_kernel<V, I>>(grid_for(n * units), kBlock, 0, stream, static_cast<const V*>(table), rows,
                                        units, idx, n, static_cast<V*>(out), bad);
}

template <typename I>
void index_select_typed(const void* table, int64_t rows, int64_t row_bytes, const I* idx, int64_t n, void* out,
                        unsigned long long* bad, Stream stream) {
  switch (unit_bytes({reinterpret_cast<uintptr_t>(table), reinterpret_cast<uintptr_t>(out),
                      static_cast<uint64_t>(row_bytes)})) {
    case 16: launch_index_select<uint4>(table, rows, row_bytes, idx, n, out, bad, stream); break;
    case 8: launch_index_select<uint2>(table, rows, row_bytes, idx, n, out, bad, stream); break;
    case 4: launch_index_select<uint32_t>(table, rows, row_bytes, idx, n, out, bad, stream); break;
    default: launch_index_select<uint8_t>(table, rows, row_bytes, idx, n, out, bad, stream); break;
  }
}

}  // namespace

void permute(const void* x, void* out, const int64_t* shape, const int* perm, int ndim, size_t elem_size,
             Stream stream) {
  check_elem_size(elem_size);
  layout::PermutePlan p = layout::make_permute_plan(shape, perm, ndim);
  if (p.numel == 0) return;
  if (p.kind == layout::PermutePlan::kCopy) {
    int64_t bytes = p.numel * static_cast<int64_t>(elem_size);
    copy_rows(static_cast<const char*>(x), bytes, static_cast<char*>(out), bytes, 1, bytes, stream);
    return;
  }
  switch (elem_size) {
    case 1: launch_permute<uint8_t>(x, out, p, stream); break;
    case 4: launch_permute<uint32_t>(x, out, p, stream); break;
    default: launch_permute<uint64_t>(x, out, p, stream); break;
  }
}

void slice_axis(const void* x, void* out, int64_t outer, int64_t axis_len, int64_t inner, int64_t start,
                int64_t len, size_t elem_size, Stream stream) {
  check_elem_size(elem_size);
  GW_CHECK(start >= 0 && len >= 0 && start + len <= axis_len, kArgument, "slice [", start, ", ", start + len,
           ") is out of range for an axis of ", axis_len);
  const int64_t es = static_cast<int64_t>(elem_size);
  copy_rows(static_cast<const char*>(x) + start * inner * es, axis_len * inner * es, static_cast<char*>(out),
            len * inner * es, outer, len * inner * es, stream);
}

void slice_axis_backward(const float* gout, float* gx, int64_t outer, int64_t axis_len, int64_t inner,
                         int64_t start, int64_t len, Stream stream) {
  GW_CHECK(start >= 0 && len >= 0 && start + len <= axis_len, kArgument, "slice [", start, ", ", start + len,
           ") is out of range for an axis of ", axis_len);
  const int64_t row = len * inner, gx_ld = axis_len * inner, offset = start * inner;
  if (outer == 0 || row == 0) return;
  bool vec4 = unit_bytes({reinterpret_cast<uintptr_t>(gout), reinterpret_cast<uintptr_t>(gx),
                          static_cast<uint64_t>(row * 4), static_cast<uint64_t>(gx_ld * 4),
                          static_cast<uint64_t>(offset * 4)}) == 16;
  if (vec4)
    gw::launch<slice_backward_kernel<4>>(grid_for(outer * row / 4), kBlock, 0, stream, gout, gx, outer, gx_ld, row,
                                         offset);
  else
    gw::launch<slice_backward_kernel<1>>(grid_for(outer * row), kBlock, 0, stream, gout, gx, outer, gx_ld, row, offset);
}

void concat(const void* const* inputs, const int64_t* lens, int n_inputs, void* out, int64_t outer, int64_t inner,
            size_t elem_size, Stream stream) {
  check_elem_size(elem_size);
  const int64_t es = static_cast<int64_t>(elem_size);
  int64_t total = 0;
  for (int k = 0; k < n_inputs; ++k) total += lens[k];
  int64_t off = 0;
  for (int k = 0; k < n_inputs; ++k) {
    copy_rows(static_cast<const char*>(inputs[k]), lens[k] * inner * es, static_cast<char*>(out) + off * inner * es,
              total * inner * es, outer, lens[k] * inner * es, stream);
    off += lens[k];
  }
}

void index_select_rows(const void* table, int64_t rows, int64_t cols, const int64_t* idx64, const int32_t* idx32,
                       int64_t n, void* out, size_t elem_size, Stream stream) {
  check_elem_size(elem_size);
  GW_CHECK((idx64 == nullptr) != (idx32 == nullptr), kInternal, "index_select_rows needs exactly one index array");
  const int64_t row_bytes = cols * static_cast<int64_t>(elem_size);
  if (n == 0) return;
  BadIndexFlag bad(stream);
  if (row_bytes > 0) {
    if (idx64) index_select_typed(table, rows, row_bytes, idx64, n, out, bad.get(), stream);
    else index_select_typed(table, rows, row_bytes, idx32, n, out, bad.get(), stream);
  } else {
    if (idx64) gw::launch<check_indices_kernel<int64_t>>(grid_for(n), kBlock, 0, stream, idx64, n, rows, bad.get());
    else gw::launch<check_indices_kernel<int32_t>>(grid_for(n), kBlock, 0, stream, idx32, n, rows, bad.get());
  }
  bad.throw_if_set(idx64, idx32, rows);
}

void index_add_rows(const float* gout, int64_t n, int64_t cols, const int64_t* idx64, const int32_t* idx32,
                    float* gtable, int64_t rows, Stream stream) {
  GW_CHECK((idx64 == nullptr) != (idx32 == nullptr), kInternal, "index_add_rows needs exactly one index array");
  if (n == 0) return;
  {  // Check first, so a bad index leaves gtable untouched.
    BadIndexFlag bad(stream);
    if (idx64) gw::launch<check_indices_kernel<int64_t>>(grid_for(n), kBlock, 0, stream, idx64, n, rows, bad.get());
    else gw::launch<check_indices_kernel<int32_t>>(grid_for(n), kBlock, 0, stream, idx32, n, rows, bad.get());
    bad.throw_if_set(idx64, idx32, rows);
  }
  if (cols == 0) return;
  if (idx64) gw::launch<index_add_kernel<int64_t>>(grid_for(n * cols), kBlock, 0, stream, gout, n, cols, idx64, gtable);
  else gw::launch<index_add_kernel<int32_t>>(grid_for(n * cols), kBlock, 0, stream, gout, n, cols, idx32, gtable);
}

}  // namespace gw::cuda
