// multi-tensor apply — CUDA (after NVIDIA Apex / PyTorch's _foreach kernels). A fused
// optimizer call covers a list of tensors of different sizes. The host cuts every tensor
// into chunks of kChunk elements and packs, per launch, up to MaxTensors<Depth> tensors
// (one pointer per list, Depth lists: param, grad, state...) and up to kMaxBlocks chunks
// into one kernel-argument struct (< 4 KB, passed by value, so no host-to-device copy).
// One block updates one chunk; a call makes ceil(chunks / kMaxBlocks) launches or more.
//
// An elementwise op is a functor with
//   static constexpr unsigned kWrites;            bit d set: list d is written back
//   __device__ bool setup();                      once per block; false skips the block
//   __device__ void operator()(float (&x)[Depth]) const;   updates one element of each list
// multi_tensor_apply runs it float4-vectorized when every list's chunk start is 16-byte
// aligned (scalar tail), otherwise scalar. Reductions (grad_norm.cu) use for_each_batch
// with their own kernel and TensorListMeta::chunk_base to index per-chunk outputs.
#pragma once
#include <cstdint>

#include "../../core/cuda_check.h"
#include "../../core/launch.cuh"
#include "../../core/stream.h"

namespace gw::mta {

constexpr int kChunk = 16384;    ///< elements per chunk (one block); 64 KB per list
constexpr int kBlock = 512;      ///< threads per block: 8 float4 iterations per thread
constexpr int kMaxBlocks = 480;  ///< chunks per launch: about one wave of 4 blocks/SM on H100

/// Tensors per launch for Depth lists, chosen so the argument struct stays under 4 KB.
template <int Depth>
struct MaxTensors {
  static constexpr int value = Depth == 1 ? 96 : Depth == 2 ? 64 : Depth == 3 ? 48 : Depth == 4 ? 36 : 30;
};

template <int Depth>
struct TensorListMeta {
  static constexpr int kTensors = MaxTensors<Depth>::value;
  float* ptr[Depth][kTensors];          ///< list d, tensor slot t (device pointers)
  int64_t numel[kTensors];              ///< elements of tensor slot t
  int block_chunk[kMaxBlocks];          ///< chunk index within its tensor, per block
  unsigned char block_tensor[kMaxBlocks];  ///< tensor slot, per block
  int64_t chunk_base;                   ///< global index of this launch's first chunk
};
static_assert(sizeof(TensorListMeta<1>) <= 3968, "kernel arguments must stay under 4 KB");
static_assert(sizeof(TensorListMeta<5>) <= 3968, "kernel arguments must stay under 4 KB");
static_assert(MaxTensors<1>::value <= 256, "block_tensor is one byte");

/// Chunks of all tensors together (the size of a per-chunk output buffer).
inline int64_t total_chunks(const int64_t* numels, int64_t count) {
  int64_t c = 0;
  for (int64_t t = 0; t < count; ++t) c += (numels[t] + kChunk - 1) / kChunk;
  return c;
}

/// Packs the tensors into TensorListMeta batches and calls launch(meta, blocks) for each.
/// lists[d][t] is tensor t of list d; empty tensors are skipped. The meta is passed to the
/// kernel by value, so it may be reused as soon as launch() returns.
template <int Depth, typename Launch>
void for_each_batch(float* const* const (&lists)[Depth], const int64_t* numels, int64_t count, Launch&& launch) {
  constexpr int kTensors = MaxTensors<Depth>::value;
  TensorListMeta<Depth> meta{};
  meta.chunk_base = 0;
  int slots = 0, blocks = 0;
  for (int64_t t = 0; t < count; ++t) {
    const int64_t n = numels[t];
    if (n <= 0) continue;
    for (int d = 0; d < Depth; ++d) meta.ptr[d][slots] = lists[d][t];
    meta.numel[slots] = n;
    ++slots;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    for (int64_t c = 0; c < chunks; ++c) {
      meta.block_tensor[blocks] = static_cast<unsigned char>(slots - 1);
      meta.block_chunk[blocks] = static_cast<int>(c);
      ++blocks;
      const bool last_chunk = c == chunks - 1;
      if (blocks == kMaxBlocks || (slots == kTensors && last_chunk)) {
        launch(meta, blocks);
        meta.chunk_base += blocks;
        blocks = 0;
        if (last_chunk) {
          slots = 0;
        } else {  // the tensor goes on in the next launch, as its slot 0
          for (int d = 0; d < Depth; ++d) meta.ptr[d][0] = meta.ptr[d][slots - 1];
          meta.numel[0] = meta.numel[slots - 1];
          slots = 1;
        }
      }
    }
  }
  if (blocks > 0) launch(meta, blocks);
}

// ---- kernels

template <int Depth, typename Op>
__global__ void __launch_bounds__(kBlock) multi_tensor_kernel(TensorListMeta<Depth> meta, Op op) {
  if (!op.setup()) return;
  const int slot = meta.block_tensor[blockIdx.x];
  const int64_t start = static_cast<int64_t>(meta.block_chunk[blockIdx.x]) * kChunk;
  const int64_t left = meta.numel[slot] - start;
  const int64_t n = left < kChunk ? left : kChunk;
  float* p[Depth];
  bool aligned = true;
#pragma unroll
  for (int d = 0; d < Depth; ++d) {
    p[d] = meta.ptr[d][slot] + start;
    aligned = aligned && (reinterpret_cast<uintptr_t>(p[d]) % 16 == 0);
  }
  const int64_t n4 = aligned ? n / 4 : 0;
  for (int64_t i = threadIdx.x; i < n4; i += kBlock) {
    float v[Depth][4];
#pragma unroll
    for (int d = 0; d < Depth; ++d) {
      const float4 r = reinterpret_cast<const float4*>(p[d])[i];
      v[d][0] = r.x, v[d][1] = r.y, v[d][2] = r.z, v[d][3] = r.w;
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      float x[Depth];
#pragma unroll
      for (int d = 0; d < Depth; ++d) x[d] = v[d][k];
      op(x);
#pragma unroll
      for (int d = 0; d < Depth; ++d) v[d][k] = x[d];
    }
#pragma unroll
    for (int d = 0; d < Depth; ++d)
      if (Op::kWrites & (1u << d)) reinterpret_cast<float4*>(p[d])[i] = make_float4(v[d][0], v[d][1], v[d][2], v[d][3]);
  }
  for (int64_t i = n4 * 4 + threadIdx.x; i < n; i += kBlock) {
    float x[Depth];
#pragma unroll
    for (int d = 0; d < Depth; ++d) x[d] = p[d][i];
    op(x);
#pragma unroll
    for (int d = 0; d < Depth; ++d)
      if (Op::kWrites & (1u << d)) p[d][i] = x[d];
  }
}

// ---- launchers

/// Applies op to every element of the tensors, one launch per batch, on `stream`.
template <int Depth, typename Op>
void multi_tensor_apply(float* const* const (&lists)[Depth], const int64_t* numels, int64_t count, const Op& op,
                        Stream stream) {
  static_assert(sizeof(TensorListMeta<Depth>) + sizeof(Op) <= 4096, "kernel arguments must stay under 4 KB");
  for_each_batch<Depth>(lists, numels, count, [&](const TensorListMeta<Depth>& meta, int blocks) {
    gw::launch<multi_tensor_kernel<Depth, Op>>(blocks, kBlock, 0, stream, meta, op);
  });
}

}  // namespace gw::mta
