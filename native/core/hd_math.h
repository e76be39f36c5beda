// gatewise — hd_math: the transcendental functions that the shared formulas (act_math.h,
// unary_math.h, loss_math.h) call. In CUDA device code they are CUDA's own (libdevice expf,
// tanhf, …); on the host they are gw::vm's (vec_math.h), which vectorize inside
// GW_CPU_CLONES loops where libm calls would not. One formula per op, two backends.
#pragma once
#include <cmath>

#include "hd.h"
#include "vec_math.h"

#ifdef __CUDA_ARCH__
#define GW_FM_PICK(host, device) device
#else
#define GW_FM_PICK(host, device) host
#endif

namespace gw::fm {

GW_HD float exp(float x) { return GW_FM_PICK(vm::exp, ::expf)(x); }
GW_HD float log(float x) { return GW_FM_PICK(vm::log, ::logf)(x); }
GW_HD float log1p(float x) { return GW_FM_PICK(vm::log1p, ::log1pf)(x); }
GW_HD float tanh(float x) { return GW_FM_PICK(vm::tanh, ::tanhf)(x); }
GW_HD float erf(float x) { return GW_FM_PICK(vm::erf, ::erff)(x); }
/// 1 / (1 + e⁻ˣ). The host form, (x < 0 ? e : 1)/(1 + e) with e = e^−|x|, also keeps the
/// subnormal results for x < −87.
GW_HD float sigmoid(float x) {
#ifdef __CUDA_ARCH__
  return 1.0f / (1.0f + ::expf(-x));
#else
  return vm::sigmoid(x);
#endif
}

}  // namespace gw::fm

#undef GW_FM_PICK
