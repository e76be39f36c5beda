// binary — element-wise binary ops with NumPy broadcasting (up to 8 dims).
//   out = op(a, b),  out shape = broadcast(a_shape, b_shape)
//   add a+b   sub a−b   mul a·b   div a/b   maximum max(a,b)   minimum min(a,b)   pow a^b
//     a: a_shape float32   b: b_shape float32   out: broadcast shape float32
// Fast paths (after broadcast.h collapses dims): same shape (one flat loop, float4 on
// CUDA), b a scalar, and a (M, N) with b (N) — the bias case. out may alias a or b when
// that operand already has the out shape (in-place ops).
//
// binary_backward, given gout (out shape):
//   ga = sum_to_shape(gout · ∂out/∂a, a_shape)   gb = sum_to_shape(gout · ∂out/∂b, b_shape)
//   add: 1, 1   sub: 1, −1   mul: b, a   div: 1/b, −a/b²
//   maximum: a ≥ b → a, else b (ties send the gradient to a); minimum: a ≤ b → a, else b
//   pow: b·a^(b−1) (0 where b == 0), out·ln a (0 where a == 0 and b ≥ 0)
// ga / gb may be null (not wanted); when given they are overwritten (input-gradient
// semantics). `out` (the forward result) is optional, used by pow to skip a recompute.
// Reductions over broadcast dims are deterministic (reduce.h: no float atomics).
// The CUDA backward takes scratch of out's size from the caching allocator when an
// operand is broadcast and the op is not add/sub.
#pragma once
#include <cstdint>

#include "../../core/stream.h"
#include "broadcast.h"

namespace gw {
enum class BinaryOp : int { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kMaximum = 4, kMinimum = 5, kPow = 6 };
}

namespace gw::cpu {
void binary(BinaryOp op, const float* a, const Dims& a_shape, const float* b, const Dims& b_shape, float* out);
void binary_backward(BinaryOp op, const float* gout, const float* a, const Dims& a_shape, const float* b,
                     const Dims& b_shape, const float* out, float* ga, float* gb);
}  // namespace gw::cpu

namespace gw::cuda {
void binary(BinaryOp op, const float* a, const Dims& a_shape, const float* b, const Dims& b_shape, float* out,
            Stream stream);
void binary_backward(BinaryOp op, const float* gout, const float* a, const Dims& a_shape, const float* b,
                     const Dims& b_shape, const float* out, float* ga, float* gb, Stream stream);
}  // namespace gw::cuda
