// gatewise binding — Options: a plain JS options object whose fields are each checked and
// named in the error; unknown fields are refused, so that a misspelt option never silently
// falls back to its default.
#pragma once
#include <napi.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>

#include "napi_util.h"

namespace gw::binding {

class Options {
 public:
  Options(const Napi::CallbackInfo& info, size_t i, const char* fn, std::initializer_list<const char*> known) {
    Napi::Value v = arg_at(info, i);
    GW_CHECK(v.IsObject() && !v.IsArray(), kArgument, "Expected an options object for ", fn,
             " but received a value of type ", type_name(v));
    obj_ = v.As<Napi::Object>();
    Napi::Array keys = obj_.GetPropertyNames();
    for (uint32_t k = 0; k < keys.Length(); ++k) {
      std::string key = keys.Get(k).ToString().Utf8Value();
      bool ok = false;
      std::string list;
      for (const char* name : known) {
        ok = ok || key == name;
        list += (list.empty() ? "" : ", ") + std::string(name);
      }
      GW_CHECK(ok, kArgument, "Unknown option ", key, " for ", fn, " (expected one of ", list, ")");
    }
  }

  /// A finite number; `def` when the field is absent or undefined, required when def is NaN.
  double number(const char* key, double def = kRequired) const {
    Napi::Value v = obj_.Get(key);
    if (v.IsUndefined()) {
      GW_CHECK(!std::isnan(def), kArgument, "Expected a finite number for options.", key, " but it is missing");
      return def;
    }
    GW_CHECK(v.IsNumber(), kArgument, "Expected a finite number for options.", key, " but received a value of type ",
             type_name(v));
    double d = v.As<Napi::Number>().DoubleValue();
    GW_CHECK(std::isfinite(d), kArgument, "Expected a finite number for options.", key, " but received ", d);
    return d;
  }

  /// An integer >= 1 (a step count); required.
  int64_t step(const char* key) const {
    double d = number(key);
    GW_CHECK(d >= 1 && d == std::floor(d) && d <= 9.0e15, kArgument, "Expected an integer >= 1 for options.", key,
             " but received ", d);
    return static_cast<int64_t>(d);
  }

  bool boolean(const char* key, bool def) const {
    Napi::Value v = obj_.Get(key);
    if (v.IsUndefined()) return def;
    GW_CHECK(v.IsBoolean(), kArgument, "Expected a boolean for options.", key, " but received a value of type ",
             type_name(v));
    return v.As<Napi::Boolean>().Value();
  }

  /// A string; `def` when absent.
  std::string string(const char* key, const char* def) const {
    Napi::Value v = obj_.Get(key);
    if (v.IsUndefined()) return def;
    GW_CHECK(v.IsString(), kArgument, "Expected a string for options.", key, " but received a value of type ",
             type_name(v));
    return v.As<Napi::String>().Utf8Value();
  }

  static constexpr double kRequired = std::numeric_limits<double>::quiet_NaN();

 private:
  Napi::Object obj_;
};

}  // namespace gw::binding
