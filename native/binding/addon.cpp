// gatewise binding — module entry. Context-aware (Napi::Addon), so the addon loads in
// worker_threads too; each op group registers its functions from its own file.
#include <napi.h>

#include "addon_data.h"
#include "registry.h"
#include "tensor_wrap.h"

namespace gw::binding {

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  Napi::Function ctor = NativeTensor::define(env);
  data->tensor_ctor = Napi::Persistent(ctor);
  exports.Set("NativeTensor", ctor);
  for (auto reg : op_groups()) reg(env, exports);
  return exports;
}

}  // namespace gw::binding

static Napi::Object gatewise_init(Napi::Env env, Napi::Object exports) { return gw::binding::init(env, exports); }

NODE_API_MODULE(gatewise, gatewise_init)
