// gatewise distributed — the rendezvous store answered by JavaScript (see js_store.h).
#include "js_store.h"

#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace gw::dist {

namespace {

struct Request {
  std::string op;
  std::vector<std::string> keys;
  std::vector<char> value;
  bool has_value = false;
  int64_t timeout_ms = 0;
  std::promise<std::vector<char>> result;
  std::once_flag settled;

  void resolve(std::vector<char> data) {
    std::call_once(settled, [&] { result.set_value(std::move(data)); });
  }
  void reject(const std::string& message) {
    std::call_once(settled, [&] { result.set_exception(std::make_exception_ptr(std::runtime_error(message))); });
  }
};

using RequestPtr = std::shared_ptr<Request>;

std::string message_of(const Napi::Value& v) {
  if (v.IsObject()) {
    Napi::Value m = v.As<Napi::Object>().Get("message");
    if (m.IsString()) return m.As<Napi::String>().Utf8Value();
  }
  return v.ToString().Utf8Value();
}

// On the main thread: call the JS store function and settle the request when its promise does.
void dispatch(Napi::Env env, Napi::Function fn, RequestPtr* holder) {
  RequestPtr req = *holder;
  delete holder;
  if (env == nullptr || fn.IsEmpty()) {
    req->reject("the rendezvous store is gone (the JS environment is shutting down)");
    return;
  }
  try {
    Napi::Array keys = Napi::Array::New(env, req->keys.size());
    for (uint32_t i = 0; i < req->keys.size(); ++i) keys.Set(i, Napi::String::New(env, req->keys[i]));
    Napi::Value value = req->has_value ? Napi::Buffer<char>::Copy(env, req->value.data(), req->value.size()).As<Napi::Value>() : env.Null();
    Napi::Value p = fn.Call({Napi::String::New(env, req->op), keys, value, Napi::Number::New(env, static_cast<double>(req->timeout_ms))});
    if (!p.IsObject() || !p.As<Napi::Object>().Get("then").IsFunction()) {
      req->reject("the rendezvous store function did not return a promise");
      return;
    }
    Napi::Function on_ok = Napi::Function::New(env, [req](const Napi::CallbackInfo& info) {
      Napi::Value v = info.Length() > 0 ? info[0] : info.Env().Undefined();
      std::vector<char> data;
      if (v.IsBuffer()) {
        auto b = v.As<Napi::Buffer<char>>();
        data.assign(b.Data(), b.Data() + b.Length());
      }
      req->resolve(std::move(data));
    });
    Napi::Function on_err = Napi::Function::New(env, [req](const Napi::CallbackInfo& info) {
      req->reject(info.Length() > 0 ? message_of(info[0]) : "rendezvous store error");
    });
    p.As<Napi::Object>().Get("then").As<Napi::Function>().Call(p, {on_ok, on_err});
  } catch (const Napi::Error& e) {
    req->reject(e.Message());
  } catch (const std::exception& e) {
    req->reject(e.what());
  }
}

}  // namespace

JsStore::JsStore(Napi::Env env, Napi::Function fn, int64_t timeout_ms) : timeout_ms_(timeout_ms) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, fn, "gatewise.rendezvous", 0, 1);
  tsfn_.Unref(env);  // the store's sockets and the pending rendezvous keep the loop alive
}

JsStore::~JsStore() { tsfn_.Release(); }

std::vector<char> JsStore::call(const char* op, const std::vector<std::string>& keys, const std::vector<char>* value, int64_t timeout_ms) {
  auto req = std::make_shared<Request>();
  req->op = op;
  req->keys = keys;
  if (value) req->value = *value, req->has_value = true;
  req->timeout_ms = timeout_ms;
  auto future = req->result.get_future();
  auto* holder = new RequestPtr(req);
  if (tsfn_.BlockingCall(holder, dispatch) != napi_ok) {
    delete holder;
    throw std::runtime_error("the rendezvous store is gone (the JS environment is shutting down)");
  }
  // The JS side enforces timeout_ms itself; this margin only guards against a stalled main thread.
  if (future.wait_for(std::chrono::milliseconds(timeout_ms + 10000)) != std::future_status::ready) {
    throw std::runtime_error(std::string("rendezvous store ") + op + " did not answer within " + std::to_string(timeout_ms) + " ms (is the main thread blocked?)");
  }
  return future.get();
}

void JsStore::set(const std::string& key, const std::vector<char>& data) { call("set", {key}, &data, timeout_ms_); }

std::vector<char> JsStore::get(const std::string& key) { return call("get", {key}, nullptr, timeout_ms_); }

void JsStore::wait(const std::vector<std::string>& keys) { call("wait", keys, nullptr, timeout_ms_); }

void JsStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  call("wait", keys, nullptr, static_cast<int64_t>(timeout.count()));
}

}  // namespace gw::dist
