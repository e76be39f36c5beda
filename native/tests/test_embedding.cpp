// embedding — the table phases. CPU: unique against a std::map reference and the table's
// invariants along a stream of lookups with eviction (every key in its bucket, once; counts
// that add up; the held keys found again). CUDA: the same streams through a CPU and a CUDA
// table side by side, compared phase by phase — unique outputs and statuses exactly, table
// contents by key (slots may differ between devices), victims by key set, lookup outputs and
// gradients by position / unique id. (The eviction policy itself is checked against a plain
// model in test/embedding-table.test.ts.)
#include <algorithm>
#include <random>
#include <cmath>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <utility>

#include "harness.h"
#include "ops/embedding/embedding.h"
#include "ops/embedding/embedding_math.h"

namespace {

using gw::Clock;
using gw::EvictPolicy;
using gw::InitKind;
using gw::SparseOpt;

/// One table configuration and the stream of lookups fed to it.
struct Spec {
  const char* name;
  int64_t dim = 8, capacity = 48, bucket_size = 8;  // 6 buckets: full ones evict while others have room
  SparseOpt opt = SparseOpt::kAdagrad;
  EvictPolicy policy = EvictPolicy::kScore;
  int64_t admit_after = 1;
  int32_t sketch_depth = 0;
  int64_t sketch_width = 0;
  int64_t ttl_steps = 0;
  double ttl_seconds = 0;
  InitKind init = InitKind::kNormal;
  int steps = 12;
  int64_t keys_per_step = 40;

  int64_t state_width() const { return opt == SparseOpt::kSgd ? 0 : opt == SparseOpt::kAdagrad ? dim : 2 * dim; }
  int64_t buckets() const { return (capacity + bucket_size - 1) / bucket_size; }
  gw::PolicyParams policy_params() const {
    gw::PolicyParams p;
    p.policy = policy;
    p.log2_decay = -0.05f;
    p.ttl_steps = ttl_steps;
    p.ttl_seconds = ttl_seconds;
    return p;
  }
  gw::InitParams init_params() const {
    gw::InitParams i;
    i.kind = init;
    i.scale = 0.1f;
    i.seed = 0x1234567890abcdefull;
    i.state_init = opt == SparseOpt::kAdagrad ? 0.1f : 0.0f;
    return i;
  }
  gw::SparseOptParams opt_params() const {
    gw::SparseOptParams o;
    o.kind = opt;
    o.lr = 0.05f;
    o.eps = 1e-8f;
    o.weight_decay = opt == SparseOpt::kSgd ? 0.01f : 0.0f;
    return o;
  }
};

const std::vector<Spec>& specs() {
  static const std::vector<Spec> all = [] {
    std::vector<Spec> v;
    const EvictPolicy policies[3] = {EvictPolicy::kLru, EvictPolicy::kLfu, EvictPolicy::kScore};
    const SparseOpt opts[3] = {SparseOpt::kSgd, SparseOpt::kAdagrad, SparseOpt::kAdam};
    const InitKind inits[3] = {InitKind::kNormal, InitKind::kUniform, InitKind::kZeros};
    static const char* names[3][2] = {{"lru", "lru+admission"}, {"lfu", "lfu+admission"}, {"score", "score+admission"}};
    for (int pi = 0; pi < 3; ++pi)
      for (int adm = 0; adm < 2; ++adm) {
        Spec s;
        s.name = names[pi][adm];
        s.policy = policies[pi];
        s.opt = opts[(pi + adm) % 3];
        s.init = inits[(pi + 2 * adm) % 3];
        s.dim = adm ? 5 : (pi == 2 ? 36 : 8);  // 5: the scalar paths; 8, 36: float4
        if (adm) {
          s.admit_after = 2;
          s.sketch_depth = 2;
          s.sketch_width = 64;
        }
        v.push_back(s);
      }
    Spec ttl;
    ttl.name = "lru+ttl_steps";
    ttl.policy = EvictPolicy::kLru;
    ttl.ttl_steps = 3;
    ttl.opt = SparseOpt::kAdam;
    v.push_back(ttl);
    Spec ttls;
    ttls.name = "score+ttl_seconds";
    ttls.ttl_seconds = 1.2;  // the clock advances 0.25 s per step
    ttls.init = InitKind::kUniform;
    v.push_back(ttls);
    Spec odd;  // a smaller last bucket, and buckets wider than a warp
    odd.name = "lfu+odd_buckets";
    odd.policy = EvictPolicy::kLfu;
    odd.capacity = 100;
    odd.bucket_size = 40;
    odd.keys_per_step = 90;
    v.push_back(odd);
    Spec one;  // one bucket: the exact global order
    one.name = "lru+one_bucket";
    one.policy = EvictPolicy::kLru;
    one.bucket_size = 48;
    v.push_back(one);
    return v;
  }();
  return all;
}

/// Keys of one lookup: mostly a power-law hot set (duplicates), the rest a wide range with
/// negatives, so the table keeps missing and evicting.
std::vector<int64_t> key_stream(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<int64_t> keys(n);
  for (auto& k : keys) {
    if (u(rng) < 0.65) {
      const int64_t r = static_cast<int64_t>(std::exp(u(rng) * std::log(60.0)));  // 1..59, low ranks often
      k = (r % 2 ? -r : r) * 1000003;
    } else {
      k = static_cast<int64_t>(rng() % 2000001) - 1000000;
    }
  }
  if (n > 2) keys[n - 1] = INT64_MIN, keys[n - 2] = INT64_MAX;  // the extremes sort correctly
  return keys;
}

/// Bag offsets over n positions: ascending from 0, with some empty bags.
std::vector<int64_t> bag_offsets(int64_t n, int64_t bags, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> off(bags);
  for (auto& o : off) o = static_cast<int64_t>(rng() % (n + 1));
  std::sort(off.begin(), off.end());
  off[0] = 0;
  return off;
}

// ---- buffers on either device: one Table / Side template for both

/// Every phase of embedding.h, for the backends' forwarding functions.
#define GW_EMB_PHASES(X)                                                                                  \
  X(unique) X(find) X(touch) X(select_victims) X(sweep) X(remove) X(insert) X(gather) X(bag_forward) \
  X(bag_backward) X(sparse_update) X(write_rows)

struct CpuBackend {
  template <class T>
  using Buf = std::vector<T>;
  template <class T>
  static T* ptr(Buf<T>& b) { return b.data(); }
  template <class T>
  static std::vector<T> host(const Buf<T>& b) { return b; }
  template <class T>
  static void poison(Buf<T>& b) {
    if (!b.empty()) std::memset(static_cast<void*>(b.data()), 0xFF, b.size() * sizeof(T));
  }
#define GW_EMB_FORWARD(name) \
  template <class... A>      \
  static auto name(A... a) { return gw::cpu::emb_##name(a...); }
  GW_EMB_PHASES(GW_EMB_FORWARD)
#undef GW_EMB_FORWARD
};

#ifdef GW_WITH_CUDA
struct CudaBackend {
  template <class T>
  using Buf = gwtest::DeviceArray<T>;
  template <class T>
  static T* ptr(Buf<T>& b) { return b.get(); }
  template <class T>
  static std::vector<T> host(const Buf<T>& b) { return b.download(); }
  template <class T>
  static void poison(Buf<T>& b) { b.poison(); }
#define GW_EMB_FORWARD(name) \
  template <class... A>      \
  static auto name(A... a) { return gw::cuda::emb_##name(a..., gw::cudart::compute_stream()); }
  GW_EMB_PHASES(GW_EMB_FORWARD)
#undef GW_EMB_FORWARD
};
#endif

/// A row's contents, for comparing tables by key.
struct RowSnap {
  std::vector<float> weight, state;
  uint32_t last_step, changed_step;
  double last_time;
  int32_t update_count;
  float freq, score;
};
using Snapshot = std::map<int64_t, RowSnap>;

/// One table and the buffers of the lookup in flight, on backend B.
template <class B>
struct Side {
  template <class T>
  using P = std::unique_ptr<typename B::template Buf<T>>;
  template <class T>
  static P<T> make(const std::vector<T>& v) { return std::make_unique<typename B::template Buf<T>>(v); }
  template <class T>
  static T* ptr(const P<T>& b) { return b ? B::ptr(*b) : nullptr; }
  template <class T>
  static std::vector<T> host(const P<T>& b) { return B::host(*b); }
  /// A fresh output buffer of n elements, poisoned (NaN / −1) so unwritten elements show.
  template <class T>
  static P<T> out(size_t n) {
    P<T> b = make(std::vector<T>(n));
    B::poison(*b);
    return b;
  }

  const Spec spec;
  gw::TableView t;
  P<uint8_t> digest;
  P<uint64_t> value;
  P<gw::RowMeta> meta;
  P<int32_t> update_count;
  P<float> weight, state;
  P<uint32_t> sketch;
  int64_t size = 0;
  // the lookup in flight
  int64_t n = 0, U = 0, hits = 0;
  P<int64_t> keys, ukeys;
  P<int32_t> inverse, perm, seg, urow;
  P<uint8_t> status;

  explicit Side(const Spec& s) : spec(s) {
    const int64_t cap = s.capacity;
    digest = make(std::vector<uint8_t>(cap, gw::kEmptySlot));
    value = make(std::vector<uint64_t>(cap, 0));
    meta = make(std::vector<gw::RowMeta>(cap, gw::RowMeta{}));
    update_count = make(std::vector<int32_t>(cap, 0));
    weight = make(std::vector<float>(cap * s.dim, 0.0f));
    state = make(std::vector<float>(cap * s.state_width(), 0.0f));
    sketch = make(std::vector<uint32_t>(s.sketch_depth * s.sketch_width, 0u));
    t.dim = s.dim;
    t.state_width = s.state_width();
    t.capacity = cap;
    t.bucket_size = s.bucket_size;
    t.buckets = s.buckets();
    t.digest = ptr(digest);
    t.value = ptr(value);
    t.meta = ptr(meta);
    t.update_count = ptr(update_count);
    t.weight = ptr(weight);
    t.state = t.state_width ? ptr(state) : nullptr;
    t.sketch = s.sketch_depth ? ptr(sketch) : nullptr;
    t.sketch_width = s.sketch_width;
    t.sketch_depth = s.sketch_depth;
  }

  int64_t unique(const std::vector<int64_t>& k) {
    n = static_cast<int64_t>(k.size());
    keys = make(k);
    ukeys = out<int64_t>(n);
    inverse = out<int32_t>(n);
    perm = out<int32_t>(n);
    seg = out<int32_t>(n + 1);
    U = B::unique(ptr(keys), n, ptr(ukeys), ptr(inverse), ptr(perm), ptr(seg));
    return U;
  }
  int64_t find(bool train, const Clock& c) {
    urow = out<int32_t>(U);
    status = out<uint8_t>(U);
    hits = -1;
    return B::find(t, ptr(ukeys), ptr(seg), U, spec.admit_after, train, spec.policy_params(), c, ptr(urow),
                   ptr(status), &hits);
  }
  void touch(uint32_t mask, const Clock& c) {
    B::touch(t, ptr(urow), ptr(status), ptr(seg), U, mask, spec.policy_params(), c);
  }
  /// The keys of the rows removed (sorted: the set is the contract, not the order).
  std::vector<int64_t> evict(int64_t count, const Clock& c) {
    P<int32_t> victims = out<int32_t>(spec.capacity);
    const int64_t found = B::select_victims(t, spec.policy_params(), c, count, ptr(victims));
    return remove(victims, found);
  }
  std::vector<int64_t> sweep(bool expired, int32_t min_updates, const Clock& c) {
    P<int32_t> victims = out<int32_t>(spec.capacity);
    const int64_t found = B::sweep(t, spec.policy_params(), c, expired, min_updates, ptr(victims));
    return remove(victims, found);
  }
  std::vector<int64_t> remove(const P<int32_t>& victims, int64_t found) {
    const std::vector<int32_t> rows = host(victims);
    const std::vector<gw::RowMeta> m = host(meta);
    std::vector<int64_t> gone;
    for (int64_t i = 0; i < found; ++i) gone.push_back(m[rows[i]].key);
    std::sort(gone.begin(), gone.end());
    B::remove(t, ptr(victims), found);
    size -= found;
    return gone;
  }
  /// (placed, evicted)
  std::pair<int64_t, int64_t> insert(const Clock& c) {
    int64_t evicted = -1;
    const int64_t placed = B::insert(t, ptr(ukeys), ptr(seg), U, ptr(status), ptr(urow), spec.policy_params(),
                                     spec.init_params(), c, &evicted);
    size += placed - evicted;
    return {placed, evicted};
  }

  /// The row every position reads (−1: the default), on the host.
  std::vector<int32_t> position_rows() {
    const std::vector<int32_t> ur = host(urow), inv = host(inverse);
    std::vector<int32_t> r(n);
    for (int64_t p = 0; p < n; ++p) r[p] = ur[inv[p]];
    return r;
  }

  Snapshot snapshot() {
    const auto w = host(weight), st = host(state);
    const auto dg = host(digest);
    const auto m = host(meta);
    const auto uc = host(update_count);
    const int64_t d = spec.dim, sw = spec.state_width();
    Snapshot snap;
    for (int64_t r = 0; r < spec.capacity; ++r) {
      if (dg[r] == gw::kEmptySlot) continue;
      const int64_t key = m[r].key;
      GW_EXPECT(snap.count(key) == 0, spec.name, ": key ", key, " held by two slots");
      snap[key] = RowSnap{{w.begin() + r * d, w.begin() + (r + 1) * d},
                          {st.begin() + r * sw, st.begin() + (r + 1) * sw},
                          m[r].last_step, m[r].changed_step, m[r].last_time, uc[r], m[r].freq, m[r].score};
    }
    return snap;
  }
};

template <class T>
void expect_equal(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  GW_EXPECT(got.size() == want.size(), what, ": size ", got.size(), " vs ", want.size());
  for (size_t i = 0; i < got.size(); ++i)
    GW_EXPECT(got[i] == want[i], what, ": [", i, "] is ", +got[i], ", want ", +want[i]);
}

void close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  gwtest::expect_close(got, want, 1e-5, 1e-6, what.c_str());
}

/// Same keys, same metadata, values close.
void expect_same_table(const Snapshot& got, const Snapshot& want, const std::string& what) {
  GW_EXPECT(got.size() == want.size(), what, ": ", got.size(), " keys vs ", want.size());
  for (const auto& [key, w] : want) {
    auto it = got.find(key);
    GW_EXPECT(it != got.end(), what, ": key ", key, " missing");
    const RowSnap& g = it->second;
    const std::string k = what + " key " + std::to_string(key);
    GW_EXPECT(g.last_step == w.last_step && g.changed_step == w.changed_step && g.last_time == w.last_time &&
                  g.update_count == w.update_count && g.freq == w.freq,
              k, ": metadata differs");
    close({g.score}, {w.score}, k + " score");
    close(g.weight, w.weight, k + " weight");
    close(g.state, w.state, k + " state");
  }
}

/// The lookup phases of one training (or eval) step, in the documented order, on one side.
/// Returns the inputs the caller compares: statuses, victims' keys, counts.
struct StepLog {
  int64_t U = 0, news = 0, hits = 0, inserted = 0, evicted = 0;
};

template <class B>
StepLog lookup_step(Side<B>& s, const std::vector<int64_t>& keys, bool train, const Clock& c) {
  StepLog log;
  log.U = s.unique(keys);
  log.news = s.find(train, c);
  log.hits = s.hits;
  if (!train) return log;
  s.touch(gw::status_bit(gw::kHit) | gw::status_bit(gw::kReinit), c);  // as embedding_table.cpp
  std::tie(log.inserted, log.evicted) = s.insert(c);
  return log;
}

Clock clock_at(int64_t step) { return Clock{step, 0.25 * static_cast<double>(step)}; }

}  // namespace

// ---- CPU: the twin against references and the table's invariants

GW_TEST(embedding_init_math_cpu) {
  // The arithmetic log and sincos of a row's normal start, against the double-precision libm.
  double worst_log = 0, worst_trig = 0;
  for (int i = 1; i <= 200000; ++i) {
    const float x = static_cast<float>(i) / 200000.0f;  // (0, 1]
    const float tiny = std::ldexp(static_cast<float>(i), -40);
    for (float v : {x, tiny}) {
      const double want = std::log(static_cast<double>(v));
      worst_log = std::max(worst_log, std::fabs(gw::emb::init_log(v) - want) / std::max(1.0, std::fabs(want)));
    }
    const float u = static_cast<float>(i - 1) / 200000.0f;  // [0, 1)
    float sn, cs;
    gw::emb::init_sincos_2pi(u, &sn, &cs);
    const double th = 6.283185307179586 * u;
    worst_trig = std::max({worst_trig, std::fabs(sn - std::sin(th)), std::fabs(cs - std::cos(th))});
  }
  GW_EXPECT(worst_log < 3e-7, "init_log: relative error ", worst_log);
  GW_EXPECT(worst_trig < 3e-7, "init_sincos_2pi: error ", worst_trig);
}

GW_TEST(embedding_unique_cpu) {
  // 5,000 and 70,000: the bucketed pass of the sort (random and clustered ids, duplicates).
  // Few distinct keys (a batch of fields with small vocabularies): the hash path, up to and
  // past its limit of n/8 distinct keys (then the sort takes over).
  std::vector<std::vector<int64_t>> streams;
  for (int64_t n : {0, 1, 7, 300, 5000, 70000}) streams.push_back(key_stream(n, 11 + n));
  for (int64_t distinct : {1, 900, 2047, 2048, 2049}) {
    std::mt19937_64 rng(distinct);
    std::vector<int64_t> vocab(static_cast<size_t>(distinct));
    for (auto& k : vocab) k = static_cast<int64_t>(rng());  // distinct (a collision is 2^-40 likely)
    vocab[0] = INT64_MIN;
    if (distinct > 1) vocab[1] = INT64_MAX;
    std::vector<int64_t> keys(16384);
    for (size_t p = 0; p < keys.size(); ++p) keys[p] = vocab[p < vocab.size() ? p : rng() % vocab.size()];
    std::shuffle(keys.begin(), keys.end(), rng);
    streams.push_back(keys);
  }
  for (const auto& keys : streams) {
    const int64_t n = static_cast<int64_t>(keys.size());
    Side<CpuBackend> s(specs()[0]);
    const int64_t U = s.unique(keys);
    std::map<int64_t, std::vector<int32_t>> ref;
    for (int64_t p = 0; p < n; ++p) ref[keys[p]].push_back(static_cast<int32_t>(p));
    GW_EXPECT(U == static_cast<int64_t>(ref.size()), "U ", U, " vs ", ref.size());
    const auto uk = Side<CpuBackend>::host(s.ukeys);
    const auto inv = Side<CpuBackend>::host(s.inverse);
    const auto perm = Side<CpuBackend>::host(s.perm), seg = Side<CpuBackend>::host(s.seg);
    GW_EXPECT(seg[U] == n, "seg[U] = ", seg[U]);
    int64_t u = 0;
    for (const auto& [key, pos] : ref) {
      GW_EXPECT(uk[u] == key, "ukeys[", u, "]");
      expect_equal(std::vector<int32_t>(perm.begin() + seg[u], perm.begin() + seg[u + 1]), pos, "perm group");
      for (int32_t p : pos) GW_EXPECT(inv[p] == u, "inverse[", p, "]");
      ++u;
    }
  }
}

GW_TEST(embedding_table_invariants_cpu) {
  for (const Spec& spec : specs()) {
    Side<CpuBackend> s(spec);
    int64_t evicted = 0, rejected = 0, dropped_all = 0;
    for (int step = 1; step <= spec.steps; ++step) {
      const Clock c = clock_at(step);
      const auto keys = key_stream(spec.keys_per_step, 1000 * step + spec.dim);
      const StepLog log = lookup_step(s, keys, true, c);
      const auto st = Side<CpuBackend>::host(s.status);
      const auto ur = Side<CpuBackend>::host(s.urow);
      const auto uk = Side<CpuBackend>::host(s.ukeys);
      const auto seg = Side<CpuBackend>::host(s.seg);
      const auto meta = Side<CpuBackend>::host(s.meta);
      const auto dg = Side<CpuBackend>::host(s.digest);
      int64_t dropped = 0, hit_positions = 0;
      for (int64_t u = 0; u < log.U; ++u) {
        if (st[u] == gw::kHit || st[u] == gw::kReinit || st[u] == gw::kNew) {
          GW_EXPECT(ur[u] >= 0 && dg[ur[u]] != gw::kEmptySlot && meta[ur[u]].key == uk[u], spec.name, ": key ", uk[u],
                    " lost its row");
          // In its own bucket, under its digest.
          const uint64_t h = gw::emb::mix64(static_cast<uint64_t>(uk[u]));
          int64_t lo, hi;
          gw::emb::bucket_range(s.t, gw::emb::bucket_of(s.t, h), &lo, &hi);
          GW_EXPECT(ur[u] >= lo && ur[u] < hi && dg[ur[u]] == gw::emb::digest_of(h), spec.name, ": key ", uk[u],
                    " outside its bucket");
        } else {
          GW_EXPECT(ur[u] == -1, spec.name, ": a rejected key has a row");
          dropped += st[u] == gw::kDropped;
          rejected += st[u] == gw::kReject;
        }
        if (st[u] == gw::kHit) hit_positions += seg[u + 1] - seg[u];
      }
      evicted += log.evicted;
      dropped_all += dropped;
      GW_EXPECT(log.hits == hit_positions, spec.name, ": hits ", log.hits, " vs ", hit_positions);
      GW_EXPECT(log.inserted + dropped == log.news, spec.name, ": ", log.inserted, " + ", dropped, " != ", log.news);
      GW_EXPECT(static_cast<int64_t>(s.snapshot().size()) == s.size, spec.name,
                ": occupied slots and the count of placements and evictions disagree");
      // Every key the step holds is found again by an eval lookup at the same clock.
      const auto held = s.snapshot();
      std::vector<int64_t> again;
      for (const auto& kv : held) again.push_back(kv.first);
      lookup_step(s, again, false, c);
      const auto st2 = Side<CpuBackend>::host(s.status);
      for (size_t u = 0; u < again.size(); ++u)
        GW_EXPECT(st2[u] == gw::kHit || (spec.ttl_steps > 0 || spec.ttl_seconds > 0), spec.name, ": held key ", again[u],
                  " not found");
    }
    // The streams are meant to exercise eviction, and admission's rejections.
    GW_EXPECT(evicted > 0, spec.name, ": nothing was evicted");
    GW_EXPECT(rejected > 0 || spec.sketch_depth == 0, spec.name, ": admission rejected nothing");
  }
}

// ---- CUDA against the CPU twin

#ifdef GW_WITH_CUDA
namespace {

using CpuSide = Side<CpuBackend>;
using CudaSide = Side<CudaBackend>;

void compare_lookup(CpuSide& a, CudaSide& b, const StepLog& la, const StepLog& lb, const std::string& what) {
  GW_EXPECT(la.U == lb.U && la.news == lb.news && la.hits == lb.hits && la.inserted == lb.inserted &&
                la.evicted == lb.evicted,
            what, ": counts U ", la.U, "/", lb.U, " new ", la.news, "/", lb.news, " hits ", la.hits, "/", lb.hits,
            " inserted ", la.inserted, "/", lb.inserted, " evicted ", la.evicted, "/", lb.evicted);
  expect_equal(CudaSide::host(b.ukeys), CpuSide::host(a.ukeys), what + " ukeys");
  expect_equal(CudaSide::host(b.inverse), CpuSide::host(a.inverse), what + " inverse");
  expect_equal(CudaSide::host(b.perm), CpuSide::host(a.perm), what + " perm");
  expect_equal(CudaSide::host(b.seg), CpuSide::host(a.seg), what + " seg");
  expect_equal(CudaSide::host(b.status), CpuSide::host(a.status), what + " status");
  std::vector<int32_t> ha = CpuSide::host(a.urow), hb = CudaSide::host(b.urow);
  for (auto* v : {&ha, &hb})
    for (auto& r : *v) r = r >= 0;  // rows differ between devices; whether there is one does not
  expect_equal(hb, ha, what + " urow >= 0");
  expect_equal(CudaSide::host(b.sketch), CpuSide::host(a.sketch), what + " sketch");
}

/// Lookup outputs (gather, bags) and backward on both sides, compared.
void compare_outputs(CpuSide& a, CudaSide& b, uint64_t seed, const std::string& what) {
  const Spec& spec = a.spec;
  const int64_t d = spec.dim, n = a.n, U = a.U;
  const auto default_row = gwtest::random_floats(d, seed);
  const auto offsets = bag_offsets(n, std::max<int64_t>(1, n / 5), seed + 1);
  const int64_t bags = static_cast<int64_t>(offsets.size());
  const auto pos_weight = gwtest::random_floats(n, seed + 2, 0.5f, 1.5f);
  const auto gout = gwtest::random_floats(std::max(n, bags) * d, seed + 3);
  auto da = CpuSide::make(default_row), pa = CpuSide::make(pos_weight), ga = CpuSide::make(gout);
  auto oa = CpuSide::make(offsets);
  auto db = CudaSide::make(default_row), pb = CudaSide::make(pos_weight), gb = CudaSide::make(gout);
  auto ob = CudaSide::make(offsets);
  for (bool with_default : {false, true}) {
    auto out_a = CpuSide::out<float>(n * d);
    auto out_b = CudaSide::out<float>(n * d);
    CpuBackend::gather(a.t.weight, d, CpuSide::ptr(a.urow), CpuSide::ptr(a.inverse), n,
                       with_default ? CpuSide::ptr(da) : nullptr, CpuSide::ptr(out_a));
    CudaBackend::gather(b.t.weight, d, CudaSide::ptr(b.urow), CudaSide::ptr(b.inverse), n,
                        with_default ? CudaSide::ptr(db) : nullptr, CudaSide::ptr(out_b));
    close(CudaSide::host(out_b), CpuSide::host(out_a), what + " gather");
  }
  for (int mode = 0; mode < 4; ++mode) {  // plain | bags × {sum, mean} × pos_weight
    const bool bagged = mode > 0, mean = mode == 2, weighted = mode == 3;
    const int64_t* off_a = bagged ? CpuSide::ptr(oa) : nullptr;
    const int64_t* off_b = bagged ? CudaSide::ptr(ob) : nullptr;
    const float* pw_a = weighted ? CpuSide::ptr(pa) : nullptr;
    const float* pw_b = weighted ? CudaSide::ptr(pb) : nullptr;
    const std::string m = what + " mode " + std::to_string(mode);
    if (bagged) {
      auto fa = CpuSide::out<float>(bags * d);
      auto fb = CudaSide::out<float>(bags * d);
      CpuBackend::bag_forward(a.t.weight, d, CpuSide::ptr(a.urow), CpuSide::ptr(a.inverse), n, off_a, bags, pw_a,
                              mean, CpuSide::ptr(da), CpuSide::ptr(fa));
      CudaBackend::bag_forward(b.t.weight, d, CudaSide::ptr(b.urow), CudaSide::ptr(b.inverse), n, off_b, bags, pw_b,
                               mean, CudaSide::ptr(db), CudaSide::ptr(fb));
      close(CudaSide::host(fb), CpuSide::host(fa), m + " bag_forward");
    }
    auto gua = CpuSide::out<float>(U * d), gpa = CpuSide::out<float>(n);
    auto gub = CudaSide::out<float>(U * d), gpb = CudaSide::out<float>(n);
    CpuBackend::bag_backward(CpuSide::ptr(ga), d, CpuSide::ptr(a.perm), CpuSide::ptr(a.seg), U, n, off_a, bags, pw_a,
                             mean, CpuSide::ptr(gua), a.t.weight, CpuSide::ptr(a.urow), CpuSide::ptr(a.inverse),
                             CpuSide::ptr(da), CpuSide::ptr(gpa));
    CudaBackend::bag_backward(CudaSide::ptr(gb), d, CudaSide::ptr(b.perm), CudaSide::ptr(b.seg), U, n, off_b, bags,
                              pw_b, mean, CudaSide::ptr(gub), b.t.weight, CudaSide::ptr(b.urow),
                              CudaSide::ptr(b.inverse), CudaSide::ptr(db), CudaSide::ptr(gpb));
    close(CudaSide::host(gub), CpuSide::host(gua), m + " grad_unique");
    close(CudaSide::host(gpb), CpuSide::host(gpa), m + " grad_pos_weight");
  }
}

/// The fused sparse step, once per position group (perm/seg) and once per unique key (perm null).
template <class B>
void sparse_step(Side<B>& s, const std::vector<float>& grads, bool grouped, int64_t step) {
  using S = Side<B>;
  const auto rows = grouped ? s.position_rows() : S::host(s.urow);
  auto r = S::make(rows);
  auto g = S::make(grads);
  B::sparse_update(s.t, s.spec.opt_params(), step, S::ptr(r), grouped ? S::ptr(s.keys) : S::ptr(s.ukeys), S::ptr(g),
                   grouped ? S::ptr(s.perm) : nullptr, grouped ? S::ptr(s.seg) : nullptr, s.U);
}

/// Import values for the first k held entries of the lookup (same values per key on both sides).
template <class B>
void import_rows(Side<B>& s, int64_t k, uint64_t seed) {
  using S = Side<B>;
  const auto ur = S::host(s.urow);
  std::vector<int32_t> rows;
  for (int64_t u = 0; u < s.U && static_cast<int64_t>(rows.size()) < k; ++u)
    if (ur[u] >= 0) rows.push_back(ur[u]);
  const size_t m = rows.size();
  if (m == 0) return;
  const auto w = gwtest::random_floats(m * s.spec.dim, seed), st = gwtest::random_floats(m * s.spec.state_width(), seed + 1, 0, 1);
  const auto f = gwtest::random_floats(m, seed + 2, 0, 10);
  std::vector<int64_t> ls(m, 3), cs(m, 2);
  std::vector<double> lt(m, 0.75);
  std::vector<int32_t> uc(m, 5);
  auto pr = S::make(rows);
  auto pw = S::make(w), pst = S::make(st), pf = S::make(f);
  auto pls = S::make(ls), pcs = S::make(cs);
  auto plt = S::make(lt);
  auto puc = S::make(uc);
  B::write_rows(s.t, s.spec.policy_params(), S::ptr(pr), static_cast<int64_t>(m), S::ptr(pw), s.spec.state_width() ? S::ptr(pst) : nullptr,
                S::ptr(pls), S::ptr(plt), S::ptr(pcs), S::ptr(puc), S::ptr(pf), S::ptr(pf));
}

}  // namespace

GW_TEST(embedding_table_cuda_vs_cpu) {
  GW_REQUIRE_CUDA();
  for (const Spec& spec : specs()) {
    CpuSide a(spec);
    CudaSide b(spec);
    for (int step = 1; step <= spec.steps; ++step) {
      const std::string what = std::string(spec.name) + " step " + std::to_string(step);
      const Clock c = clock_at(step);
      const bool train = step % 5 != 0;  // every fifth step an eval lookup
      const auto keys = key_stream(step == 3 ? 0 : spec.keys_per_step, 1000 * step + spec.dim);
      const StepLog la = lookup_step(a, keys, train, c), lb = lookup_step(b, keys, train, c);
      compare_lookup(a, b, la, lb, what);
      expect_same_table(b.snapshot(), a.snapshot(), what + " table");
      if (a.n == 0) continue;
      compare_outputs(a, b, 77 + step, what);
      if (!train) continue;
      const auto grads = gwtest::random_floats(a.n * spec.dim, 99 + step);
      const bool grouped = step % 2 == 1;
      sparse_step(a, grads, grouped, step);
      sparse_step(b, grads, grouped, step);
      expect_same_table(b.snapshot(), a.snapshot(), what + " after sparse_update");
      if (step % 4 == 0) {
        import_rows(a, 3, step);
        import_rows(b, 3, step);
        expect_same_table(b.snapshot(), a.snapshot(), what + " after write_rows");
      }
      if (step % 3 == 0) {
        auto ka = a.sweep(true, step % 2 ? 1 : 0, c), kb = b.sweep(true, step % 2 ? 1 : 0, c);
        std::sort(ka.begin(), ka.end());  // sweep lists rows ascending: the keys' order differs
        std::sort(kb.begin(), kb.end());
        expect_equal(kb, ka, what + " swept keys");
        expect_same_table(b.snapshot(), a.snapshot(), what + " after sweep");
        // evict({ toSize }): the whole table's lowest rows, as if one step later.
        const Clock later = clock_at(step + 1);
        const int64_t count = a.size / 3;
        const auto ka2 = a.evict(count, later), kb2 = b.evict(count, later);
        GW_EXPECT(!ka2.empty(), what, ": evict found nothing");
        expect_equal(kb2, ka2, what + " evicted keys");
        expect_same_table(b.snapshot(), a.snapshot(), what + " after select_victims");
      }
    }
  }
}
#endif  // GW_WITH_CUDA
