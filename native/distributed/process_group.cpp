// gatewise distributed — the process group's queue and communication thread.
#include "process_group.h"

#include <gloo/common/error.h>
#include <gloo/rendezvous/context.h>
#include <gloo/transport/tcp/device.h>

#include <exception>

namespace gw::dist {

std::string Work::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_; });
  return error_;
}

bool Work::wait_for(int64_t ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return done_; });
}

bool Work::done() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

double Work::seconds() {
  std::lock_guard<std::mutex> lock(mu_);
  return seconds_;
}

void Work::finish(const std::string& error, double seconds) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    error_ = error;
    seconds_ = seconds;
  }
  cv_.notify_all();
}

ProcessGroup::ProcessGroup(GroupOptions options) : opts_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

ProcessGroup::~ProcessGroup() {
  close();
  if (thread_.joinable()) thread_.join();
}

void ProcessGroup::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
}

WorkPtr ProcessGroup::enqueue(OpFn op) {
  auto work = std::make_shared<Work>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) {
      work->finish("the process group was destroyed", 0);
      return work;
    }
    queue_.emplace_back(std::move(op), work);
  }
  cv_.notify_all();
  return work;
}

WorkPtr ProcessGroup::connect(std::shared_ptr<gloo::rendezvous::Store> store) {
  return enqueue([this, store](const std::shared_ptr<gloo::Context>&, uint32_t, std::chrono::milliseconds timeout) {
    gloo::transport::tcp::attr attr;
    if (!opts_.iface.empty()) attr.iface = opts_.iface;
    else attr.hostname = opts_.hostname;
    auto device = gloo::transport::tcp::CreateDevice(attr);
    auto ctx = std::make_shared<gloo::rendezvous::Context>(opts_.rank, opts_.size);
    ctx->setTimeout(timeout);
    ctx->connectFullMesh(*store, device);
    context_ = ctx;
  });
}

void ProcessGroup::run() {
  for (;;) {
    std::pair<OpFn, WorkPtr> item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and everything queued ran
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    auto t0 = std::chrono::steady_clock::now();
    std::string error;
    if (!failed_.empty()) {
      error = "an earlier operation of this process group failed: " + failed_;
    } else {
      const uint32_t tag = next_tag_++;
      try {
        item.first(context_, tag, timeout());
      } catch (const gloo::IoException& e) {
        error = std::string("gloo I/O error: ") + e.what();
      } catch (const gloo::Exception& e) {
        error = std::string("gloo error: ") + e.what();
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!error.empty()) failed_ = error;
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    item.second->finish(error, s);
  }
}

}  // namespace gw::dist
