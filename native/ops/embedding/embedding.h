// embedding — the kernels behind EmbeddingTable: a bucketed (set-associative) hash table from
// int64 keys to rows, rows carrying the embedding, its optimizer state and metadata, eviction
// and admission, pooled lookups, and the deduplicated backward with a fused sparse optimizer step.
//
// The table (TableView, all arrays on the op's device), one entry per slot; a slot IS a row:
//   buckets   the capacity slots form nb = ceil(capacity / S) buckets of S = bucket_size slots
//             (bucket b: slots [b·S, min((b+1)·S, capacity))). A key lives only in its bucket,
//             bucket_of(mix64(key)); so a probe reads one bucket and an insert into a full
//             bucket evicts that bucket's lowest slot: the cost of a batch never depends on the
//             capacity. S ≥ capacity makes one bucket: the exact global policy.
//   digest    (capacity) uint8: 0 for an empty slot, else 8 bits of the key's hash (never 0), so
//             a probe compares the bucket's digests and reads a key only where one matches.
//   value     (capacity) uint64: the slot's eviction value (eviction_value in embedding_math.h),
//             set whenever the row is looked up, so choosing a victim reads S values, not rows.
//   meta      (capacity) RowMeta, 32 bytes: key, last lookup time and step, last change, counts.
//   update_count (capacity) int32 · weight (capacity, dim) f32 · state (capacity, state_width) f32.
//   sketch    (depth, width) uint32 count-min sketch for admission; null when admission is off.
//
// A training lookup of n keys runs these phases, in order (embedding_table.cpp):
//   emb_unique → emb_find → emb_touch(hits) → emb_insert → emb_gather | emb_bag_forward
// Every phase is deterministic given its inputs: unique keys are sorted, each bucket takes its
// new keys in ascending key order, victims are chosen by a total order (victim_less: rank,
// eviction value, slot). So a CPU and a CUDA table fed the same keys hold the same keys in the
// same slots with the same values.
//
// Conventions: parameter-like outputs (weight, state, metadata) are updated in place;
// activation-like outputs (out, grad_unique, grad_pos_weight) are OVERWRITTEN.
// Every int32 slot / position fits because capacity and n are < 2^31 (checked by the caller).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../../core/stream.h"

namespace gw {

enum class EvictPolicy : int32_t { kLru = 0, kLfu = 1, kScore = 2 };
enum class SparseOpt : int32_t { kSgd = 0, kAdagrad = 1, kAdam = 2 };
enum class InitKind : int32_t { kNormal = 0, kUniform = 1, kZeros = 2 };

/// What emb_find / emb_insert decided for each unique key.
enum EntryStatus : uint8_t {
  kHit = 0,      ///< found, live
  kReinit = 1,   ///< found but expired: the row is kept and re-initialized (training only)
  kNew = 2,      ///< absent and admitted: needs a row
  kReject = 3,   ///< absent and not admitted (or an eval-mode miss): reads the default row
  kDropped = 4,  ///< admitted, but every slot of its bucket holds a key seen this step: reads the default row
};
constexpr uint32_t status_bit(EntryStatus s) { return 1u << s; }

constexpr uint8_t kEmptySlot = 0;  ///< digest of a slot without a key
constexpr int64_t kDefaultBucketSize = 32;

/// One row's metadata: 32 bytes, so a probe that matches a digest reads the key, and a
/// lookup touches the row's times and counts, in one half cache line. Steps are kept modulo
/// 2^32 (ages are exact below 2^32 steps; the host keeps the full step).
struct alignas(32) RowMeta {
  int64_t key;
  double last_time;       ///< wall-clock seconds of the last lookup
  uint32_t last_step;     ///< step of the last lookup
  uint32_t changed_step;  ///< step the row was inserted or last updated (incremental export)
  float freq;             ///< lifetime lookups (lfu)
  float score;            ///< decayed frequency as of last_step
};
static_assert(sizeof(RowMeta) == 32, "RowMeta is half a cache line");

struct TableView {
  int64_t dim = 0;          ///< floats per embedding row
  int64_t state_width = 0;  ///< optimizer floats per row: 0 sgd, dim adagrad, 2·dim adam (m then v)
  int64_t capacity = 0;     ///< slots (= rows)
  int64_t bucket_size = 0;  ///< slots per bucket (the last bucket may have fewer)
  int64_t buckets = 0;      ///< ceil(capacity / bucket_size)
  uint8_t* digest = nullptr;
  uint64_t* value = nullptr;
  RowMeta* meta = nullptr;
  int32_t* update_count = nullptr;
  float* weight = nullptr;
  float* state = nullptr;      ///< null when state_width == 0
  uint32_t* sketch = nullptr;  ///< (sketch_depth, sketch_width), null when admission is off
  int64_t sketch_width = 0;    ///< a power of two
  int32_t sketch_depth = 0;
};

/// The table's clock: the training step and wall-clock seconds of the current lookup.
struct Clock {
  int64_t step = 0;
  double now = 0;
};

struct PolicyParams {
  EvictPolicy policy = EvictPolicy::kScore;
  float log2_decay = -0.001f;  ///< score decays by 2^log2_decay per step (≤ 0)
  int64_t ttl_steps = 0;       ///< expire rows not seen for more than this many steps (0: never)
  double ttl_seconds = 0;      ///< expire rows not seen for more than this many seconds (0: never)
};

struct InitParams {
  InitKind kind = InitKind::kNormal;
  float scale = 0.01f;      ///< normal: std; uniform: bound (values in [−scale, scale))
  uint64_t seed = 0;
  float state_init = 0.0f;  ///< AdaGrad's initial accumulator (Adam's moments start at 0)
};

struct SparseOptParams {
  SparseOpt kind = SparseOpt::kAdagrad;
  float lr = 0.05f;
  float eps = 1e-10f;
  float beta1 = 0.9f, beta2 = 0.999f;  ///< Adam
  float weight_decay = 0.0f;           ///< L2 added to the gradient
};

}  // namespace gw

// ---- the phases (CPU twins in namespace gw::cpu; the CUDA ones take the same arguments plus a
// trailing Stream, and those returning a count to the host wait for the stream).
//
//   emb_unique: Sorts and deduplicates keys (n). ukeys[0..U) ← distinct keys ascending; inverse[p] ← u with
//     ukeys[u] == keys[p]; perm[seg[u]..seg[u+1]) ← the positions of ukeys[u], ascending. Returns U. ukeys,
//     inverse, perm: (n); seg: (n + 1).
//   emb_find: Looks each unique key up in its bucket. urow[u] ← its slot or −1; status[u] ← kHit | kReinit |
//     kNew | kReject. train: an expired hit is kReinit; a miss adds its count (seg[u+1] − seg[u]) to the sketch
//     when admit_after > 1 (all adds, then all reads) and is kNew once the sketch estimate ≥ admit_after. eval:
//     nothing is written but urow/status; expired hits and misses are kReject. *hits ← the positions whose key
//     is kHit (Σ of their counts). Returns #kNew.
//   emb_touch: For each u whose status bit is in mask: the row is seen now (touch_row in embedding_math.h).
//   emb_insert: Places the kNew keys, each bucket taking its keys in ascending u (= key) order: into the
//     bucket's first empty slot, else over its lowest slot by victim_less that was not seen at c.step (an
//     eviction), else (every slot seen at c.step) the key becomes kDropped. A placed key: urow[u] ← its slot.
//     Rows of placed kNew and of kReinit entries are initialized and seen now with their count
//     (init_row in embedding_math.h). Returns #placed; *evicted ← how many of them evicted a key.
//   emb_select_victims: Up to `count` victims among the whole table's occupied slots not seen at c.step, the
//     lowest by victim_less. victims (count) ← their slots, in an order of the implementation's choosing (the
//     set is what is specified). Returns how many were found. (evict({ toSize }): not on the lookup path.)
//   emb_sweep: Occupied slots that are expired at c (when expired) or have update_count < min_updates (when
//     > 0). victims (capacity) ← those slots ascending. Returns how many.
//   emb_remove: Empties slots (n, distinct, occupied).
//   emb_gather: out[p, :] ← weight[urow[inverse[p]], :], or default_row (null: zeros) where that row is −1.
//     out: (n, dim).
//   emb_bag_forward: Pooled lookup. Bag b holds positions [offsets[b], offsets[b+1]) (the last ends at n;
//     offsets ascending, offsets[0] = 0). out[b, :] ← Σ_p w_p · row(p) (mean: divided by the bag's length; an
//     empty bag gives zeros), w_p = pos_weight[p] or 1, row(p) as in emb_gather. out: (bags, dim).
//   emb_bag_backward: Deduplicated backward. grad_unique[u, :] ← Σ_{p in perm[seg[u]..seg[u+1])} coef_p ·
//     gout[bag(p), :], summed in that order. Plain lookup (offsets null): bag(p) = p, coef_p = 1, gout (n,
//     dim). Bags: coef_p = w_p / (mean ? len(bag(p)) : 1), gout (bags, dim). grad_pos_weight (nullable, (n)) ←
//     ⟨gout[bag(p)], row(p)⟩ / (mean ? len : 1). grad_unique: (U, dim).
//   emb_sparse_update: Fused sparse step. Group s is entries perm[seg[s]..seg[s+1]) (perm null: entry s
//     alone, nseg = m). j0 = first entry; r = rows[j0]. Skipped when r < 0, the slot is empty or holds another
//     key than keys[j0] (the id lost its row since the lookup). Else g = Σ grads[j, :] over the group, summed
//     in order, and the row is updated by sparse_update_row (embedding_math.h); update_count[r] += 1;
//     changed_step[r] ← step.
//   emb_write_rows: Import: rows[i] ← the given values and metadata (arrays of n entries, on the table's
//     device; state null when state_width == 0), and the slot's eviction value from them. The key is already
//     placed by emb_insert.

#define GW_EMB_DECLS(...) \
  int64_t emb_unique(const int64_t* keys, int64_t n, int64_t* ukeys, int32_t* inverse, int32_t* perm, \
        int32_t* seg __VA_ARGS__); \
  int64_t emb_find(const TableView& t, const int64_t* ukeys, const int32_t* seg, int64_t U, int64_t \
        admit_after, bool train, const PolicyParams& p, const Clock& c, int32_t* urow, uint8_t* status, \
        int64_t* hits __VA_ARGS__); \
  void emb_touch(const TableView& t, const int32_t* urow, const uint8_t* status, const int32_t* seg, int64_t \
        U, uint32_t mask, const PolicyParams& p, const Clock& c __VA_ARGS__); \
  int64_t emb_insert(const TableView& t, const int64_t* ukeys, const int32_t* seg, int64_t U, uint8_t* status, \
        int32_t* urow, const PolicyParams& p, const InitParams& init, const Clock& c, int64_t* evicted \
        __VA_ARGS__); \
  int64_t emb_select_victims(const TableView& t, const PolicyParams& p, const Clock& c, int64_t count, \
        int32_t* victims __VA_ARGS__); \
  int64_t emb_sweep(const TableView& t, const PolicyParams& p, const Clock& c, bool expired, int32_t \
        min_updates, int32_t* victims __VA_ARGS__); \
  void emb_remove(const TableView& t, const int32_t* rows, int64_t n __VA_ARGS__); \
  void emb_gather(const float* weight, int64_t dim, const int32_t* urow, const int32_t* inverse, int64_t n, \
        const float* default_row, float* out __VA_ARGS__); \
  void emb_bag_forward(const float* weight, int64_t dim, const int32_t* urow, const int32_t* inverse, \
        int64_t n, const int64_t* offsets, int64_t bags, const float* pos_weight, bool mean, const float* \
        default_row, float* out __VA_ARGS__); \
  void emb_bag_backward(const float* gout, int64_t dim, const int32_t* perm, const int32_t* seg, int64_t U, \
        int64_t n, const int64_t* offsets, int64_t bags, const float* pos_weight, bool mean, float* \
        grad_unique, const float* weight, const int32_t* urow, const int32_t* inverse, const float* \
        default_row, float* grad_pos_weight __VA_ARGS__); \
  void emb_sparse_update(const TableView& t, const SparseOptParams& o, int64_t step, const int32_t* rows, \
        const int64_t* keys, const float* grads, const int32_t* perm, const int32_t* seg, int64_t \
        nseg __VA_ARGS__); \
  void emb_write_rows(const TableView& t, const PolicyParams& p, const int32_t* rows, int64_t n, const float* \
        weight, const float* state, const int64_t* last_step, const double* last_time, const int64_t* \
        changed_step, const int32_t* update_count, const float* freq, const float* score __VA_ARGS__);

namespace gw::cpu {
GW_EMB_DECLS()
}  // namespace gw::cpu

namespace gw::cuda {
GW_EMB_DECLS(, Stream stream)
}  // namespace gw::cuda
