#include "error.h"

namespace gw {

const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::kShape: return "ERR_GATEWISE_SHAPE";
    case ErrorCode::kDType: return "ERR_GATEWISE_DTYPE";
    case ErrorCode::kArgument: return "ERR_GATEWISE_ARGUMENT";
    case ErrorCode::kDevice: return "ERR_GATEWISE_DEVICE";
    case ErrorCode::kDisposed: return "ERR_GATEWISE_DISPOSED";
    case ErrorCode::kOom: return "ERR_GATEWISE_OOM";
    case ErrorCode::kCuda: return "ERR_GATEWISE_CUDA";
    case ErrorCode::kNoCuda: return "ERR_GATEWISE_NO_CUDA";
    case ErrorCode::kFormat: return "ERR_GATEWISE_FORMAT";
    case ErrorCode::kInternal: return "ERR_GATEWISE_INTERNAL";
  }
  return "ERR_GATEWISE_INTERNAL";
}

}  // namespace gw
