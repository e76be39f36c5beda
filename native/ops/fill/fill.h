// fill — set every element of a float32 buffer to one value.
//   out[i] = value            out: (n) float32, on the op's device
// The simplest op; it shows the shape every op follows: this header is the contract,
// fill_cpu.cpp the readable reference, fill.cu the CUDA kernel with the same signature
// plus a trailing stream.
#pragma once
#include <cstdint>

#include "../../core/stream.h"

namespace gw::cpu {
void fill(float* out, float value, int64_t n);
}
namespace gw::cuda {
void fill(float* out, float value, int64_t n, Stream stream);
}
