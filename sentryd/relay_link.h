// The daemon's end of one sandbox's relay: the shim forwards the guest sensor's batches on the
// event path (Sentryd.RelayGuestEvents) and carries out, on the control path
// (Sentryd.RelayGuest), the actions that need the agent or the VM. hooks() turns the link into
// the SandboxHooks a SandboxMonitor consumes, so the monitor works the same embedded in
// `kata-sentry run` (hooks talk to the sandbox directly) and in the daemon (hooks talk to the
// shim through this link).
//
// Back-pressure: push() waits while the queue holds kQueueBytes of batches for the monitor,
// which stalls the event path's gRPC stream, then the shim's read of the agent's stream, and
// finally the agent's own bounded queue, which drops and counts. Commands travel on the other
// path, so a full event queue never delays a command's answer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/bounded_queue.h"
#include "core/result.h"
#include "monitor/action_executor.h"
#include "sentryd.pb.h"

namespace kata_sentry::daemon {

class RelayLink {
 public:
  static constexpr size_t kQueueBytes = 16u << 20;
  static constexpr size_t kQueueBatches = 1024;
  // Sends a command to the shim; false when the stream is broken. Called from monitor threads.
  using Send = std::function<bool(const v1::RelayCommand&)>;

  // The agent holds a sensor command until its guest sensor has loaded (up to 60 s after boot,
  // kSensorStartWait in agent/service/agent_service.cpp; 7 to 15 s under TCG, more on a busy
  // host): the deny-set push at monitor start waits that long, other commands command_timeout.
  static constexpr std::chrono::seconds kSensorCommandTimeout{75};

  RelayLink(std::string sandbox_id, Send send, std::chrono::milliseconds command_timeout = std::chrono::seconds(10));

  // From the event path's reader: one batch as the agent sent it (waits while the queue is
  // full, until close()), or the note that the agent's stream ended and was re-opened.
  void push_batch(std::string wire);
  void push_stream_ended(std::string why);
  // From the control path's reader: the shim's answer to a command.
  void complete(const v1::RelayResult& result);
  // The relay ended: pending commands fail, the monitor's stream_events returns.
  void close();
  bool closed() const;
  // Batches waiting for the monitor (the metrics' relay queue depth).
  size_t queued() const { return queue_.size(); }

  monitor::SandboxHooks hooks();
  // The agent's process table through the shim (ListGuestProcessesResponse wire bytes, not
  // decoded: see sentryd/sandbox_processes.h). Fails like any command (closed, timeout, the
  // shim's or the agent's error).
  Result<std::string> list_guest_processes();

 private:
  // A batch, or (ended set) the end of one agent stream.
  struct Item {
    std::string wire;
    std::optional<std::string> ended;
  };
  Status stream(const std::function<bool(std::string&&)>& on_batch);
  Result<v1::RelayResult> call(v1::RelayCommand command, const std::string& what,
                               std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  const std::string sandbox_id_;
  const Send send_;
  const std::chrono::milliseconds command_timeout_;
  BoundedQueue<Item> queue_;
  mutable std::mutex mu_;  // the commands below
  std::condition_variable cv_;
  std::map<uint64_t, std::optional<v1::RelayResult>> pending_;
  uint64_t next_id_ = 1;
  bool closed_ = false;
};

}  // namespace kata_sentry::daemon
