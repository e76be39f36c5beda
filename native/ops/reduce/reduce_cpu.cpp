// reduce — CPU twin and test oracle. See reduce.h.
#include <cmath>
#include <vector>

#include "../../core/parallel.h"
#include "../../core/simd.h"
#include "reduce.h"
#include "reduce_plan.h"

namespace gw::cpu {

static constexpr int64_t kChunk = 1 << 15;  ///< elements per partial sum in full reductions
static constexpr int64_t kTile = 512;       ///< columns per task in column reductions

// ---- vectorizable inner loops (8 double lanes, combined in a fixed order)

GW_CPU_CLONES static double sum_run(const float* GW_RESTRICT x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += x[i + k];
  for (int k = 0; i < n; ++i, ++k) acc[k] += x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

GW_CPU_CLONES static double sumsq_run(const float* GW_RESTRICT x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(x[i + k]) * x[i + k];
  for (int k = 0; i < n; ++i, ++k) acc[k] += static_cast<double>(x[i]) * x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

GW_CPU_CLONES static void add_run(double* GW_RESTRICT acc, const float* GW_RESTRICT x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
}

GW_CPU_CLONES static int64_t nonfinite_run(const float* GW_RESTRICT x, int64_t n) {
  int64_t c = 0;
  for (int64_t i = 0; i < n; ++i) c += !std::isfinite(x[i]);
  return c;
}

/// true when v should replace best (max: larger, min: smaller; NaN beats every number;
/// on ties the earlier index stays).
template <bool kMax>
static inline bool better(float v, float best) {
  if (v != v) return best == best;
  return kMax ? v > best : v < best;
}

// ---- full reductions: fixed chunks, partials added in order

template <typename F>
static double chunked_sum(int64_t n, F run) {
  int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(static_cast<size_t>(chunks));
  parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      int64_t b = c * kChunk, e = b + kChunk < n ? b + kChunk : n;
      part[c] = run(b, e - b);
    }
  });
  double s = 0;
  for (double p : part) s += p;
  return s;
}

void sum_all(const float* x, int64_t n, float* out) {
  out[0] = static_cast<float>(chunked_sum(n, [&](int64_t b, int64_t len) { return sum_run(x + b, len); }));
}

void sum_squares(const float* x, int64_t n, float* out) {
  out[0] = static_cast<float>(chunked_sum(n, [&](int64_t b, int64_t len) { return sumsq_run(x + b, len); }));
}

int64_t count_nonfinite(const float* x, int64_t n) {
  return static_cast<int64_t>(
      chunked_sum(n, [&](int64_t b, int64_t len) { return static_cast<double>(nonfinite_run(x + b, len)); }));
}

// ---- one axis

template <bool kMax>
static void arg_rows(const float* x, int64_t outer, int64_t n, float* out, int64_t* idx) {
  parallel_for(0, outer, 1 + kChunk / n, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      const float* row = x + o * n;
      float best = row[0];
      int64_t bi = 0;
      for (int64_t j = 1; j < n; ++j)
        if (better<kMax>(row[j], best)) best = row[j], bi = j;
      out[o] = best;
      if (idx) idx[o] = bi;
    }
  });
}

template <bool kMax>
static void arg_cols(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* idx) {
  int64_t tiles = (inner + kTile - 1) / kTile;
  parallel_for(0, outer * tiles, 1, [&](int64_t lo, int64_t hi) {
    float best[kTile];
    int64_t bi[kTile];
    for (int64_t t = lo; t < hi; ++t) {
      int64_t o = t / tiles, k0 = (t % tiles) * kTile, len = inner - k0 < kTile ? inner - k0 : kTile;
      const float* base = x + o * n * inner + k0;
      for (int64_t k = 0; k < len; ++k) best[k] = base[k], bi[k] = 0;
      for (int64_t j = 1; j < n; ++j) {
        const float* row = base + j * inner;
        for (int64_t k = 0; k < len; ++k)
          if (better<kMax>(row[k], best[k])) best[k] = row[k], bi[k] = j;
      }
      for (int64_t k = 0; k < len; ++k) {
        out[o * inner + k0 + k] = best[k];
        if (idx) idx[o * inner + k0 + k] = bi[k];
      }
    }
  });
}

static void sum_axis(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, double scale) {
  if (inner == 1) {
    parallel_for(0, outer, 1 + kChunk / (n + 1), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) out[o] = static_cast<float>(sum_run(x + o * n, n) * scale);
    });
    return;
  }
  int64_t tiles = (inner + kTile - 1) / kTile;
  parallel_for(0, outer * tiles, 1, [&](int64_t lo, int64_t hi) {
    double acc[kTile];
    for (int64_t t = lo; t < hi; ++t) {
      int64_t o = t / tiles, k0 = (t % tiles) * kTile, len = inner - k0 < kTile ? inner - k0 : kTile;
      for (int64_t k = 0; k < len; ++k) acc[k] = 0;
      for (int64_t j = 0; j < n; ++j) add_run(acc, x + (o * n + j) * inner + k0, len);
      for (int64_t k = 0; k < len; ++k) out[o * inner + k0 + k] = static_cast<float>(acc[k] * scale);
    }
  });
}

void reduce_axis(ReduceOp op, const float* x, int64_t outer, int64_t n, int64_t inner, float* out, int64_t* indices) {
  if (outer == 0 || inner == 0) return;
  switch (op) {
    case ReduceOp::kSum: sum_axis(x, outer, n, inner, out, 1.0); return;
    case ReduceOp::kMean: sum_axis(x, outer, n, inner, out, n ? 1.0 / static_cast<double>(n) : NAN); return;
    case ReduceOp::kMax:
    case ReduceOp::kMin: {
      GW_CHECK(n > 0, kShape, "max/min over an axis of length 0");
      bool mx = op == ReduceOp::kMax;
      if (inner == 1) mx ? arg_rows<true>(x, outer, n, out, indices) : arg_rows<false>(x, outer, n, out, indices);
      else mx ? arg_cols<true>(x, outer, n, inner, out, indices) : arg_cols<false>(x, outer, n, inner, out, indices);
      return;
    }
  }
  GW_THROW(kArgument, "unknown reduce op ", static_cast<int>(op));
}

void reduce_axis_backward(ReduceOp op, const float* gout, const int64_t* indices, int64_t outer, int64_t n,
                          int64_t inner, float* gx) {
  bool arg = op == ReduceOp::kMax || op == ReduceOp::kMin;
  GW_CHECK(!arg || indices, kArgument, "max/min backward needs the indices of the forward pass");
  float scale = op == ReduceOp::kMean ? 1.0f / static_cast<float>(n) : 1.0f;
  parallel_for(0, outer * n, 1 + kChunk / (inner + 1), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t o = r / n, j = r % n;
      const float* g = gout + o * inner;
      float* dst = gx + r * inner;
      if (arg) {
        const int64_t* id = indices + o * inner;
        for (int64_t k = 0; k < inner; ++k) dst[k] = id[k] == j ? g[k] : 0.0f;
      } else {
        for (int64_t k = 0; k < inner; ++k) dst[k] = g[k] * scale;
      }
    }
  });
}

// ---- sum_to_shape

void sum_to_shape(const float* x, const Dims& in_shape, const Dims& out_shape, float* out, float alpha) {
  SumToShapePlan p = make_sum_to_shape_plan(in_shape, out_shape);
  const int64_t m = p.out_numel;
  if (m == 0) return;
  if (p.in_numel == 0) {  // reducing over an empty dim
    for (int64_t o = 0; o < m; ++o) out[o] = 0.0f;
    return;
  }
  if (m == 1) {
    out[0] = static_cast<float>(alpha * chunked_sum(p.in_numel, [&](int64_t b, int64_t len) { return sum_run(x + b, len); }));
    return;
  }
  if (!p.any_reduced) {  // same number of elements: a scaled copy
    parallel_for(0, m, kChunk, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) out[i] = x[i] * alpha;
    });
    return;
  }
  if (p.inner_reduced) {
    // Each output sums reduced.count contiguous runs of p.run elements.
    int64_t per = p.reduced.count * p.run;
    parallel_for(0, m, 1 + kChunk / per, [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        const float* base = x + p.kept.offset(o);
        double acc = 0;
        for (int64_t r = 0; r < p.reduced.count; ++r) acc += sum_run(base + p.reduced.offset(r), p.run);
        out[o] = static_cast<float>(acc * alpha);
      }
    });
    return;
  }
  // Innermost kept: rows of p.run contiguous outputs; every reduced index adds one input row.
  // Split the reduced range into chunks (a count from the sizes only) and add partials in order.
  const int64_t K = p.run, R = p.reduced.count, rows = p.kept.count;
  int64_t chunks = (R * K) >> 16;
  chunks = chunks < 1 ? 1 : chunks > 64 ? 64 : chunks;
  chunks = chunks > R ? R : chunks;
  const int64_t per_chunk = (R + chunks - 1) / chunks;
  const int64_t tiles = (K + kTile - 1) / kTile;
  std::vector<double> part(static_cast<size_t>(chunks * m));
  parallel_for(0, rows * tiles * chunks, 1, [&](int64_t lo, int64_t hi) {
    double acc[kTile];
    for (int64_t t = lo; t < hi; ++t) {
      int64_t c = t % chunks, rt = t / chunks, tile = rt % tiles, row = rt / tiles;
      int64_t k0 = tile * kTile, len = K - k0 < kTile ? K - k0 : kTile;
      int64_t r0 = c * per_chunk, r1 = r0 + per_chunk < R ? r0 + per_chunk : R;
      for (int64_t k = 0; k < len; ++k) acc[k] = 0;
      const float* base = x + p.kept.offset(row) + k0;
      for (int64_t r = r0; r < r1; ++r) add_run(acc, base + p.reduced.offset(r), len);
      double* dst = part.data() + c * m + row * K + k0;
      for (int64_t k = 0; k < len; ++k) dst[k] = acc[k];
    }
  });
  parallel_for(0, m, kChunk, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      double s = 0;
      for (int64_t c = 0; c < chunks; ++c) s += part[c * m + o];
      out[o] = static_cast<float>(s * alpha);
    }
  });
}

}  // namespace gw::cpu
