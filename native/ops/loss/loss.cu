// loss — CUDA. See loss.h.
// Reductions are deterministic: a grid fixed by n (≤ kMaxPartials blocks) accumulates per
// thread in float64 over a fixed stride, reduces each block in a fixed tree and writes one
// partial per block; a one-block kernel then sums the partials the same way and writes the
// result. No float atomics. Partials live in a scratch buffer from the caching allocator
// (freed in stream order). Backward of kMean with weights reduces Σ w the same way and
// reads it on the device, so no call waits for the GPU.
#include <cstdint>

#include "../../core/allocator.h"
#include "../../core/cuda_check.h"
#include "../../core/cuda_warp.cuh"
using gw::warp_sum;
#include "../../core/launch.cuh"
#include "loss.h"
#include "loss_math.h"

namespace {
constexpr int kBlock = 256;
constexpr int kReduceBlock = 512;
constexpr int kMaxPartials = 512;

/// Blocks of the first reduction pass: a function of n alone.
int partial_blocks(int64_t n) {
  int64_t b = (n + 4 * kReduceBlock - 1) / (4 * kReduceBlock);
  return static_cast<int>(b < 1 ? 1 : (b > kMaxPartials ? kMaxPartials : b));
}

/// Sum over the block in a fixed order; the result is valid in thread 0.
__device__ double block_sum(double v) {
  GW_SHARED(double[32], scratch);
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[wid] = v;
  __syncthreads();
  double t = 0;
  if (wid == 0) t = warp_sum(lane < nw ? scratch[lane] : 0.0);
  __syncthreads();
  return t;
}
}  // namespace

// ---- kernels

/// partials[2b] = Σ w_i f(z_i, y_i), partials[2b + 1] = Σ w_i over block b's share.
template <typename F>
__global__ void loss_partials_kernel(F f, const float* __restrict__ z, const float* __restrict__ y,
                                     const float* __restrict__ w, int64_t n, bool want_loss, double* partials) {
  double l = 0, ws = 0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    const float wi = w ? w[i] : 1.f;
    if (want_loss) l += static_cast<double>(wi) * f.value(z[i], y[i]);
    ws += wi;
  }
  l = block_sum(l);
  ws = block_sum(ws);
  if (threadIdx.x == 0) {
    partials[2 * blockIdx.x] = l;
    partials[2 * blockIdx.x + 1] = ws;
  }
}

/// One block: out[0] = Σ loss partials (kSum) or Σ loss / Σ weight (kMean, 0 when Σ w = 0).
/// With `weight_out` set, writes Σ weight there as a float instead.
__global__ void loss_finish_kernel(const double* __restrict__ partials, int count, bool mean, float* out,
                                   float* weight_out) {
  double l = 0, ws = 0;
  for (int b = threadIdx.x; b < count; b += blockDim.x) {
    l += partials[2 * b];
    ws += partials[2 * b + 1];
  }
  l = block_sum(l);
  ws = block_sum(ws);
  if (threadIdx.x == 0) {
    if (weight_out) *weight_out = static_cast<float>(ws);
    else *out = static_cast<float>(mean ? (ws == 0 ? 0.0 : l / ws) : l);
  }
}

template <typename F>
__global__ void loss_elementwise_kernel(F f, const float* __restrict__ z, const float* __restrict__ y,
                                        const float* __restrict__ w, int64_t n, float* __restrict__ out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride)
    out[i] = (w ? w[i] : 1.f) * f.value(z[i], y[i]);
}

/// gz_i = g_i · w_i · f'(z_i, y_i) / D. per_element: g_i = gout[i], else gout[0].
/// D = *denom_dev when given (0 → gradient 0), else denom_host.
template <typename F>
__global__ void loss_backward_kernel(F f, const float* __restrict__ z, const float* __restrict__ y,
                                     const float* __restrict__ w, int64_t n, const float* __restrict__ gout,
                                     bool per_element, const float* __restrict__ denom_dev, float denom_host,
                                     float* __restrict__ gz) {
  const float d = denom_dev ? *denom_dev : denom_host;
  const float c = per_element ? 1.f : (d == 0.f ? 0.f : gout[0] / d);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    const float g = per_element ? gout[i] : c;
    gz[i] = g * (w ? w[i] : 1.f) * f.grad(z[i], y[i]);
  }
}

// ---- launchers

namespace gw::cuda {

namespace {

/// A stream-ordered scratch buffer from the caching allocator.
class Scratch {
 public:
  explicit Scratch(size_t bytes) : bytes_(bytes), p_(mem_alloc(Device::kCuda, bytes)) {}
  ~Scratch() { mem_free(Device::kCuda, p_, bytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  size_t bytes_;
  void* p_;
};

/// Runs both reduction passes; writes the reduced loss to out[0], or Σ w to weight_out.
template <typename F>
void reduce(const F& f, const float* z, const float* y, const float* w, int64_t n, bool mean, float* out,
            float* weight_out, Stream stream) {
  const int blocks = partial_blocks(n);
  Scratch partials(sizeof(double) * 2 * blocks);
  gw::launch<loss_partials_kernel<F>>(blocks, kReduceBlock, 0, stream, f, z, y, w, n, weight_out == nullptr,
                                      partials.as<double>());
  gw::launch<loss_finish_kernel>(1, kReduceBlock, 0, stream, partials.as<double>(), blocks, mean, out, weight_out);
}

template <typename F>
void forward(const F& f, const float* z, const float* y, const float* w, int64_t n, Reduction red, float* out,
             Stream stream) {
  if (red == Reduction::kNone) {
    if (n == 0) return;
    gw::launch<loss_elementwise_kernel<F>>(grid_for(n), kBlock, 0, stream, f, z, y, w, n, out);
    return;
  }
  reduce(f, z, y, w, n, red == Reduction::kMean, out, nullptr, stream);  // n = 0 writes 0
}

template <typename F>
void backward(const F& f, const float* z, const float* y, const float* w, int64_t n, Reduction red, const float* gout,
              float* gz, Stream stream) {
  if (n == 0) return;
  const bool per_element = red == Reduction::kNone;
  if (red == Reduction::kMean && w) {
    Scratch denom(sizeof(float));
    reduce(f, z, y, w, n, true, nullptr, denom.as<float>(), stream);
    gw::launch<loss_backward_kernel<F>>(grid_for(n), kBlock, 0, stream, f, z, y, w, n, gout, false, denom.as<float>(),
                                        0.f, gz);
  } else {
    const float d = red == Reduction::kMean ? static_cast<float>(n) : 1.f;
    gw::launch<loss_backward_kernel<F>>(grid_for(n), kBlock, 0, stream, f, z, y, w, n, gout, per_element, nullptr, d,
                                        gz);
  }
}

}  // namespace

void bce_with_logits_forward(const float* z, const float* y, const float* w, float pos_weight, int64_t n,
                             Reduction red, float* out, Stream stream) {
  forward(loss::Bce{pos_weight}, z, y, w, n, red, out, stream);
}
void bce_with_logits_backward(const float* z, const float* y, const float* w, float pos_weight, int64_t n,
                              Reduction red, const float* gout, float* gz, Stream stream) {
  backward(loss::Bce{pos_weight}, z, y, w, n, red, gout, gz, stream);
}
void mse_forward(const float* z, const float* y, const float* w, int64_t n, Reduction red, float* out, Stream stream) {
  forward(loss::Mse{}, z, y, w, n, red, out, stream);
}
void mse_backward(const float* z, const float* y, const float* w, int64_t n, Reduction red, const float* gout,
                  float* gz, Stream stream) {
  backward(loss::Mse{}, z, y, w, n, red, gout, gz, stream);
}

}  // namespace gw::cuda
