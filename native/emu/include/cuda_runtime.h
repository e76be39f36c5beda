// gatewise — the emulated device's stand-in for <cuda_runtime.h> (GW_CUDA=EMU builds put
// native/emu/include first on the include path): the device language of kernels and the
// runtime API, both served on the CPU.
#pragma once
#include "../cuda_emu.h"
#include "../runtime_api.h"
