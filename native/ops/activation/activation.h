// activation — element-wise activations (gw::Act) and their backward.
//   y[i] = act(x[i])          x, y: (n) float32; y may alias x (in place)
//   identity x   relu max(x, 0)   leaky_relu x ≥ 0 ? x : slope·x   sigmoid 1/(1+e^−x)
//   tanh   gelu x·Φ(x) = ½x(1 + erf(x/√2))  (exact form, PyTorch's default)
// activation_backward: gx[i] = gout[i] · act′   (overwritten: input-gradient semantics)
//   identity 1   relu [y > 0]   leaky_relu [x > 0] or slope   sigmoid y(1−y)   tanh 1−y²
//   gelu Φ(x) + x·φ(x)
// The derivative comes from y where that is cheaper and x where it must:
//   relu, sigmoid, tanh: y if given, else x;  leaky_relu: x if given, else y (needs slope ≥ 0
//   then, since y > 0 ⇔ x > 0 only for non-negative slopes);  gelu: x required.
// relu′(0) = 0 and leaky_relu′(0) = slope, as in PyTorch. gx may alias gout.
// act_math.h exposes the same formulas as inline host/device functions for fused epilogues.
#pragma once
#include <cstdint>

#include "../../core/dtype.h"
#include "../../core/stream.h"

namespace gw::cpu {
void activation(Act act, float slope, const float* x, float* y, int64_t n);
void activation_backward(Act act, float slope, const float* gout, const float* x, const float* y, float* gx,
                         int64_t n);
}  // namespace gw::cpu

namespace gw::cuda {
void activation(Act act, float slope, const float* x, float* y, int64_t n, Stream stream);
void activation_backward(Act act, float slope, const float* gout, const float* x, const float* y, float* gx,
                         int64_t n, Stream stream);
}  // namespace gw::cuda
