// The daemon's end of one sandbox's relay (Sentryd.RelayGuest): the shim forwards the guest
// sensor's batches here and carries out the actions that need the agent or the VM. hooks()
// turns the link into the SandboxHooks a SandboxMonitor consumes, so the monitor works the
// same embedded in `kata-sentry run` (hooks talk to the sandbox directly) and in the daemon
// (hooks talk to the shim through this link).
//
// Back-pressure: push() blocks while kQueueBatches batches wait for the monitor, which stalls
// the relay's gRPC stream, then the shim's read of the agent stream, and finally the agent's
// own bounded queue, which drops and counts. Nothing is dropped silently on the host side.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/result.h"
#include "runtime/monitor/sandbox_monitor.h"
#include "sentryd.pb.h"

namespace kata_sentry::daemon {

class RelayLink {
 public:
  static constexpr size_t kQueueBatches = 64;
  // Sends a command to the shim; false when the stream is broken. Called from monitor threads.
  using Send = std::function<bool(const v1::RelayCommand&)>;

  RelayLink(std::string sandbox_id, Send send, std::chrono::milliseconds command_timeout = std::chrono::seconds(10));

  // From the stream's reader: a batch (blocks while the queue is full, until close()) and the
  // shim's answer to a command.
  void push(runtime::GuestEventBatch batch);
  void complete(const v1::RelayResult& result);
  // The stream ended: pending commands fail, the monitor's stream_events returns.
  void close();
  bool closed() const;

  monitor::SandboxHooks hooks();

 private:
  Status stream(const std::function<bool(runtime::GuestEventBatch&&)>& on_batch);
  Result<v1::RelayResult> call(v1::RelayCommand command, const std::string& what);

  const std::string sandbox_id_;
  const Send send_;
  const std::chrono::milliseconds command_timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<runtime::GuestEventBatch> queue_;
  std::map<uint64_t, std::optional<v1::RelayResult>> pending_;
  uint64_t next_id_ = 1;
  bool closed_ = false;
};

}  // namespace kata_sentry::daemon
