// gatewise binding — op groups register themselves. Each group lives in its own
// ops_<group>.cpp and ends with
//   static const Registration reg(register_<group>);
// so adding a group touches no shared file.
#pragma once
#include <napi.h>

#include <vector>

namespace gw::binding {

using Register = void (*)(Napi::Env, Napi::Object);

inline std::vector<Register>& op_groups() {
  static std::vector<Register> groups;
  return groups;
}

struct Registration {
  explicit Registration(Register r) { op_groups().push_back(r); }
};

}  // namespace gw::binding
