// reduce_plan — sum_to_shape's plan, shared by the CPU and CUDA twins.
// A collapsed reduce plan (broadcast.h) is split into the kept dims (they enumerate out in
// row-major order, so out's offset is the output index itself) and the reduced dims, each
// a list of (extent, input stride). The innermost collapsed dim decides the loop shape:
//   inner_reduced: it is reduced, a contiguous run of `run` elements per reduced index
//   otherwise:     it is kept, `run` contiguous outputs share every reduced index.
#pragma once
#include <cstdint>

#include "../binary/broadcast.h"

#include "../../core/hd.h"

namespace gw {

struct DimList {
  int n = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
  int64_t count = 1;  ///< Π size

  /// Input offset of the idx-th index of this (row-major) index space.
  GW_HD int64_t offset(int64_t idx) const {
    if (n == 1) return idx * stride[0];  // the common case: no division
    int64_t off = 0;
    for (int i = n - 1; i >= 0; --i) {
      int64_t q = idx / size[i];
      off += (idx - q * size[i]) * stride[i];
      idx = q;
    }
    return off;
  }
};

struct SumToShapePlan {
  DimList kept;          ///< outer kept dims (the innermost excluded when it is kept)
  DimList reduced;       ///< outer reduced dims (the innermost excluded when it is reduced)
  bool inner_reduced = false;
  int64_t run = 1;       ///< extent of the innermost collapsed dim (stride 1 in x)
  int64_t out_numel = 1;
  int64_t in_numel = 1;
  bool any_reduced = false;
};

inline SumToShapePlan make_sum_to_shape_plan(const Dims& in, const Dims& out) {
  BroadcastPlan p = make_reduce_plan(in, out);
  SumToShapePlan s;
  s.in_numel = in.numel();
  s.out_numel = out.numel();
  if (p.ndim == 0) return s;  // one element
  int last = p.ndim - 1;
  s.inner_reduced = p.sb[last] == 0;
  s.run = p.size[last];
  for (int i = 0; i < last; ++i) {
    DimList& l = p.sb[i] == 0 ? s.reduced : s.kept;
    l.size[l.n] = p.size[i];
    l.stride[l.n] = p.sa[i];
    l.count *= p.size[i];
    ++l.n;
  }
  s.any_reduced = s.inner_reduced || s.reduced.n > 0;
  return s;
}

}  // namespace gw
