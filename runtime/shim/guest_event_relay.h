// The shim's event path to kata-sentryd for one pod: the agent's guest event batches go to the
// daemon as the agent sent them (wire bytes; the daemon's guard decodes them within its
// limits). When the agent's stream breaks while the pod runs, the daemon is told why and the
// stream is re-opened, so one bad moment of the guest's never leaves the pod unwatched for the
// rest of its life. Plain functions in, so a test can play the agent and the daemon.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "core/result.h"
#include "sentryd.pb.h"

namespace kata_sentry::shim {

struct GuestEventRelay {
  // The agent's StreamEvents: delivers batches until the stream ends or the callback says stop.
  std::function<Status(const std::function<bool(std::string&&)>&)> open_stream;
  // One message on the daemon's event path; false when that path is gone.
  std::function<bool(const v1::GuestEventsMessage&)> write;
  // Why the agent's stream ended, in words for the daemon's audit.
  std::function<std::string(const Error&)> explain;
  // True once the pod is going away. wait_stopping(d) waits up to d for it.
  std::function<bool()> stopping;
  std::function<bool(std::chrono::milliseconds)> wait_stopping;
  std::chrono::milliseconds retry{1000};
};

// Runs until stopping() (returns true) or until the daemon's event path is gone (false).
bool relay_guest_events(const GuestEventRelay& relay);

}  // namespace kata_sentry::shim
