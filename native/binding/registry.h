// gatewise binding — the list of op groups. Each group lives in ops_<group>.cpp and
// defines register_<group>(env, exports); add a line here when a group is added.
#pragma once
#include <napi.h>

#include <vector>

namespace gw::binding {

using Register = void (*)(Napi::Env, Napi::Object);

void register_tensor(Napi::Env, Napi::Object);

inline std::vector<Register> op_groups() {
  return {
      register_tensor,
  };
}

}  // namespace gw::binding
