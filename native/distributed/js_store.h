// gatewise distributed — a gloo::rendezvous::Store whose set / get / wait are answered by a
// JavaScript function (lib/distributed/store.ts: the TCP store client). Gloo calls the store
// from the communication thread during the rendezvous; each call is handed to the main
// thread through a thread-safe function and the thread waits for the JS promise to settle.
#pragma once
#include <napi.h>
#include <gloo/rendezvous/store.h>

#include <chrono>
#include <string>
#include <vector>

namespace gw::dist {

class JsStore : public gloo::rendezvous::Store {
 public:
  /// fn(op: 'set' | 'get' | 'wait', keys: string[], value: Buffer | null, timeoutMs) → Promise<Buffer | null>.
  JsStore(Napi::Env env, Napi::Function fn, int64_t timeout_ms);
  ~JsStore() override;

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  std::vector<char> call(const char* op, const std::vector<std::string>& keys, const std::vector<char>* value, int64_t timeout_ms);

  Napi::ThreadSafeFunction tsfn_;
  int64_t timeout_ms_;
};

}  // namespace gw::dist
