// gatewise — errors.
// Every failure in native code is a gw::Error carrying a stable code (ERR_GATEWISE_*),
// a message and the file:line that raised it. The binding turns it into a JS Error with
// `code`; nothing in native code ever calls exit() or abort().
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace gw {

// Stable error codes; the JS side maps each to a typed error class (lib/errors.ts).
enum class ErrorCode {
  kShape,      ///< ERR_GATEWISE_SHAPE: shapes do not agree
  kDType,      ///< ERR_GATEWISE_DTYPE: wrong element type
  kArgument,   ///< ERR_GATEWISE_ARGUMENT: any other bad argument
  kDevice,     ///< ERR_GATEWISE_DEVICE: tensors on different devices, or no such device
  kDisposed,   ///< ERR_GATEWISE_DISPOSED: tensor used after dispose()
  kOom,        ///< ERR_GATEWISE_OOM: out of host or device memory
  kCuda,       ///< ERR_GATEWISE_CUDA: a CUDA runtime error
  kNoCuda,     ///< ERR_GATEWISE_NO_CUDA: CUDA asked for but not built or no device
  kFormat,     ///< ERR_GATEWISE_FORMAT: serialized data that is corrupt, truncated or of another version
  kInternal,   ///< ERR_GATEWISE_INTERNAL: a broken invariant (a bug)
};

const char* error_code_name(ErrorCode c);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& msg, const char* file, int line)
      : std::runtime_error(msg), code_(code), where_(std::string(file) + ":" + std::to_string(line)) {}
  ErrorCode code() const { return code_; }
  const std::string& where() const { return where_; }

 private:
  ErrorCode code_;
  std::string where_;
};

namespace detail {
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace gw

#define GW_THROW(code, ...) throw ::gw::Error(::gw::ErrorCode::code, ::gw::detail::cat(__VA_ARGS__), __FILE__, __LINE__)
#define GW_CHECK(cond, code, ...) \
  do {                            \
    if (!(cond)) GW_THROW(code, __VA_ARGS__); \
  } while (0)
