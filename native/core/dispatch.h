// gatewise — CPU | CUDA dispatch. Every op declares the same function twice, in
// namespace gw::cpu and in gw::cuda (the CUDA one takes a trailing Stream), and callers
// write GW_DISPATCH(device, op_name, args...). In a CPU-only build the CUDA branch throws
// ERR_GATEWISE_NO_CUDA instead of referring to symbols that were never compiled.
#pragma once
#include "cuda_runtime.h"
#include "dtype.h"
#include "error.h"

#ifdef GW_WITH_CUDA
#define GW_DISPATCH(device, fn, ...)                                                 \
  ((device) == ::gw::Device::kCuda ? ::gw::cuda::fn(__VA_ARGS__, ::gw::cudart::compute_stream()) \
                                   : ::gw::cpu::fn(__VA_ARGS__))
#else
#define GW_DISPATCH(device, fn, ...)                                                              \
  ((device) == ::gw::Device::kCuda                                                                \
       ? throw ::gw::Error(::gw::ErrorCode::kNoCuda, "this build of gatewise has no CUDA support", \
                           __FILE__, __LINE__)                                                    \
       : ::gw::cpu::fn(__VA_ARGS__))
#endif
