// gatewise — how the emulated device orders its threads, read once from the environment:
//   GATEWISE_EMU_SCHEDULE = forward (default) | reverse | random[:seed]
//     the order in which a block's threads run between two synchronization points (and
//     the order of the blocks); a kernel whose result changes with it has a race;
//   GATEWISE_EMU_THREADS = n   OS threads that run blocks in parallel (default: the CPU
//     pool's size; 1 runs every block on the launching thread);
//   GATEWISE_EMU_KERNEL_LOG = file   each kernel launched is appended once (coverage).
#pragma once
#include <cstdint>

namespace gw::emu {

struct Schedule {
  enum Order { kForward, kReverse, kRandom } order = kForward;
  uint64_t seed = 0;
  int threads = 0;  ///< 0: the CPU pool's
};

const Schedule& schedule();
const char* schedule_name();  ///< e.g. "random:7", for logs

}  // namespace gw::emu
