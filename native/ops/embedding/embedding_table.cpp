// EmbeddingTable — host orchestration of the table phases (embedding.h) on either device.
// Counts that decide what happens next (distinct ids, new ids, victims found) come back to
// the host; everything else stays on the table's device.
#include "embedding_table.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "../../core/cuda_runtime.h"
#include "../../core/dispatch.h"
#include "../layout/layout.h"
#include "embedding_math.h"
#include "table_format.h"

namespace gw {
namespace {

Tensor to_device(const Tensor& host, Device d) {
  if (d == Device::kCpu) return host;
  Tensor t = Tensor::empty(host.shape(), host.dtype(), d);
  copy_tensor(t, host);
  return t;
}

Tensor to_host(const Tensor& t) {
  if (t.device() == Device::kCpu) return t;
  Tensor h = Tensor::empty(t.shape(), t.dtype(), Device::kCpu);
  copy_tensor(h, t);
  return h;
}

template <typename T>
Tensor host_from(const std::vector<T>& v, DType dt) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, dt, Device::kCpu);
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * sizeof(T));
  return t;
}

template <typename T>
void host_into(std::vector<T>& v, const Tensor& t) {
  const Tensor h = to_host(t);
  if (!v.empty()) std::memcpy(v.data(), h.raw(), v.size() * sizeof(T));
}

const void* ptr_or_null(const Tensor* t) { return t ? t->raw() : nullptr; }

}  // namespace

EmbeddingTable::EmbeddingTable(const TableConfig& cfg) : cfg_(cfg) {
  GW_CHECK(cfg.dim >= 1 && cfg.dim <= (1 << 20), kArgument, "Expected dim in [1, 2^20] but received ", cfg.dim);
  GW_CHECK(cfg.capacity >= 1 && cfg.capacity < (int64_t{1} << 30), kArgument,
           "Expected capacity in [1, 2^30) but received ", cfg.capacity);
  GW_CHECK(cfg.bucket_size >= 1, kArgument, "Expected a positive bucketSize but received ", cfg.bucket_size);
  const Device d = cfg.device;
  const int64_t cap = cfg.capacity;
  const int64_t sw = cfg.optim.kind == SparseOpt::kSgd ? 0 : cfg.optim.kind == SparseOpt::kAdagrad ? cfg.dim : 2 * cfg.dim;
  bucket_size_ = std::min(cfg.bucket_size, cap);
  buckets_ = (cap + bucket_size_ - 1) / bucket_size_;
  digest_ = Tensor::empty({cap}, DType::kU8, d);
  value_ = Tensor::empty({cap}, DType::kI64, d);
  meta_ = Tensor::empty({cap, static_cast<int64_t>(sizeof(RowMeta) / 8)}, DType::kI64, d);  // RowMeta: 32 bytes
  update_count_ = Tensor::empty({cap}, DType::kI32, d);
  weight_ = Tensor::empty({cap, cfg.dim}, DType::kF32, d);
  state_ = Tensor::empty({cap, std::max<int64_t>(sw, 1)}, DType::kF32, d);
  for (const Tensor* t : {&digest_, &value_, &meta_, &update_count_, &weight_, &state_}) zero_tensor(*t);  // all empty
  if (cfg.admit_after > 1) {
    GW_CHECK(cfg.sketch_width >= 1 && (cfg.sketch_width & (cfg.sketch_width - 1)) == 0 && cfg.sketch_depth >= 1,
             kArgument, "Expected a power-of-two sketch width and a positive depth but received ", cfg.sketch_width,
             " and ", cfg.sketch_depth);
    sketch_ = Tensor::empty({cfg.sketch_depth, cfg.sketch_width}, DType::kI32, d);
    zero_tensor(sketch_);
  }
}

TableView EmbeddingTable::view() const {
  TableView t;
  t.dim = cfg_.dim;
  t.state_width = cfg_.optim.kind == SparseOpt::kSgd ? 0 : state_.size(1);
  t.capacity = cfg_.capacity;
  t.bucket_size = bucket_size_;
  t.buckets = buckets_;
  t.digest = digest_.data<uint8_t>();
  t.value = static_cast<uint64_t*>(value_.raw());
  t.meta = static_cast<RowMeta*>(meta_.raw());
  t.update_count = update_count_.data<int32_t>();
  t.weight = weight_.data<float>();
  t.state = t.state_width ? state_.data<float>() : nullptr;
  if (sketch_.defined()) {
    t.sketch = static_cast<uint32_t*>(sketch_.raw());
    t.sketch_width = cfg_.sketch_width;
    t.sketch_depth = cfg_.sketch_depth;
  }
  return t;
}

RowBytes EmbeddingTable::row_bytes() const {
  RowBytes b;
  b.embedding = 4 * cfg_.dim;
  b.optimizer = 4 * view().state_width;
  b.metadata = static_cast<int64_t>(sizeof(RowMeta) + sizeof(int32_t));
  b.index = static_cast<int64_t>(sizeof(uint8_t) + sizeof(uint64_t));
  return b;
}

int64_t EmbeddingTable::memory_bytes() const {
  const int64_t sketch = sketch_.defined() ? 4 * cfg_.sketch_width * cfg_.sketch_depth : 0;
  return cfg_.capacity * row_bytes().total() + sketch;
}

int64_t EmbeddingTable::size() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return size_;
}

int64_t EmbeddingTable::step() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return step_;
}

TableStats EmbeddingTable::stats() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return stats_;
}

void EmbeddingTable::remove_rows(const Tensor& victims, int64_t n) {
  if (n <= 0) return;
  GW_DISPATCH(cfg_.device, emb_remove, view(), victims.data<int32_t>(), n);
  size_ -= n;
}

void EmbeddingTable::place_keys(Prepared& pr, bool train, bool force_admit, const Clock& c, bool counted) {
  const Device d = cfg_.device;
  const int64_t U = pr.unique;
  pr.urow = scratch(U, DType::kI32);
  if (U == 0) return;
  Tensor status = scratch(U, DType::kU8);
  const TableView t = view();
  const int32_t* seg = pr.seg.data<int32_t>();
  int32_t* urow = pr.urow.data<int32_t>();
  uint8_t* st = status.data<uint8_t>();
  int64_t hits = 0;
  const int64_t fresh = GW_DISPATCH(d, emb_find, t, pr.ukeys.data<int64_t>(), seg, U, force_admit ? 1 : cfg_.admit_after,
                                    train, cfg_.policy, c, urow, st, &hits);
  if (counted) stats_.hits += hits;
  if (!train) return;
  GW_DISPATCH(d, emb_touch, t, urow, st, seg, U, status_bit(kHit) | status_bit(kReinit), cfg_.policy, c);
  int64_t evicted = 0, inserted = 0;
  if (fresh > 0 || emb::has_ttl(cfg_.policy))  // places the new keys, starts them and the expired ones over
    inserted = GW_DISPATCH(d, emb_insert, t, pr.ukeys.data<int64_t>(), seg, U, st, urow, cfg_.policy, cfg_.init, c,
                           &evicted);
  size_ += inserted - evicted;
  stats_.inserts += inserted;
  stats_.evictions += evicted;
  stats_.dropped += fresh - inserted;
  if (cfg_.admit_after > 1 || emb::has_ttl(cfg_.policy)) {
    // Only these options make rejections or re-initializations possible: count them.
    const Tensor h = to_host(status);
    const uint8_t* s = h.data<uint8_t>();
    for (int64_t u = 0; u < U; ++u) {
      stats_.rejected += s[u] == kReject;
      stats_.reinits += s[u] == kReinit;
    }
  }
}

namespace {
/// Every tensor an entry point takes must live where the table does: a kernel of one device
/// handed another's pointers reads memory it cannot (on a GPU host code touching device
/// memory crashes the process), so a mismatch is an error naming the argument.
void check_on_device(const Tensor* t, Device table, const char* name) {
  if (t)
    GW_CHECK(t->device() == table, kDevice, "Expected ", name, " on ", device_name(table),
             " (the table's device) but it is on ", device_name(t->device()));
}
}  // namespace

Prepared EmbeddingTable::prepare(const Tensor& keys, bool train, double now, bool counted) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  check_dtype(keys, DType::kI64, "ids");
  GW_CHECK(keys.dim() == 1, kShape, "Expected a 1-D tensor for ids but received shape ", shape_str(keys.shape()));
  check_on_device(&keys, cfg_.device, "ids");
  const int64_t n = keys.numel();
  GW_CHECK(n < (int64_t{1} << 31) - 1, kArgument, "Expected fewer than 2^31 ids but received ", n);
  Prepared pr;
  pr.n = n;
  pr.ukeys = scratch(n, DType::kI64);
  pr.inverse = scratch(n, DType::kI32);
  pr.perm = scratch(n, DType::kI32);
  pr.seg = scratch(n + 1, DType::kI32);
  pr.unique = GW_DISPATCH(cfg_.device, emb_unique, keys.data<int64_t>(), n, pr.ukeys.data<int64_t>(),
                          pr.inverse.data<int32_t>(), pr.perm.data<int32_t>(), pr.seg.data<int32_t>());
  place_keys(pr, train, false, Clock{step_, now}, counted);
  if (counted) stats_.lookups += n;
  return pr;
}

Tensor EmbeddingTable::gather(const Prepared& pr, const Tensor* default_row) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  check_on_device(default_row, cfg_.device, "default_row");
  Tensor out = Tensor::empty({pr.n, cfg_.dim}, DType::kF32, cfg_.device);
  if (pr.n == 0) return out;
  GW_DISPATCH(cfg_.device, emb_gather, weight_.data<float>(), cfg_.dim, pr.urow.data<int32_t>(),
              pr.inverse.data<int32_t>(), pr.n, static_cast<const float*>(ptr_or_null(default_row)), out.data<float>());
  return out;
}

Tensor EmbeddingTable::bag(const Prepared& pr, const Tensor& offsets, const Tensor* weights, bool mean,
                           const Tensor* default_row) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  check_on_device(&offsets, cfg_.device, "offsets");
  check_on_device(weights, cfg_.device, "weights");
  check_on_device(default_row, cfg_.device, "default_row");
  const int64_t bags = offsets.numel();
  Tensor out = Tensor::empty({bags, cfg_.dim}, DType::kF32, cfg_.device);
  if (bags == 0) return out;
  GW_DISPATCH(cfg_.device, emb_bag_forward, weight_.data<float>(), cfg_.dim, pr.urow.data<int32_t>(),
              pr.inverse.data<int32_t>(), pr.n, offsets.data<int64_t>(), bags,
              static_cast<const float*>(ptr_or_null(weights)), mean,
              static_cast<const float*>(ptr_or_null(default_row)), out.data<float>());
  return out;
}

std::vector<Tensor> EmbeddingTable::backward(const Prepared& pr, const Tensor& gout, const Tensor* offsets,
                                             const Tensor* weights, bool mean, const Tensor* default_row,
                                             bool want_weight_grad) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  check_on_device(&gout, cfg_.device, "gradient");
  check_on_device(offsets, cfg_.device, "offsets");
  check_on_device(weights, cfg_.device, "weights");
  check_on_device(default_row, cfg_.device, "default_row");
  const int64_t bags = offsets ? offsets->numel() : pr.n;
  check_dtype(gout, DType::kF32, "gradient");
  check_shape(gout, {bags, cfg_.dim}, "gradient");
  Tensor gu = Tensor::empty({pr.unique, cfg_.dim}, DType::kF32, cfg_.device);
  Tensor gw = want_weight_grad ? scratch(pr.n, DType::kF32) : Tensor();
  if (pr.n > 0)
    GW_DISPATCH(cfg_.device, emb_bag_backward, gout.data<float>(), cfg_.dim, pr.perm.data<int32_t>(),
                pr.seg.data<int32_t>(), pr.unique, pr.n,
                offsets ? offsets->data<int64_t>() : nullptr, bags, static_cast<const float*>(ptr_or_null(weights)),
                mean, gu.data<float>(), weight_.data<float>(), pr.urow.data<int32_t>(), pr.inverse.data<int32_t>(),
                static_cast<const float*>(ptr_or_null(default_row)), want_weight_grad ? gw.data<float>() : nullptr);
  return want_weight_grad ? std::vector<Tensor>{gu, gw} : std::vector<Tensor>{gu};
}

void EmbeddingTable::apply(const Tensor& rows, const Tensor& keys, const Tensor& grads, bool dedup) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  check_on_device(&rows, cfg_.device, "rows");
  check_on_device(&keys, cfg_.device, "keys");
  check_on_device(&grads, cfg_.device, "grads");
  const int64_t m = rows.numel();
  check_dtype(rows, DType::kI32, "rows");
  check_dtype(keys, DType::kI64, "keys");
  check_dtype(grads, DType::kF32, "grads");
  check_shape(keys, {m}, "keys");
  check_shape(grads, {m, cfg_.dim}, "grads");
  if (m > 0) {
    const Device d = cfg_.device;
    if (dedup) {
      Tensor uk = scratch(m, DType::kI64), inv = scratch(m, DType::kI32), perm = scratch(m, DType::kI32),
             seg = scratch(m + 1, DType::kI32);
      const int64_t nseg = GW_DISPATCH(d, emb_unique, keys.data<int64_t>(), m, uk.data<int64_t>(), inv.data<int32_t>(),
                                       perm.data<int32_t>(), seg.data<int32_t>());
      GW_DISPATCH(d, emb_sparse_update, view(), cfg_.optim, step_, rows.data<int32_t>(), keys.data<int64_t>(),
                  grads.data<float>(), perm.data<int32_t>(), seg.data<int32_t>(), nseg);
    } else {
      GW_DISPATCH(d, emb_sparse_update, view(), cfg_.optim, step_, rows.data<int32_t>(), keys.data<int64_t>(),
                  grads.data<float>(), nullptr, nullptr, m);
    }
  }
  step_ += 1;
}

void EmbeddingTable::set_lr(float lr) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  GW_CHECK(std::isfinite(lr) && lr >= 0, kArgument, "Expected a non-negative learning rate for lr but received ", lr);
  cfg_.optim.lr = lr;
}

void EmbeddingTable::advance() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  step_ += 1;
}

int64_t EmbeddingTable::evict(bool expired, int32_t min_updates, int64_t to_size, double now) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const Device d = cfg_.device;
  const Clock c{step_, now};
  Tensor victims = scratch(cfg_.capacity, DType::kI32);
  int64_t removed = 0;
  if (expired && emb::has_ttl(cfg_.policy)) {
    const int64_t k = GW_DISPATCH(d, emb_sweep, view(), cfg_.policy, c, true, 0, victims.data<int32_t>());
    remove_rows(victims, k);
    stats_.expired += k;
    removed += k;
  }
  if (min_updates > 0) {
    const int64_t k = GW_DISPATCH(d, emb_sweep, view(), cfg_.policy, c, false, min_updates, victims.data<int32_t>());
    remove_rows(victims, k);
    stats_.pruned += k;
    removed += k;
  }
  if (to_size >= 0 && size_ > to_size) {
    // As if one step later, so rows seen in the current step may go too.
    const int64_t k = GW_DISPATCH(d, emb_select_victims, view(), cfg_.policy, Clock{step_ + 1, now}, size_ - to_size,
                                  victims.data<int32_t>());
    remove_rows(victims, k);
    stats_.evictions += k;
    removed += k;
  }
  return removed;
}

std::vector<uint8_t> EmbeddingTable::export_rows(int64_t since_step) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const int64_t cap = cfg_.capacity;
  const TableView t = view();
  TableSnapshot s;
  s.dim = static_cast<uint32_t>(cfg_.dim);
  s.state_width = static_cast<uint32_t>(t.state_width);
  s.optimizer = static_cast<uint32_t>(cfg_.optim.kind);
  s.step = step_;
  s.since_step = since_step < 0 ? -1 : since_step;
  // Which rows, and their metadata: from the digests and RowMetas on the host, in ascending key order.
  std::vector<uint8_t> digest(cap);
  std::vector<RowMeta> meta(cap);
  host_into(digest, digest_);
  host_into(meta, meta_);
  std::vector<int32_t> rows;
  for (int64_t r = 0; r < cap; ++r)
    if (digest[r] != kEmptySlot && (since_step < 0 || full_step(meta[r].changed_step) >= since_step))
      rows.push_back(static_cast<int32_t>(r));
  std::sort(rows.begin(), rows.end(), [&](int32_t a, int32_t b) { return meta[a].key < meta[b].key; });
  const int64_t n = static_cast<int64_t>(rows.size());
  s.resize(rows.size());
  for (int64_t i = 0; i < n; ++i) {
    const RowMeta& m = meta[rows[i]];
    s.keys[i] = m.key;
    s.last_step[i] = full_step(m.last_step);
    s.changed_step[i] = full_step(m.changed_step);
    s.last_time[i] = m.last_time;
    s.freq[i] = m.freq;
    s.score[i] = m.score;
  }
  if (n == 0) return encode_snapshot(s);
  // The rows themselves: gathered on the device, then copied back compact.
  const Tensor idx = to_device(host_from(rows, DType::kI32), cfg_.device);
  auto gather_into = [&](auto& dst, const Tensor& src, int64_t cols, size_t elem) {
    if (cols == 0) return;
    Tensor out = Tensor::empty({n * cols * static_cast<int64_t>(elem) / 4}, DType::kF32, cfg_.device);
    GW_DISPATCH(cfg_.device, index_select_rows, src.raw(), cap, cols, nullptr, idx.data<int32_t>(), n, out.raw(), elem);
    host_into(dst, out);
  };
  gather_into(s.update_count, update_count_, 1, 4);
  gather_into(s.weight, weight_, cfg_.dim, 4);
  gather_into(s.state, state_, t.state_width, 4);
  return encode_snapshot(s);
}

int64_t EmbeddingTable::import_rows(const uint8_t* data, size_t bytes, double now) {
  const TableSnapshot s = decode_snapshot(data, bytes, "data");
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const TableView t = view();
  GW_CHECK(s.dim == cfg_.dim, kShape, "Expected rows of dim ", cfg_.dim, " in data (the table's dim) but they have dim ",
           s.dim);
  GW_CHECK(s.state_width == t.state_width || t.state_width == 0, kArgument,
           "data holds optimizer state of width ", s.state_width, " (optimizer ", s.optimizer,
           ") but this table's optimizer keeps ", t.state_width, " floats per row");
  const int64_t n = static_cast<int64_t>(s.rows());
  GW_CHECK(n <= cfg_.capacity, kArgument, "data holds ", n, " rows, more than the table's capacity ", cfg_.capacity);
  if (n == 0) return 0;
  step_ = std::max(step_, s.step);
  const Device d = cfg_.device;
  // Keys are strictly ascending: they are their own unique list, one position each.
  Prepared pr;
  pr.n = pr.unique = n;
  pr.ukeys = to_device(host_from(s.keys, DType::kI64), d);
  std::vector<int32_t> seg(static_cast<size_t>(n + 1));
  std::iota(seg.begin(), seg.end(), 0);
  pr.seg = to_device(host_from(seg, DType::kI32), d);
  place_keys(pr, true, true, Clock{step_, now}, false);
  std::vector<int32_t> urow(static_cast<size_t>(n));
  host_into(urow, pr.urow);
  const int64_t missing = std::count(urow.begin(), urow.end(), -1);
  GW_CHECK(missing == 0, kArgument, "could not import ", missing, " of ", n,
           " rows: every slot of their buckets holds a row placed or looked up in the current step; call advance() "
           "and import again");
  auto up = [&](const auto& v, DType dt) { return to_device(host_from(v, dt), d); };
  const Tensor w = up(s.weight, DType::kF32);
  const Tensor st = s.state_width == t.state_width && t.state_width ? up(s.state, DType::kF32) : Tensor();
  const Tensor ls = up(s.last_step, DType::kI64), cs = up(s.changed_step, DType::kI64),
               uc = up(s.update_count, DType::kI32), fq = up(s.freq, DType::kF32), sc = up(s.score, DType::kF32);
  Tensor lt = Tensor::empty({n}, DType::kI64, Device::kCpu);
  std::memcpy(lt.raw(), s.last_time.data(), n * sizeof(double));
  lt = to_device(lt, d);
  GW_DISPATCH(d, emb_write_rows, view(), cfg_.policy, pr.urow.data<int32_t>(), n, w.data<float>(),
              st.defined() ? st.data<float>() : nullptr, ls.data<int64_t>(), static_cast<const double*>(lt.raw()),
              cs.data<int64_t>(), uc.data<int32_t>(), fq.data<float>(), sc.data<float>());
  return n;
}

}  // namespace gw
