// gatewise — CUDA stream handle, usable from headers that must compile without CUDA.
// gw::Stream is the same type as cudaStream_t; nullptr is the legacy default stream.
#pragma once

struct CUstream_st;
struct CUevent_st;
namespace gw {
using Stream = CUstream_st*;
using Event = CUevent_st*;  ///< the same type as cudaEvent_t
}
