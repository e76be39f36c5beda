// gatewise binding — measured ceilings for the benchmarks (bench/ceilings.ts).
#include "../ops/stream/stream.h"
#include "napi_util.h"
#include "registry.h"

namespace gw::binding {

// streamTriadGBs(device, elements, reps) → GB/s of a[i] = b[i] + s·c[i] (STREAM counting).
GW_BINDING(stream_triad) {
  Device dev = arg_device(info, 0, "device");
  int64_t n = arg_int(info, 1, "elements");
  int64_t reps = arg_int(info, 2, "reps");
  GW_CHECK(n >= 1024, kArgument, "Expected at least 1024 for elements but received ", n);
  GW_CHECK(reps >= 1 && reps <= 1000, kArgument, "Expected an integer from 1 to 1000 for reps but received ", reps);
  double gbs = GW_DISPATCH(dev, stream_triad_gbs, n, static_cast<int>(reps));
  return Napi::Number::New(info.Env(), gbs);
}

void register_bench(Napi::Env env, Napi::Object exports) { def(env, exports, "streamTriadGBs", stream_triad); }

static const Registration reg(register_bench);

}  // namespace gw::binding
