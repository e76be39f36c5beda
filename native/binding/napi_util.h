// gatewise binding — helpers shared by every op group: unwrapping tensors, reading
// scalar arguments, and turning C++ exceptions into JS errors with a `code`.
// The binding is thin: lib/ has validated every argument before it gets here; these
// checks only keep a wrong call from reaching a kernel.
#pragma once
#include <napi.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "../core/dispatch.h"
#include "../core/error.h"
#include "../core/tensor.h"

namespace gw::binding {

/// A JS Error carrying `code` (ERR_GATEWISE_*) and `nativeLocation` (file:line), e.g. to reject a promise.
Napi::Error js_error(Napi::Env env, const gw::Error& e);
/// Throws a JS Error carrying `code` (ERR_GATEWISE_*) and the native file:line.
void throw_js(Napi::Env env, const gw::Error& e);

/// Wraps a binding function body: gw::Error, std::bad_alloc and std::exception all become
/// JS errors; nothing crosses N-API unhandled.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& body) {
  Napi::Env env = info.Env();
  try {
    return body();
  } catch (const gw::Error& e) {
    throw_js(env, e);
  } catch (const std::bad_alloc&) {
    throw_js(env, gw::Error(ErrorCode::kOom, "out of host memory", __FILE__, __LINE__));
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    throw_js(env, gw::Error(ErrorCode::kInternal, e.what(), __FILE__, __LINE__));
  }
  return env.Undefined();
}

/// Defines `Napi::Value name(const Napi::CallbackInfo& info)` whose body runs guarded.
#define GW_BINDING(name)                                                                   \
  static Napi::Value name##_impl(const Napi::CallbackInfo& info);                          \
  static Napi::Value name(const Napi::CallbackInfo& info) {                                \
    return ::gw::binding::guarded(info, [&] { return name##_impl(info); });                \
  }                                                                                        \
  static Napi::Value name##_impl(const Napi::CallbackInfo& info)

/// The JS type of a value, for messages ("number", "array", ...).
const char* type_name(const Napi::Value& v);
/// The tensor behind any JS value (an argument, an array element), named in errors.
const Tensor& value_tensor(Napi::Env env, const Napi::Value& v, const std::string& name);

// ---- arguments (index i of info, `name` for the error message)
Napi::Value arg_at(const Napi::CallbackInfo& info, size_t i);  ///< undefined past the end
const Tensor& arg_tensor(const Napi::CallbackInfo& info, size_t i, const char* name);
const Tensor* arg_opt_tensor(const Napi::CallbackInfo& info, size_t i, const char* name);  ///< null/undefined → nullptr
double arg_number(const Napi::CallbackInfo& info, size_t i, const char* name);
int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* name);
bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* name);
/// A Philox seed or offset: a BigInt in [0, 2^64) or a non-negative safe integer.
uint64_t arg_u64(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* name);
Shape arg_shape(const Napi::CallbackInfo& info, size_t i, const char* name);
DType arg_dtype(const Napi::CallbackInfo& info, size_t i, const char* name);
Device arg_device(const Napi::CallbackInfo& info, size_t i, const char* name);
Act arg_act(const Napi::CallbackInfo& info, size_t i, const char* name);

/// Throws ERR_GATEWISE_ARGUMENT when the output `out` shares memory with `in`.
void check_no_overlap(const Tensor& out, const char* out_name, const Tensor& in, const char* in_name);

/// A tensor of exactly `dtype` and `shape` on ref's device (errors name `name`, `ref_name`).
void check_operand(const Tensor& t, const Shape& shape, const Tensor& ref, const char* name,
                   const char* ref_name, DType dtype = DType::kF32);

/// Each output against each input and each other output (null entries are skipped).
void check_disjoint(std::initializer_list<std::pair<const Tensor*, const char*>> outs,
                    std::initializer_list<std::pair<const Tensor*, const char*>> ins);

/// A JS handle for a new tensor (shares nothing with the caller's objects).
Napi::Value wrap(Napi::Env env, Tensor t);
/// A typed array of n elements of dtype over buf (defined in ops_tensor.cpp).
Napi::Value typed_array_of(Napi::Env env, DType dtype, size_t n, Napi::ArrayBuffer buf);

/// Registers `fn` as exports[name].
inline void def(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn) {
  exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace gw::binding
