// The GPU's single-precision FMA peak, measured: the GFLOP/s ceiling that GPU bench lines
// are reported against (bench/ceilings.ts measures the CPU's the same way; the addon has no
// GPU probe, and this one must not depend on it). A register-only loop of independent FMA
// chains on every FP32 lane; best of several timed launches. Prints one JSON object, with
// the data-sheet figure (SMs × FP32 lanes × 2 × boost clock) beside the measurement.
//   nvcc -O3 -arch=sm_90 bench/fma_peak.cu -o fma_peak && ./fma_peak
// Built by native/scripts/gpu-pack.js; run by native/scripts/gpu-check.sh.
#include <cuda_runtime.h>

#include <cstdio>

constexpr int kChains = 8;       // independent chains per thread: enough to hide FMA latency
constexpr int kIters = 4096;     // per chain and launch
constexpr int kThreads = 256;

__global__ void fma_loop(float* out, float a, float b) {
  float x[kChains];
#pragma unroll
  for (int c = 0; c < kChains; ++c) x[c] = threadIdx.x * 1e-7f + c;
  for (int i = 0; i < kIters; ++i) {
#pragma unroll
    for (int c = 0; c < kChains; ++c) x[c] = fmaf(x[c], a, b);
  }
  float s = 0;
#pragma unroll
  for (int c = 0; c < kChains; ++c) s += x[c];
  if (s == 12345.678f) out[threadIdx.x] = s;  // never true; keeps the loop alive
}

/// FP32 lanes per SM by compute capability (the data sheets' "CUDA cores").
static int lanes_per_sm(int major, int minor) {
  if (major == 8 && minor == 0) return 64;  // A100
  if (major >= 8) return 128;               // GA10x, Ada, Hopper, Blackwell
  if (major == 7) return 64;
  return 128;
}

int main() {
  int dev = 0, n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess || n == 0) {
    std::printf("{\"error\": \"no CUDA device: %s\"}\n", err != cudaSuccess ? cudaGetErrorString(err) : "none found");
    return 2;
  }
  cudaDeviceProp p;
  cudaGetDeviceProperties(&p, dev);
  int clock_khz = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev);
  float* out = nullptr;
  cudaMalloc(&out, kThreads * sizeof(float));
  const int blocks = p.multiProcessorCount * 8;  // several resident blocks per SM
  cudaEvent_t t0, t1;
  cudaEventCreate(&t0);
  cudaEventCreate(&t1);
  fma_loop<<<blocks, kThreads>>>(out, 0.999f, 1e-3f);  // warm-up (and clocks up)
  double best_ms = 1e30;
  for (int rep = 0; rep < 10; ++rep) {
    cudaEventRecord(t0);
    fma_loop<<<blocks, kThreads>>>(out, 0.999f, 1e-3f);
    cudaEventRecord(t1);
    cudaEventSynchronize(t1);
    float ms = 0;
    cudaEventElapsedTime(&ms, t0, t1);
    if (ms < best_ms) best_ms = ms;
  }
  err = cudaGetLastError();
  if (err != cudaSuccess) {
    std::printf("{\"error\": \"%s\"}\n", cudaGetErrorString(err));
    return 1;
  }
  const double flops = 2.0 * kChains * kIters * double(blocks) * kThreads;
  const double sheet = 2.0 * lanes_per_sm(p.major, p.minor) * p.multiProcessorCount * clock_khz / 1e6;
  std::printf("{\"device\": \"%s\", \"cc\": \"%d.%d\", \"sms\": %d, \"clockMHz\": %.0f, \"measuredGflops\": %.1f, \"sheetGflops\": %.1f}\n",
              p.name, p.major, p.minor, p.multiProcessorCount, clock_khz / 1e3, flops / (best_ms * 1e6), sheet);
  return 0;
}
