// gatewise — the emulated device's schedule options (see schedule.h).
#include "schedule.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "../core/error.h"

namespace gw::emu {
namespace {

Schedule parse() {
  Schedule s;
  if (const char* v = std::getenv("GATEWISE_EMU_SCHEDULE"); v && *v) {
    if (!std::strcmp(v, "forward")) s.order = Schedule::kForward;
    else if (!std::strcmp(v, "reverse")) s.order = Schedule::kReverse;
    else if (!std::strncmp(v, "random", 6)) {
      s.order = Schedule::kRandom;
      s.seed = v[6] == ':' ? std::strtoull(v + 7, nullptr, 10) : 1;
    } else {
      GW_THROW(kArgument, "GATEWISE_EMU_SCHEDULE must be forward, reverse or random[:seed], not '", v, "'");
    }
  }
  if (const char* t = std::getenv("GATEWISE_EMU_THREADS"); t && *t) s.threads = std::atoi(t);
  return s;
}

}  // namespace

const Schedule& schedule() {
  static const Schedule s = parse();
  return s;
}

const char* schedule_name() {
  static const std::string name = [] {
    const Schedule& s = schedule();
    if (s.order == Schedule::kReverse) return std::string("reverse");
    if (s.order == Schedule::kRandom) return "random:" + std::to_string(s.seed);
    return std::string("forward");
  }();
  return name.c_str();
}

}  // namespace gw::emu
