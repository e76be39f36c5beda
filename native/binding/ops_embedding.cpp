// gatewise binding — EmbeddingTable (native/ops/embedding/embedding_table.h). A table is an
// External holding a shared_ptr, so an async lookup in flight keeps it alive after the JS
// side drops it. lib/embedding/ validates every option and argument first.
//
//   embCreate(options) → table
//   embInfo(table) → { size, step, capacity, dim, bytes, bucketSize, buckets, bytesPerRow, stats }
//   embPrepare(table, ids, train, now, counted = true) → prepared { ukeys, urow, inverse, perm, seg, n, unique }
//   embGather(table, prepared, defaultRow | null) → (n, dim)
//   embBag(table, prepared, offsets, weights | null, mean, defaultRow | null) → (bags, dim)
//   embLookupAsync(table, ids, train, now, defaultRow | null) → Promise<{ out, prepared }>
//   embBackward(table, prepared, gout, offsets | null, weights | null, mean, defaultRow | null,
//               wantWeightGrad) → [gradUnique (U, dim), gradWeights (n)?]
//   embApply(table, rows, keys, grads, dedup) · embAdvance(table) · embSetLr(table, lr)
//   embEvict(table, expired, minUpdates, toSize, now) → rows removed
//   embExport(table, sinceStep) → Uint8Array · embImport(table, bytes, now) → rows written
//   embRelease(table): frees the rows now (later calls throw ERR_GATEWISE_DISPOSED)
#include <memory>

#include "../ops/embedding/embedding_table.h"
#include "napi_util.h"
#include "options.h"
#include "registry.h"

namespace gw::binding {
namespace {

struct TableHandle {
  std::shared_ptr<EmbeddingTable> table;
  int64_t external_bytes = 0;
};

std::shared_ptr<EmbeddingTable> arg_table(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = arg_at(info, i);
  GW_CHECK(v.IsExternal(), kArgument, "Expected an embedding table for table but received a value of type ",
           type_name(v));
  TableHandle* h = v.As<Napi::External<TableHandle>>().Data();
  GW_CHECK(h && h->table, kDisposed, "this EmbeddingTable was disposed");
  return h->table;
}

template <typename E>
E pick(const std::string& value, const char* key, std::initializer_list<std::pair<const char*, E>> choices) {
  std::string list;
  for (const auto& c : choices) {
    if (value == c.first) return c.second;
    list += (list.empty() ? "" : ", ") + std::string(c.first);
  }
  GW_THROW(kArgument, "Expected one of ", list, " for options.", key, " but received ", value);
}

TableConfig parse_config(const Napi::CallbackInfo& info) {
  Options o(info, 0, "embCreate",
            {"dim", "capacity", "device", "policy", "log2Decay", "ttlSteps", "ttlSeconds", "init", "initScale", "seed",
             "stateInit", "optimizer", "lr", "eps", "beta1", "beta2", "weightDecay", "admitAfter", "sketchWidth",
             "sketchDepth", "bucketSize"});
  TableConfig c;
  c.dim = static_cast<int64_t>(o.number("dim"));
  c.capacity = static_cast<int64_t>(o.number("capacity"));
  c.bucket_size = static_cast<int64_t>(o.number("bucketSize", static_cast<double>(c.bucket_size)));
  c.device = pick<Device>(o.string("device", "cpu"), "device", {{"cpu", Device::kCpu}, {"cuda", Device::kCuda}});
  c.policy.policy = pick<EvictPolicy>(o.string("policy", "score"), "policy",
                                      {{"lru", EvictPolicy::kLru}, {"lfu", EvictPolicy::kLfu}, {"score", EvictPolicy::kScore}});
  c.policy.log2_decay = static_cast<float>(o.number("log2Decay", c.policy.log2_decay));
  c.policy.ttl_steps = static_cast<int64_t>(o.number("ttlSteps", 0));
  c.policy.ttl_seconds = o.number("ttlSeconds", 0);
  c.init.kind = pick<InitKind>(o.string("init", "normal"), "init",
                               {{"normal", InitKind::kNormal}, {"uniform", InitKind::kUniform}, {"zeros", InitKind::kZeros}});
  c.init.scale = static_cast<float>(o.number("initScale", c.init.scale));
  c.init.seed = static_cast<uint64_t>(o.number("seed", 0));
  c.init.state_init = static_cast<float>(o.number("stateInit", 0));
  c.optim.kind = pick<SparseOpt>(o.string("optimizer", "adagrad"), "optimizer",
                                 {{"sgd", SparseOpt::kSgd}, {"adagrad", SparseOpt::kAdagrad}, {"adam", SparseOpt::kAdam}});
  c.optim.lr = static_cast<float>(o.number("lr", c.optim.lr));
  c.optim.eps = static_cast<float>(o.number("eps", c.optim.eps));
  c.optim.beta1 = static_cast<float>(o.number("beta1", c.optim.beta1));
  c.optim.beta2 = static_cast<float>(o.number("beta2", c.optim.beta2));
  c.optim.weight_decay = static_cast<float>(o.number("weightDecay", 0));
  c.admit_after = static_cast<int64_t>(o.number("admitAfter", 1));
  c.sketch_width = static_cast<int64_t>(o.number("sketchWidth", static_cast<double>(c.sketch_width)));
  c.sketch_depth = static_cast<int32_t>(o.number("sketchDepth", c.sketch_depth));
  GW_CHECK(c.device == Device::kCpu || cudart::device_count() > 0, kNoCuda,
           "Expected a CUDA device for options.device but ", cudart::unavailable_reason());
  return c;
}

Napi::Object wrap_prepared(Napi::Env env, const Prepared& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ukeys", wrap(env, p.ukeys));
  o.Set("urow", wrap(env, p.urow));
  o.Set("inverse", wrap(env, p.inverse));
  o.Set("perm", wrap(env, p.perm));
  o.Set("seg", wrap(env, p.seg));
  o.Set("n", Napi::Number::New(env, static_cast<double>(p.n)));
  o.Set("unique", Napi::Number::New(env, static_cast<double>(p.unique)));
  return o;
}

Prepared arg_prepared(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = arg_at(info, i);
  GW_CHECK(v.IsObject(), kArgument, "Expected a prepared lookup for prepared but received a value of type ",
           type_name(v));
  Napi::Object o = v.As<Napi::Object>();
  Prepared p;
  p.ukeys = value_tensor(info.Env(), o.Get("ukeys"), "prepared.ukeys");
  p.urow = value_tensor(info.Env(), o.Get("urow"), "prepared.urow");
  p.inverse = value_tensor(info.Env(), o.Get("inverse"), "prepared.inverse");
  p.perm = value_tensor(info.Env(), o.Get("perm"), "prepared.perm");
  p.seg = value_tensor(info.Env(), o.Get("seg"), "prepared.seg");
  p.n = p.inverse.numel();
  p.unique = p.urow.numel();
  GW_CHECK(p.ukeys.numel() >= p.unique && p.seg.numel() >= p.unique + 1 && p.perm.numel() == p.n, kShape,
           "prepared lookup tensors do not agree in size");
  return p;
}

/// An optional float32 row of the table's width on its device (defaultRow).
const Tensor* arg_default_row(const Napi::CallbackInfo& info, size_t i, const EmbeddingTable& t) {
  const Tensor* d = arg_opt_tensor(info, i, "defaultRow");
  if (d) {
    check_dtype(*d, DType::kF32, "defaultRow");
    check_shape(*d, {t.config().dim}, "defaultRow");
    GW_CHECK(d->device() == t.config().device, kDevice, "Expected defaultRow on the table's device");
  }
  return d;
}

/// Bag offsets: int64 (bags) on the table's device, ascending from 0 and ≤ n.
const Tensor& arg_offsets(const Napi::CallbackInfo& info, size_t i, const EmbeddingTable& t) {
  const Tensor& o = arg_tensor(info, i, "offsets");
  check_dtype(o, DType::kI64, "offsets");
  GW_CHECK(o.dim() == 1 && o.device() == t.config().device, kShape,
           "Expected a 1-D int64 tensor on the table's device for offsets");
  return o;
}

const Tensor* arg_weights(const Napi::CallbackInfo& info, size_t i, int64_t n) {
  const Tensor* w = arg_opt_tensor(info, i, "weights");
  if (w) {
    check_dtype(*w, DType::kF32, "weights");
    check_shape(*w, {n}, "weights");
  }
  return w;
}

Napi::Object stats_object(Napi::Env env, const TableStats& s) {
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, int64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  set("lookups", s.lookups);
  set("inserts", s.inserts);
  set("reinits", s.reinits);
  set("rejected", s.rejected);
  set("dropped", s.dropped);
  set("evictions", s.evictions);
  set("expired", s.expired);
  set("pruned", s.pruned);
  set("hits", s.hits);
  return o;
}

// ---- async lookup: prepare + gather on a libuv thread, under the table's lock

class LookupWorker : public Napi::AsyncWorker {
 public:
  LookupWorker(Napi::Env env, std::shared_ptr<EmbeddingTable> t, Tensor ids, bool train, double now,
               const Tensor* default_row)
      : Napi::AsyncWorker(env, "gatewise.embLookupAsync"), deferred_(Napi::Promise::Deferred::New(env)),
        table_(std::move(t)), ids_(std::move(ids)), train_(train), now_(now),
        default_row_(default_row ? *default_row : Tensor()) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {  // no JS here
    try {
      std::lock_guard<std::recursive_mutex> lock(table_->mutex());
      prepared_ = table_->prepare(ids_, train_, now_);
      out_ = table_->gather(prepared_, default_row_.defined() ? &default_row_ : nullptr);
    } catch (const gw::Error& e) {
      error_ = std::make_unique<gw::Error>(e);
      SetError(e.what());
    } catch (const std::exception& e) {
      error_ = std::make_unique<gw::Error>(ErrorCode::kInternal, e.what(), __FILE__, __LINE__);
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    r.Set("out", wrap(env, out_));
    r.Set("prepared", wrap_prepared(env, prepared_));
    deferred_.Resolve(r);
  }
  void OnError(const Napi::Error&) override {
    deferred_.Reject(js_error(Env(), *error_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<EmbeddingTable> table_;
  Tensor ids_;
  bool train_;
  double now_;
  Tensor default_row_;
  Prepared prepared_;
  Tensor out_;
  std::unique_ptr<gw::Error> error_;
};

}  // namespace

GW_BINDING(emb_create) {
  const TableConfig cfg = parse_config(info);
  auto* h = new TableHandle{std::make_shared<EmbeddingTable>(cfg), 0};
  Napi::Env env = info.Env();
  if (cfg.device == Device::kCpu) {
    h->external_bytes = h->table->memory_bytes();
    Napi::MemoryManagement::AdjustExternalMemory(env, h->external_bytes);
  }
  return Napi::External<TableHandle>::New(env, h, [](Napi::Env e, TableHandle* p) {
    if (p->external_bytes) Napi::MemoryManagement::AdjustExternalMemory(e, -p->external_bytes);
    delete p;
  });
}

GW_BINDING(emb_release) {
  Napi::Value v = arg_at(info, 0);
  GW_CHECK(v.IsExternal(), kArgument, "Expected an embedding table for table but received a value of type ",
           type_name(v));
  TableHandle* h = v.As<Napi::External<TableHandle>>().Data();
  if (h->external_bytes) Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -h->external_bytes);
  h->external_bytes = 0;
  h->table.reset();
  return info.Env().Undefined();
}

GW_BINDING(emb_info) {
  auto t = arg_table(info, 0);
  Napi::Env env = info.Env();
  const TableConfig& c = t->config();
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, static_cast<double>(t->size())));
  o.Set("step", Napi::Number::New(env, static_cast<double>(t->step())));
  o.Set("capacity", Napi::Number::New(env, static_cast<double>(c.capacity)));
  o.Set("dim", Napi::Number::New(env, static_cast<double>(c.dim)));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(t->memory_bytes())));
  o.Set("bucketSize", Napi::Number::New(env, static_cast<double>(t->bucket_size())));
  o.Set("buckets", Napi::Number::New(env, static_cast<double>(t->buckets())));
  const RowBytes rb = t->row_bytes();
  Napi::Object per_row = Napi::Object::New(env);
  per_row.Set("embedding", Napi::Number::New(env, static_cast<double>(rb.embedding)));
  per_row.Set("optimizer", Napi::Number::New(env, static_cast<double>(rb.optimizer)));
  per_row.Set("metadata", Napi::Number::New(env, static_cast<double>(rb.metadata)));
  per_row.Set("index", Napi::Number::New(env, static_cast<double>(rb.index)));
  per_row.Set("total", Napi::Number::New(env, static_cast<double>(rb.total())));
  o.Set("bytesPerRow", per_row);
  o.Set("stats", stats_object(env, t->stats()));
  return o;
}

GW_BINDING(emb_prepare) {
  auto t = arg_table(info, 0);
  const Tensor& ids = arg_tensor(info, 1, "ids");
  const bool counted = info.Length() <= 4 || arg_bool(info, 4, "counted");
  return wrap_prepared(info.Env(), t->prepare(ids, arg_bool(info, 2, "train"), arg_number(info, 3, "now"), counted));
}

GW_BINDING(emb_gather) {
  auto t = arg_table(info, 0);
  const Prepared p = arg_prepared(info, 1);
  return wrap(info.Env(), t->gather(p, arg_default_row(info, 2, *t)));
}

GW_BINDING(emb_bag) {
  auto t = arg_table(info, 0);
  const Prepared p = arg_prepared(info, 1);
  const Tensor& offsets = arg_offsets(info, 2, *t);
  return wrap(info.Env(), t->bag(p, offsets, arg_weights(info, 3, p.n), arg_bool(info, 4, "mean"),
                                 arg_default_row(info, 5, *t)));
}

GW_BINDING(emb_lookup_async) {
  auto t = arg_table(info, 0);
  const Tensor& ids = arg_tensor(info, 1, "ids");
  auto* w = new LookupWorker(info.Env(), t, ids, arg_bool(info, 2, "train"), arg_number(info, 3, "now"),
                             arg_default_row(info, 4, *t));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

GW_BINDING(emb_backward) {
  auto t = arg_table(info, 0);
  const Prepared p = arg_prepared(info, 1);
  const Tensor& gout = arg_tensor(info, 2, "gradient");
  const Tensor* offsets = arg_at(info, 3).IsNull() ? nullptr : &arg_offsets(info, 3, *t);
  const std::vector<Tensor> g = t->backward(p, gout, offsets, arg_weights(info, 4, p.n), arg_bool(info, 5, "mean"),
                                            arg_default_row(info, 6, *t), arg_bool(info, 7, "wantWeightGrad"));
  Napi::Array out = Napi::Array::New(info.Env(), g.size());
  for (uint32_t i = 0; i < g.size(); ++i) out.Set(i, wrap(info.Env(), g[i]));
  return out;
}

GW_BINDING(emb_apply) {
  auto t = arg_table(info, 0);
  t->apply(arg_tensor(info, 1, "rows"), arg_tensor(info, 2, "keys"), arg_tensor(info, 3, "grads"),
           arg_bool(info, 4, "dedup"));
  return info.Env().Undefined();
}

GW_BINDING(emb_set_lr) {
  arg_table(info, 0)->set_lr(static_cast<float>(arg_number(info, 1, "lr")));
  return info.Env().Undefined();
}

GW_BINDING(emb_advance) {
  arg_table(info, 0)->advance();
  return info.Env().Undefined();
}

GW_BINDING(emb_evict) {
  auto t = arg_table(info, 0);
  const int64_t removed = t->evict(arg_bool(info, 1, "expired"), static_cast<int32_t>(arg_int(info, 2, "minUpdates")),
                                   arg_int(info, 3, "toSize"), arg_number(info, 4, "now"));
  return Napi::Number::New(info.Env(), static_cast<double>(removed));
}

GW_BINDING(emb_export) {
  auto t = arg_table(info, 0);
  const std::vector<uint8_t> bytes = t->export_rows(arg_int(info, 1, "sinceStep"));
  return Napi::Buffer<uint8_t>::Copy(info.Env(), bytes.data(), bytes.size());
}

GW_BINDING(emb_import) {
  auto t = arg_table(info, 0);
  Napi::Value v = arg_at(info, 1);
  GW_CHECK(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array, kArgument,
           "Expected a Uint8Array for data but received a value of type ", type_name(v));
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  const int64_t n = t->import_rows(a.Data(), a.ByteLength(), arg_number(info, 2, "now"));
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

namespace {
void register_embedding(Napi::Env env, Napi::Object exports) {
  def(env, exports, "embCreate", emb_create);
  def(env, exports, "embRelease", emb_release);
  def(env, exports, "embInfo", emb_info);
  def(env, exports, "embPrepare", emb_prepare);
  def(env, exports, "embGather", emb_gather);
  def(env, exports, "embBag", emb_bag);
  def(env, exports, "embLookupAsync", emb_lookup_async);
  def(env, exports, "embBackward", emb_backward);
  def(env, exports, "embApply", emb_apply);
  def(env, exports, "embSetLr", emb_set_lr);
  def(env, exports, "embAdvance", emb_advance);
  def(env, exports, "embEvict", emb_evict);
  def(env, exports, "embExport", emb_export);
  def(env, exports, "embImport", emb_import);
}
const Registration reg(register_embedding);
}  // namespace

}  // namespace gw::binding
