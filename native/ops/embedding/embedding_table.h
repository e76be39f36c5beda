// EmbeddingTable — the native object behind lib/embedding/table.ts: owns the buckets, the rows
// and their metadata on one device, runs the phases of embedding.h in order, keeps the host
// counters (size, step, statistics) and serializes the rows
// (table_format.h). Every public method takes the table's mutex, so lookups from several
// threads (async calls) are applied one at a time, each as a whole.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "../../core/tensor.h"
#include "embedding.h"

namespace gw {

struct TableConfig {
  int64_t dim = 16;                ///< floats per row
  int64_t capacity = 1 << 16;      ///< rows: a hard cap
  int64_t bucket_size = kDefaultBucketSize;  ///< slots per bucket (clamped to capacity: one bucket = exact policy)
  Device device = Device::kCpu;
  PolicyParams policy;             ///< eviction order, score decay, expiry
  InitParams init;                 ///< how new rows start
  SparseOptParams optim;           ///< the rows' optimizer (fixes the state width)
  int64_t admit_after = 1;         ///< an id gets a row on its admit_after-th sighting (1: at once)
  int64_t sketch_width = 1 << 20;  ///< admission count-min sketch columns (a power of two)
  int32_t sketch_depth = 4;        ///< its rows (hash functions)
};

struct TableStats {
  int64_t lookups = 0;     ///< ids looked up (with repeats), train and eval
  int64_t hits = 0;        ///< of those, the ones whose id held a live row
  int64_t inserts = 0;     ///< rows given to new ids
  int64_t reinits = 0;     ///< expired rows re-initialized on a lookup (training)
  int64_t rejected = 0;    ///< training misses not yet admitted
  int64_t dropped = 0;     ///< admitted ids that found no row (every slot of their bucket in use this step)
  int64_t evictions = 0;   ///< rows freed to make room
  int64_t expired = 0;     ///< rows removed by evict() for expiry
  int64_t pruned = 0;      ///< rows removed by evict() for too few updates
};

/// Bytes each row costs, by what they hold (the table allocates capacity rows).
struct RowBytes {
  int64_t embedding = 0;  ///< 4·dim
  int64_t optimizer = 0;  ///< 4·state_width
  int64_t metadata = 0;   ///< RowMeta (32) + update count (4)
  int64_t index = 0;      ///< digest (1) + eviction value (8)
  int64_t total() const { return embedding + optimizer + metadata + index; }
};

/// One lookup's bookkeeping, kept by lib/ for the backward: the U distinct ids in ascending
/// order, their rows (−1: none), and the grouping of the n positions by id.
struct Prepared {
  Tensor ukeys;    ///< (U) int64
  Tensor urow;     ///< (U) int32
  Tensor inverse;  ///< (n) int32
  Tensor perm;     ///< (n) int32
  Tensor seg;      ///< (U + 1) int32
  int64_t n = 0, unique = 0;
};

class EmbeddingTable {
 public:
  explicit EmbeddingTable(const TableConfig& cfg);

  const TableConfig& config() const { return cfg_; }
  std::recursive_mutex& mutex() { return mu_; }  ///< held by every method below (lock it to chain several)
  int64_t size();
  int64_t step();
  TableStats stats();
  int64_t buckets() const { return buckets_; }
  int64_t bucket_size() const { return bucket_size_; }
  RowBytes row_bytes() const;
  int64_t memory_bytes() const;  ///< every row, and the admission sketch

  /// Deduplicates keys (n) int64 and finds their rows; in training, inserts (evicting when
  /// full) and updates metadata. `now`: wall-clock seconds. `counted`: whether the lookup
  /// counts in stats() (contains() is a query, not a lookup).
  Prepared prepare(const Tensor& keys, bool train, double now, bool counted = true);
  /// (n, dim) rows of a prepared lookup; missing ids read default_row (or zeros).
  Tensor gather(const Prepared& pr, const Tensor* default_row);
  /// (bags, dim) pooled rows; offsets (bags) int64 on the table's device; weights (n) or null.
  Tensor bag(const Prepared& pr, const Tensor& offsets, const Tensor* weights, bool mean, const Tensor* default_row);
  /// grad_unique (U, dim) from gout; and, when want_weight_grad, the per-position weight grad (n).
  std::vector<Tensor> backward(const Prepared& pr, const Tensor& gout, const Tensor* offsets, const Tensor* weights,
                               bool mean, const Tensor* default_row, bool want_weight_grad);
  /// The fused sparse step: rows (m) int32, keys (m) int64, grads (m, dim); entries with the
  /// same key are summed first when `dedup`. Then the step counter advances.
  void apply(const Tensor& rows, const Tensor& keys, const Tensor& grads, bool dedup);
  /// The rows' learning rate from now on (schedules).
  void set_lr(float lr);
  /// step += 1 without an update.
  void advance();
  /// Removes expired rows (if expired), rows with fewer than min_updates updates (if > 0),
  /// then the lowest-valued rows until size ≤ to_size (if ≥ 0). Returns rows removed.
  int64_t evict(bool expired, int32_t min_updates, int64_t to_size, double now);
  /// Every row (since_step < 0) or those changed at or after since_step, encoded.
  std::vector<uint8_t> export_rows(int64_t since_step);
  /// Upserts the rows of an export (validated first; nothing changes when it is invalid).
  /// Returns rows written.
  int64_t import_rows(const uint8_t* data, size_t bytes, double now);

 private:
  TableView view() const;
  void remove_rows(const Tensor& victims, int64_t n);
  /// The full step of a RowMeta step (steps are kept modulo 2^32 on the device).
  int64_t full_step(uint32_t s) const { return step_ - static_cast<uint32_t>(static_cast<uint32_t>(step_) - s); }
  /// The shared tail of prepare and import: find rows for ukeys (all admitted when force).
  void place_keys(Prepared& pr, bool train, bool force_admit, const Clock& c, bool counted);
  Tensor scratch(int64_t n, DType dt) const { return Tensor::empty({n}, dt, cfg_.device); }

  TableConfig cfg_;
  std::recursive_mutex mu_;
  int64_t bucket_size_ = 0, buckets_ = 0, step_ = 0, size_ = 0;
  TableStats stats_;
  Tensor digest_, value_, meta_, update_count_, weight_, state_, sketch_;
};

}  // namespace gw
