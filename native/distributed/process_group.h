// gatewise distributed — a Gloo process group: one gloo::Context (full mesh over TCP) and
// one communication thread that runs the group's collectives in the order they were queued.
// Every rank must queue the same collectives in the same order (as with any process group);
// each one gets the next tag, so the ranks' n-th operations meet each other.
//
// The thread runs the blocking Gloo calls; the caller gets a Work it can wait for (blocking)
// or poll. After the first failure (a peer closed its connection, a timeout) the context is
// unusable: every later operation fails at once with that first error.
#pragma once
#include <gloo/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/device.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace gw::dist {

/// One queued operation's state, shared by the queue and whoever waits for it.
class Work {
 public:
  /// Blocks until the operation finished; returns its error ("" on success).
  std::string wait();
  /// Like wait() but gives up after `ms` milliseconds; returns false if not finished.
  bool wait_for(int64_t ms);
  bool done();
  /// Seconds the operation took on the communication thread (valid once done).
  double seconds();
  void finish(const std::string& error, double seconds);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::string error_;
  double seconds_ = 0;
};

using WorkPtr = std::shared_ptr<Work>;
/// An operation body: runs on the communication thread with the group's context, the
/// operation's tag and the timeout. Throws on failure.
using OpFn = std::function<void(const std::shared_ptr<gloo::Context>&, uint32_t tag, std::chrono::milliseconds)>;

struct GroupOptions {
  int rank = 0;
  int size = 1;
  std::string hostname;  ///< the address the other ranks reach this one at ("" → this host's name)
  std::string iface;     ///< or a network interface whose address to use
  int64_t timeout_ms = 300000;
};

class ProcessGroup {
 public:
  explicit ProcessGroup(GroupOptions options);
  ~ProcessGroup();  ///< stops the thread after the queued operations ran

  /// Queues the rendezvous: the full mesh is connected through `store` (set, get and wait
  /// of each rank's addresses). The store must stay alive until the returned Work is done.
  WorkPtr connect(std::shared_ptr<gloo::rendezvous::Store> store);
  /// Queues a collective.
  WorkPtr enqueue(OpFn op);
  /// Stops accepting work; queued operations still run. Idempotent.
  void close();

  const GroupOptions& options() const { return opts_; }
  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(opts_.timeout_ms); }

 private:
  void run();

  GroupOptions opts_;
  std::shared_ptr<gloo::Context> context_;
  std::string failed_;  ///< the first error; set on the thread only
  uint32_t next_tag_ = 1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<OpFn, WorkPtr>> queue_;
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace gw::dist
