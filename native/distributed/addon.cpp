// gatewise distributed — the second addon (gatewise_gloo.node): Gloo process groups for
// JavaScript. Built only where libgloo is found (CMakeLists.txt), loaded lazily by
// lib/distributed/gloo.ts, so the main addon never depends on Gloo.
//
//   new ProcessGroup({ rank, size, hostname, iface, timeoutMs })
//   group.connect(storeFn) → Work        the rendezvous (see js_store.h)
//   group.allReduce(array, 'sum' | 'max' | 'min') → Work        in place
//   group.broadcast(array, root) → Work                            in place
//   group.allGather(input, output, counts) → Work    output = every rank's input, in rank order
//   group.allToAll(input, sendCounts, output, recvCounts) → Work   counts in elements per rank
//   group.barrier() → Work
//   group.close()
//   work.wait()  (blocks; throws the operation's error)   work.promise()   work.done   work.seconds
//
// Arrays are typed arrays (Float32Array, Float64Array, Int32Array, BigInt64Array, Uint8Array);
// the Work keeps them alive until the operation is done.
#include <napi.h>
#include <gloo/allgatherv.h>
#include <gloo/allreduce.h>
#include <gloo/alltoallv.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/config.h>
#include <gloo/math.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "js_store.h"
#include "process_group.h"

namespace gw::dist {

namespace {

constexpr const char* kCode = "ERR_GATEWISE_DISTRIBUTED";
constexpr const char* kArgCode = "ERR_GATEWISE_ARGUMENT";

void need(const std::shared_ptr<gloo::Context>& ctx) {
  if (!ctx) throw std::runtime_error("the process group is not connected (its rendezvous failed or never ran)");
}

Napi::Error error(Napi::Env env, const std::string& message, const char* code = kCode) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

enum class Elem { kF32, kF64, kI32, kI64, kU8 };

struct Array {
  void* data = nullptr;
  size_t length = 0;  ///< elements
  Elem elem = Elem::kF32;
  size_t elem_size = 4;
};

Array array_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info.Length() > i ? info[i] : info.Env().Undefined();
  if (!v.IsTypedArray()) throw error(info.Env(), std::string("Expected a typed array for ") + name, kArgCode);
  auto a = v.As<Napi::TypedArray>();
  Array out;
  out.data = static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  out.length = a.ElementLength();
  switch (a.TypedArrayType()) {
    case napi_float32_array: out.elem = Elem::kF32, out.elem_size = 4; break;
    case napi_float64_array: out.elem = Elem::kF64, out.elem_size = 8; break;
    case napi_int32_array: out.elem = Elem::kI32, out.elem_size = 4; break;
    case napi_bigint64_array: out.elem = Elem::kI64, out.elem_size = 8; break;
    case napi_uint8_array: out.elem = Elem::kU8, out.elem_size = 1; break;
    default:
      throw error(info.Env(), std::string("Expected a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array for ") + name, kArgCode);
  }
  return out;
}

std::vector<int64_t> counts_arg(const Napi::CallbackInfo& info, size_t i, const char* name, size_t ranks) {
  Napi::Value v = info.Length() > i ? info[i] : info.Env().Undefined();
  if (!v.IsArray()) throw error(info.Env(), std::string("Expected an array of ") + std::to_string(ranks) + " counts for " + name, kArgCode);
  auto a = v.As<Napi::Array>();
  if (a.Length() != ranks) throw error(info.Env(), std::string("Expected ") + std::to_string(ranks) + " counts (one per rank) for " + name + " but received " + std::to_string(a.Length()), kArgCode);
  std::vector<int64_t> out(ranks);
  for (uint32_t r = 0; r < ranks; ++r) {
    Napi::Value c = a.Get(r);
    double d = c.IsNumber() ? c.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0) || d != static_cast<double>(static_cast<int64_t>(d))) {
      throw error(info.Env(), std::string("Expected a non-negative integer for ") + name + "[" + std::to_string(r) + "]", kArgCode);
    }
    out[r] = static_cast<int64_t>(d);
  }
  return out;
}

template <typename T>
gloo::AllreduceOptions::Func reducer(const std::string& op) {
  using Fn = void (*)(void*, const void*, const void*, size_t);
  if (op == "sum") return static_cast<Fn>(&gloo::sum<T>);
  if (op == "max") return static_cast<Fn>(&gloo::max<T>);
  if (op == "min") return static_cast<Fn>(&gloo::min<T>);
  return nullptr;
}

gloo::AllreduceOptions::Func reducer_for(Elem e, const std::string& op) {
  switch (e) {
    case Elem::kF32: return reducer<float>(op);
    case Elem::kF64: return reducer<double>(op);
    case Elem::kI32: return reducer<int32_t>(op);
    case Elem::kI64: return reducer<int64_t>(op);
    case Elem::kU8: return reducer<uint8_t>(op);
  }
  return nullptr;
}

class WorkWrap : public Napi::ObjectWrap<WorkWrap> {
 public:
  static Napi::FunctionReference* ctor;
  static void Init(Napi::Env env) {
    Napi::Function f = DefineClass(env, "Work",
                                   {InstanceMethod("wait", &WorkWrap::Wait), InstanceMethod("promise", &WorkWrap::Promise),
                                    InstanceAccessor("done", &WorkWrap::Done, nullptr),
                                    InstanceAccessor("seconds", &WorkWrap::Seconds, nullptr)});
    ctor = new Napi::FunctionReference(Napi::Persistent(f));
    env.SetInstanceData<Napi::FunctionReference>(ctor);
  }
  static Napi::Object Make(Napi::Env env, WorkPtr work, std::vector<Napi::Value> keep) {
    Napi::Object o = ctor->New({});
    WorkWrap* w = Unwrap(o);
    w->work_ = std::move(work);
    for (auto& v : keep) w->keep_.push_back(Napi::Persistent(v));
    return o;
  }
  explicit WorkWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WorkWrap>(info) {}
  ~WorkWrap() override {
    // Collected before it was waited for: the thread may still use the arrays.
    if (work_) work_->wait();
  }

 private:
  class Waiter : public Napi::AsyncWorker {
   public:
    Waiter(Napi::Env env, WorkPtr work, Napi::Object owner)
        : Napi::AsyncWorker(env, "gatewise.distributed.wait"), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {
      owner_ = Napi::Persistent(owner);
    }
    Napi::Promise promise() { return deferred_.Promise(); }

   protected:
    void Execute() override { message_ = work_->wait(); }
    void OnOK() override {
      if (message_.empty()) deferred_.Resolve(Env().Undefined());
      else deferred_.Reject(error(Env(), message_).Value());
    }

   private:
    WorkPtr work_;
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference owner_;  // keeps the arrays alive until the promise settles
    std::string message_;
  };

  Napi::Value Wait(const Napi::CallbackInfo& info) {
    std::string message = work_->wait();
    if (!message.empty()) throw error(info.Env(), message);
    return info.Env().Undefined();
  }
  Napi::Value Promise(const Napi::CallbackInfo& info) {
    auto* w = new Waiter(info.Env(), work_, info.This().As<Napi::Object>());
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  Napi::Value Done(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), work_->done()); }
  Napi::Value Seconds(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), work_->seconds()); }

  WorkPtr work_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
};

Napi::FunctionReference* WorkWrap::ctor = nullptr;

class GroupWrap : public Napi::ObjectWrap<GroupWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "ProcessGroup",
                       {InstanceMethod("connect", &GroupWrap::Connect), InstanceMethod("allReduce", &GroupWrap::AllReduce),
                        InstanceMethod("broadcast", &GroupWrap::Broadcast), InstanceMethod("allGather", &GroupWrap::AllGather),
                        InstanceMethod("allToAll", &GroupWrap::AllToAll), InstanceMethod("barrier", &GroupWrap::Barrier),
                        InstanceMethod("close", &GroupWrap::Close)});
  }

  explicit GroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GroupWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw error(env, "Expected an options object for options", kArgCode);
    Napi::Object o = info[0].As<Napi::Object>();
    GroupOptions g;
    auto num = [&](const char* key) -> double {
      Napi::Value v = o.Get(key);
      if (!v.IsNumber()) throw error(env, std::string("Expected a number for options.") + key, kArgCode);
      return v.As<Napi::Number>().DoubleValue();
    };
    g.rank = static_cast<int>(num("rank"));
    g.size = static_cast<int>(num("size"));
    g.timeout_ms = static_cast<int64_t>(num("timeoutMs"));
    if (g.size < 1 || g.rank < 0 || g.rank >= g.size) throw error(env, "Expected 0 <= options.rank < options.size", kArgCode);
    if (g.timeout_ms < 1) throw error(env, "Expected a positive options.timeoutMs", kArgCode);
    if (o.Get("hostname").IsString()) g.hostname = o.Get("hostname").As<Napi::String>().Utf8Value();
    if (o.Get("iface").IsString()) g.iface = o.Get("iface").As<Napi::String>().Utf8Value();
    group_ = std::make_unique<ProcessGroup>(g);
  }

 private:
  ProcessGroup& group(Napi::Env env) {
    if (!group_) throw error(env, "this process group was closed");
    return *group_;
  }
  int size() const { return group_->options().size; }

  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) throw error(env, "Expected a function for store", kArgCode);
    auto& g = group(env);
    auto store = std::make_shared<JsStore>(env, info[0].As<Napi::Function>(), g.options().timeout_ms);
    return WorkWrap::Make(env, g.connect(store), {});
  }

  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Array a = array_arg(info, 0, "array");
    std::string op = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "sum";
    auto fn = reducer_for(a.elem, op);
    if (!fn) throw error(env, "Expected 'sum', 'max' or 'min' for op but received '" + op + "'", kArgCode);
    auto work = group(env).enqueue([a, fn](const std::shared_ptr<gloo::Context>& ctx, uint32_t tag, std::chrono::milliseconds timeout) {
      need(ctx);
      if (a.length == 0 || ctx->size == 1) return;
      gloo::AllreduceOptions opts(ctx);
      set_elements(opts, a);
      opts.setReduceFunction(fn);
      opts.setTag(tag);
      opts.setTimeout(timeout);
      gloo::allreduce(opts);
    });
    return WorkWrap::Make(env, work, {info[0]});
  }

  // AllreduceOptions' typed setters carry the element size; pick the one for the array.
  static void set_elements(gloo::AllreduceOptions& opts, const Array& a) {
    switch (a.elem) {
      case Elem::kF32: opts.setOutput(static_cast<float*>(a.data), a.length); break;
      case Elem::kF64: opts.setOutput(static_cast<double*>(a.data), a.length); break;
      case Elem::kI32: opts.setOutput(static_cast<int32_t*>(a.data), a.length); break;
      case Elem::kI64: opts.setOutput(static_cast<int64_t*>(a.data), a.length); break;
      case Elem::kU8: opts.setOutput(static_cast<uint8_t*>(a.data), a.length); break;
    }
  }

  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Array a = array_arg(info, 0, "array");
    int root = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;
    if (root < 0 || root >= size()) throw error(env, "Expected a rank in [0, " + std::to_string(size()) + ") for root", kArgCode);
    auto work = group(env).enqueue([a, root](const std::shared_ptr<gloo::Context>& ctx, uint32_t tag, std::chrono::milliseconds timeout) {
      need(ctx);
      if (a.length == 0 || ctx->size == 1) return;
      gloo::BroadcastOptions opts(ctx);
      opts.setOutput(static_cast<uint8_t*>(a.data), a.length * a.elem_size);
      opts.setRoot(root);
      opts.setTag(tag);
      opts.setTimeout(timeout);
      gloo::broadcast(opts);
    });
    return WorkWrap::Make(env, work, {info[0]});
  }

  Napi::Value AllGather(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Array in = array_arg(info, 0, "input");
    Array out = array_arg(info, 1, "output");
    std::vector<int64_t> counts = counts_arg(info, 2, "counts", size());
    if (in.elem != out.elem) throw error(env, "Expected input and output of the same element type", kArgCode);
    int rank = group_->options().rank;
    int64_t total = 0;
    for (int64_t c : counts) total += c;
    if (static_cast<size_t>(counts[rank]) != in.length) throw error(env, "Expected counts[" + std::to_string(rank) + "] = input.length (" + std::to_string(in.length) + ")", kArgCode);
    if (static_cast<size_t>(total) != out.length) throw error(env, "Expected output.length = the sum of counts (" + std::to_string(total) + ")", kArgCode);
    auto work = group(env).enqueue([in, out, counts](const std::shared_ptr<gloo::Context>& ctx, uint32_t tag, std::chrono::milliseconds timeout) {
      need(ctx);
      if (ctx->size == 1) {
        if (in.length) std::memcpy(out.data, in.data, in.length * in.elem_size);
        return;
      }
      std::vector<size_t> bytes(counts.size());
      for (size_t r = 0; r < counts.size(); ++r) bytes[r] = static_cast<size_t>(counts[r]) * in.elem_size;
      gloo::AllgathervOptions opts(ctx);
      opts.setInput(static_cast<uint8_t*>(in.data), in.length * in.elem_size);
      opts.setOutput(static_cast<uint8_t*>(out.data), bytes);
      opts.setTag(tag);
      opts.setTimeout(timeout);
      gloo::allgatherv(opts);
    });
    return WorkWrap::Make(env, work, {info[0], info[1]});
  }

  Napi::Value AllToAll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Array in = array_arg(info, 0, "input");
    std::vector<int64_t> send = counts_arg(info, 1, "sendCounts", size());
    Array out = array_arg(info, 2, "output");
    std::vector<int64_t> recv = counts_arg(info, 3, "recvCounts", size());
    if (in.elem != out.elem) throw error(env, "Expected input and output of the same element type", kArgCode);
    int64_t s = 0, r = 0;
    for (int64_t c : send) s += c;
    for (int64_t c : recv) r += c;
    if (static_cast<size_t>(s) != in.length) throw error(env, "Expected input.length = the sum of sendCounts (" + std::to_string(s) + ")", kArgCode);
    if (static_cast<size_t>(r) != out.length) throw error(env, "Expected output.length = the sum of recvCounts (" + std::to_string(r) + ")", kArgCode);
    auto work = group(env).enqueue([in, out, send, recv](const std::shared_ptr<gloo::Context>& ctx, uint32_t tag, std::chrono::milliseconds timeout) {
      need(ctx);
      if (ctx->size == 1) {
        if (in.length) std::memcpy(out.data, in.data, in.length * in.elem_size);
        return;
      }
      std::vector<int64_t> sb(send.size()), rb(recv.size());
      for (size_t k = 0; k < send.size(); ++k) sb[k] = send[k] * static_cast<int64_t>(in.elem_size);
      for (size_t k = 0; k < recv.size(); ++k) rb[k] = recv[k] * static_cast<int64_t>(in.elem_size);
      // Gloo wants a buffer even where nothing moves: point empty ones at a byte of our own.
      static uint8_t none[8];
      gloo::AlltoallvOptions opts(ctx);
      opts.setInput(in.length ? static_cast<uint8_t*>(in.data) : none, sb);
      opts.setOutput(out.length ? static_cast<uint8_t*>(out.data) : none, rb);
      opts.setTag(tag);
      opts.setTimeout(timeout);
      gloo::alltoallv(opts);
    });
    return WorkWrap::Make(env, work, {info[0], info[2]});
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto work = group(env).enqueue([](const std::shared_ptr<gloo::Context>& ctx, uint32_t tag, std::chrono::milliseconds timeout) {
      need(ctx);
      if (ctx->size == 1) return;
      gloo::BarrierOptions opts(ctx);
      opts.setTag(tag);
      opts.setTimeout(timeout);
      gloo::barrier(opts);
    });
    return WorkWrap::Make(env, work, {});
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    group_.reset();  // runs what was queued, then joins the thread
    return info.Env().Undefined();
  }

  std::unique_ptr<ProcessGroup> group_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  WorkWrap::Init(env);
  exports.Set("ProcessGroup", GroupWrap::Init(env));
  exports.Set("glooVersion", Napi::Number::New(env, GLOO_VERSION));
  return exports;
}

}  // namespace

}  // namespace gw::dist

static Napi::Object InitGatewiseGloo(Napi::Env env, Napi::Object exports) { return gw::dist::Init(env, exports); }

NODE_API_MODULE(gatewise_gloo, InitGatewiseGloo)
