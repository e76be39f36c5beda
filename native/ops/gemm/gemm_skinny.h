// gemm — the skinny path: one batch item whose M or N is at most kSkinnyMax (matrix-vector
// products, logit layers and their gradients). Packing into MR×NR tiles would multiply the
// work by up to NR; instead each output is a dot product (or a sum of axpys when the long
// operand is stored K-major), reading each operand once. Same math and epilogue as gemm.h.
#pragma once
#include <cstdint>

#include "gemm.h"

namespace gw::cpu::gemm_detail {

constexpr int64_t kSkinnyMax = 4;

/// One batch item: a, b, c, bias (its (n)), pre and gate (each null or this item's (m, n)) point at the
/// item's matrices.
void gemm_skinny(const GemmArgs& g, const float* a, const float* b, float* c, const float* bias, float* pre,
                 const float* gate);

}  // namespace gw::cpu::gemm_detail
