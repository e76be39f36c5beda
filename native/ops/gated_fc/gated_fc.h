// gated_fc — the gated fully-connected layer of POSO-MLP and PPNet, forward and backward.
// W is (out, in) as in PyTorch; one gate value per sample and unit; C = scale.
//   lazy  (default):  z = x·Wᵀ + b            y = C · gate ⊙ act(z)       gate (B, out)
//   eager:            xg = C · gate ⊙ x        z = xg·Wᵀ + b   y = act(z)  gate (B, in)
// act: identity, relu, leaky_relu (slope leaky_slope), sigmoid, tanh, gelu (exact erf form),
// the formulas of activation/act_math.h on both devices.
//
// Tensors (float32, contiguous row-major, all on the op's device; B = rows, the leading
// dims of x flattened):
//   x (B, in)   gate (B, out) lazy | (B, in) eager   weight (out, in)   bias (out) or null
//   y (B, out)                             forward output
//   z (B, out)                             pre-activation, saved for backward
//   xg (B, in)                             eager only: C · gate ⊙ x, saved for backward (dW)
//   dy (B, out)                            gradient of y
//   dx (B, in), dgate (like gate)          activation gradients: OVERWRITTEN (=)
//   dweight (out, in), dbias (out)         parameter gradients: ACCUMULATED (+=)
// Outputs must not overlap inputs or each other.
//
// forward
//   lazy:  one GEMM; bias, act and the gate multiply run in its epilogue (gemm.h: gate,
//          gate_scale) on the tile before its single store: y = C·gate ⊙ act(z), z = pre.
//          z may be null (inference).
//   eager: one fused pass xg = C·gate⊙x (xg required: it is the GEMM's input), then the GEMM
//          with bias and act in its epilogue (z = pre, may be null).
// backward (every output may be null: not computed; dz below is internal scratch)
//   lazy:  one fused pass over (B, out) reading dy, gate, z:
//            dz = C·gate·dy·act′(z)   dgate = C·act(z)·dy   dbias += Σ_rows dz
//          then dx = dz·W and dweight += dzᵀ·x (GEMMs). z is required.
//   eager: dz = dy·act′(z) (one pass, with dbias += Σ_rows dz; none for identity without
//          bias: dz is dy), dweight += dzᵀ·xg (xg required when dweight is wanted);
//          dxg = dz·W then one fused pass dx = C·gate⊙dxg, dgate = C·x⊙dxg. Without dgate the
//          gate is applied in dxg's GEMM epilogue instead (no pass). z is required unless
//          act is identity.
// Determinism: dbias sums rows in chunks fixed by the shape alone (never the thread count or
// the GPU) and adds the chunks' partials in order, in double: results are bit-identical run
// to run on a device. CPU and CUDA agree to rounding.
#pragma once
#include <cstdint>

#include "../../core/dtype.h"
#include "../../core/stream.h"

namespace gw {

enum class GatePlacement : int { kLazy = 0, kEager = 1 };

struct GatedFcArgs {
  int64_t rows = 0;                                 ///< B: samples (x's leading dims flattened)
  int64_t in = 0;                                   ///< input units
  int64_t out = 0;                                  ///< output units
  GatePlacement placement = GatePlacement::kLazy;   ///< gate on the outputs (lazy) or inputs (eager)
  Act act = Act::kIdentity;                         ///< activation
  float leaky_slope = 0.01f;                        ///< negative-side slope of leaky_relu
  float scale = 1.f;                                ///< C, the gate's correction factor
  const float* x = nullptr;                         ///< (B, in)
  const float* gate = nullptr;                      ///< (B, out) lazy | (B, in) eager
  const float* weight = nullptr;                    ///< (out, in)
  const float* bias = nullptr;                      ///< (out) or null
};

/// Forward outputs.
struct GatedFcOut {
  float* y = nullptr;   ///< (B, out), written
  float* z = nullptr;   ///< (B, out) or null: the pre-activation, written (backward needs it)
  float* xg = nullptr;  ///< eager: (B, in), written (required); lazy: unused
};

/// Backward inputs saved by the forward, and the gradients to produce (null: not wanted).
struct GatedFcGrads {
  const float* dy = nullptr;  ///< (B, out)
  const float* z = nullptr;   ///< (B, out): forward's z (optional for eager identity)
  const float* xg = nullptr;  ///< eager: (B, in), forward's xg (needed for dweight)
  float* dx = nullptr;        ///< (B, in), overwritten
  float* dgate = nullptr;     ///< like gate, overwritten
  float* dweight = nullptr;   ///< (out, in), accumulated
  float* dbias = nullptr;     ///< (out), accumulated
};

}  // namespace gw

namespace gw::cpu {
void gated_fc_forward(const GatedFcArgs& args, const GatedFcOut& out);
void gated_fc_backward(const GatedFcArgs& args, const GatedFcGrads& grads);
}  // namespace gw::cpu

namespace gw::cuda {
void gated_fc_forward(const GatedFcArgs& args, const GatedFcOut& out, Stream stream);
void gated_fc_backward(const GatedFcArgs& args, const GatedFcGrads& grads, Stream stream);
}  // namespace gw::cuda
