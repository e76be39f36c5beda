// gatewise binding — per-environment state (one per Node thread that loads the addon,
// so worker_threads each get their own).
#pragma once
#include <napi.h>

namespace gw::binding {

struct AddonData {
  Napi::FunctionReference tensor_ctor;
};

}  // namespace gw::binding
