// layout — the host-side plan shared by the CPU and CUDA permute: size-1 dims dropped,
// dims that stay adjacent (and in order) merged, then either a plain copy, a (batched)
// transpose of the last two dims, or the general gather.
#pragma once
#include <cstdint>

#include "../../core/error.h"
#include "layout.h"

namespace gw::layout {

struct PermutePlan {
  enum Kind { kCopy, kTranspose, kGeneral } kind = kCopy;
  int64_t numel = 0;
  int ndim = 0;                            ///< kGeneral: dims after merging (≥ 2)
  int64_t out_dims[kMaxPermuteDims] = {};  ///< kGeneral: output dims
  int64_t in_strides[kMaxPermuteDims] = {};  ///< kGeneral: x stride of output dim k
  int64_t batch = 1, rows = 0, cols = 0;   ///< kTranspose: x is (batch, rows, cols), out (batch, cols, rows)
};

inline PermutePlan make_permute_plan(const int64_t* shape, const int* perm, int ndim) {
  GW_CHECK(ndim >= 0 && ndim <= kMaxPermuteDims, kArgument, "permute supports up to ", kMaxPermuteDims,
           " dims but received ", ndim);
  bool seen[kMaxPermuteDims] = {};
  PermutePlan p;
  p.numel = 1;
  for (int k = 0; k < ndim; ++k) {
    GW_CHECK(perm[k] >= 0 && perm[k] < ndim && !seen[perm[k]], kArgument,
             "Expected a permutation of 0..", ndim - 1, " for perm but entry ", k, " is ", perm[k]);
    seen[perm[k]] = true;
    p.numel *= shape[k];
  }
  if (p.numel == 0) return p;
  // Drop size-1 dims: compact the input dims and renumber perm.
  int newid[kMaxPermuteDims];
  int64_t sh[kMaxPermuteDims];
  int nd = 0;
  for (int d = 0; d < ndim; ++d) {
    newid[d] = shape[d] == 1 ? -1 : nd;
    if (shape[d] != 1) sh[nd++] = shape[d];
  }
  int pm[kMaxPermuteDims], np = 0;
  for (int k = 0; k < ndim; ++k)
    if (newid[perm[k]] >= 0) pm[np++] = newid[perm[k]];
  // Merge runs of output dims whose input dims are consecutive: group g covers input dims
  // [first[g], first[g] + count[g]).
  int first[kMaxPermuteDims], count[kMaxPermuteDims], ng = 0;
  for (int k = 0; k < np; ++k) {
    if (ng > 0 && pm[k] == first[ng - 1] + count[ng - 1]) {
      ++count[ng - 1];
    } else {
      first[ng] = pm[k];
      count[ng] = 1;
      ++ng;
    }
  }
  if (ng <= 1) return p;  // kCopy
  // Rank groups by their place in the input to get the merged input shape and perm.
  int rank[kMaxPermuteDims];
  for (int g = 0; g < ng; ++g) {
    rank[g] = 0;
    for (int h = 0; h < ng; ++h) rank[g] += first[h] < first[g];
  }
  int64_t in_shape[kMaxPermuteDims];
  for (int g = 0; g < ng; ++g) {
    int64_t s = 1;
    for (int c = 0; c < count[g]; ++c) s *= sh[first[g] + c];
    in_shape[rank[g]] = s;
  }
  int64_t in_stride[kMaxPermuteDims];
  in_stride[ng - 1] = 1;
  for (int d = ng - 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * in_shape[d + 1];
  bool swap_last = rank[ng - 1] == ng - 2 && rank[ng - 2] == ng - 1;
  for (int g = 0; g < ng - 2 && swap_last; ++g) swap_last = rank[g] == g;
  if (swap_last && ng <= 3) {
    p.kind = PermutePlan::kTranspose;
    p.batch = ng == 3 ? in_shape[0] : 1;
    p.rows = in_shape[ng - 2];
    p.cols = in_shape[ng - 1];
    return p;
  }
  p.kind = PermutePlan::kGeneral;
  p.ndim = ng;
  for (int g = 0; g < ng; ++g) {
    p.out_dims[g] = in_shape[rank[g]];
    p.in_strides[g] = in_stride[rank[g]];
  }
  return p;
}

}  // namespace gw::layout
