// broadcast — NumPy broadcasting of up to 8 dims, turned into a small index plan that
// kernels take by value (no heap, no Tensor).
//
//   Dims                a shape as a fixed array
//   broadcast_dims(a,b) the broadcast shape; throws ERR_GATEWISE_SHAPE when a and b clash
//   BroadcastPlan       out = broadcast(a, b) with element strides of a and b per out dim
//                       (stride 0 where that operand is broadcast). Size-1 dims are dropped
//                       and adjacent dims merged while both operands stay linear across
//                       them, so (M, N) + (N) becomes 2 dims, (M, N) + (M, N) 1 dim and
//                       (M, N) + (1) 1 dim with b stride 0.
// The same plan serves sum_to_shape (the backward of broadcasting): a = the input, b = the
// reduced output, and a dim with b stride 0 is a reduced dim.
#pragma once
#include <cstdint>

#include "../../core/error.h"

namespace gw {

constexpr int kMaxDims = 8;

struct Dims {
  int ndim = 0;
  int64_t d[kMaxDims] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= d[i];
    return n;
  }
};

inline Dims make_dims(const int64_t* shape, int ndim) {
  GW_CHECK(ndim >= 0 && ndim <= kMaxDims, kShape, "at most ", kMaxDims, " dims are supported but received ", ndim);
  Dims r;
  r.ndim = ndim;
  for (int i = 0; i < ndim; ++i) r.d[i] = shape[i];
  return r;
}

inline bool same_dims(const Dims& a, const Dims& b) {
  if (a.ndim != b.ndim) return false;
  for (int i = 0; i < a.ndim; ++i)
    if (a.d[i] != b.d[i]) return false;
  return true;
}

/// The NumPy broadcast of a and b (right-aligned; a dim of 1 stretches).
inline Dims broadcast_dims(const Dims& a, const Dims& b) {
  Dims r;
  r.ndim = a.ndim > b.ndim ? a.ndim : b.ndim;
  for (int i = 0; i < r.ndim; ++i) {
    int ia = a.ndim - r.ndim + i, ib = b.ndim - r.ndim + i;
    int64_t da = ia >= 0 ? a.d[ia] : 1, db = ib >= 0 ? b.d[ib] : 1;
    GW_CHECK(da == db || da == 1 || db == 1, kShape, "shapes cannot be broadcast together: dim ", i, " is ", da,
             " in the first and ", db, " in the second");
    r.d[i] = da == 1 ? db : da;
  }
  return r;
}

struct BroadcastPlan {
  int ndim = 0;                 ///< collapsed dims (0 when out has one element)
  int64_t size[kMaxDims] = {};  ///< out extent per collapsed dim
  int64_t sa[kMaxDims] = {};    ///< element stride of a per dim (0 = broadcast)
  int64_t sb[kMaxDims] = {};    ///< element stride of b per dim (0 = broadcast)
  int64_t numel = 1;            ///< elements of out
};

inline BroadcastPlan make_broadcast_plan(const Dims& a, const Dims& b) {
  Dims out = broadcast_dims(a, b);
  BroadcastPlan p;
  p.numel = out.numel();
  // Contiguous strides of a and b, right-aligned onto out; 0 where the operand has extent 1.
  int64_t ra = 1, rb = 1;
  int64_t size[kMaxDims], sa[kMaxDims], sb[kMaxDims];
  for (int i = out.ndim - 1; i >= 0; --i) {
    int ia = a.ndim - out.ndim + i, ib = b.ndim - out.ndim + i;
    int64_t da = ia >= 0 ? a.d[ia] : 1, db = ib >= 0 ? b.d[ib] : 1;
    size[i] = out.d[i];
    sa[i] = da == 1 ? 0 : ra;
    sb[i] = db == 1 ? 0 : rb;
    ra *= da;
    rb *= db;
  }
  // Keep dims of extent > 1, merging each into the one inside it when both strides are linear.
  for (int i = 0; i < out.ndim; ++i) {
    if (size[i] == 1) continue;
    if (p.ndim > 0) {
      int j = p.ndim - 1;  // the kept dim outside dim i
      if (p.sa[j] == sa[i] * size[i] && p.sb[j] == sb[i] * size[i]) {
        p.size[j] *= size[i];
        p.sa[j] = sa[i];
        p.sb[j] = sb[i];
        continue;
      }
    }
    p.size[p.ndim] = size[i];
    p.sa[p.ndim] = sa[i];
    p.sb[p.ndim] = sb[i];
    ++p.ndim;
  }
  return p;
}

/// Plan for reducing `in` to `out` (out broadcastable to in, broadcast(in, out) == in):
/// sa = in strides, sb = out strides, sb == 0 marks a reduced dim.
inline BroadcastPlan make_reduce_plan(const Dims& in, const Dims& out) {
  GW_CHECK(out.ndim <= in.ndim, kShape, "cannot reduce ", in.ndim, " dims to ", out.ndim);
  for (int i = 0; i < out.ndim; ++i) {
    int64_t di = in.d[in.ndim - out.ndim + i], dout = out.d[i];
    GW_CHECK(dout == di || dout == 1, kShape, "output dim ", i, " is ", dout, " but the input's matching dim is ",
             di, "; it must be equal or 1");
  }
  return make_broadcast_plan(in, out);
}

}  // namespace gw
