// gatewise — element types and devices.
#pragma once
#include <cstddef>
#include <cstdint>

namespace gw {

enum class DType : int { kF32 = 0, kI32 = 1, kI64 = 2, kU8 = 3 };
enum class Device : int { kCpu = 0, kCuda = 1 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kU8: return 1;
  }
  return 0;
}
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "float32";
    case DType::kI32: return "int32";
    case DType::kI64: return "int64";
    case DType::kU8: return "uint8";
  }
  return "?";
}
inline const char* device_name(Device d) { return d == Device::kCpu ? "cpu" : "cuda"; }

/// Activation applied in fused epilogues (GEMM, gated FC) and by the activation ops.
enum class Act : int { kIdentity = 0, kRelu = 1, kLeakyRelu = 2, kSigmoid = 3, kTanh = 4, kGelu = 5 };

}  // namespace gw
