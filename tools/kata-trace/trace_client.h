// kata-trace's side of kata-sentryd's API (proto/sentryd.proto): one connection to the
// daemon's root-only socket, a one-shot listing, and followed streams that can survive a
// daemon restart (--reconnect). Protobuf types stay here; callers get domain types.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/result.h"
#include "sentryd.grpc.pb.h"

namespace kata_sentry::trace {

// What a stream asks the daemon for (it filters server-side).
struct StreamRequest {
  std::string sandbox_id;
  std::string container_id;
  std::string pod_name;
  std::string pod_namespace;
  std::optional<View> view;            // nullopt: both views
  std::vector<std::string> event_types;
  std::string condition;               // a Falco condition, compiled by the daemon
  std::string min_priority;            // alerts
  std::vector<std::string> rules;      // alerts
  std::string client;                  // shown by `kata-trace sandboxes -o wide`
};

struct AlertItem {
  uint64_t time_ns = 0;
  std::string sandbox_id;
  std::string container_id;
  std::string rule;
  std::string priority;  // "" for an audit record
  bool audit = false;
  std::string json;      // the line the alerts file got
};

struct FollowOptions {
  bool reconnect = false;                       // re-subscribe when the daemon goes away
  std::chrono::milliseconds retry_every{500};
  const std::atomic<bool>* stop = nullptr;      // set from a signal handler: the stream ends
  // Called once the daemon has the subscription in place (each time, with --reconnect).
  std::function<void()> on_subscribed;
  // Called each time the daemon went away and --reconnect waits for it.
  std::function<void(const std::string& why)> on_lost;
};

struct FollowSummary {
  uint64_t dropped = 0;    // the daemon's count for this subscriber (summed over reconnects)
  int reconnects = 0;
};

class TraceClient {
 public:
  explicit TraceClient(std::string socket_path);

  const std::string& socket_path() const { return socket_path_; }
  // Fails (unavailable) naming the socket when the daemon cannot be reached.
  Result<v1::ListSandboxesResponse> list(std::chrono::milliseconds deadline = std::chrono::seconds(5));
  // One sandbox's processes, both views; fails (not_found) for a sandbox the daemon does not
  // know. The guest's part takes a round trip through the shim, hence the longer deadline.
  Result<v1::ListProcessesResponse> processes(const std::string& sandbox_id,
                                              std::chrono::milliseconds deadline = std::chrono::seconds(15));

  // Follow events until `stop`, the daemon stops (without reconnect), or `on_event` returns
  // false. Fails (invalid_argument) with the daemon's message for a bad request (a bad filter:
  // "filter:1:COL: ..."), or (unavailable) when the daemon cannot be reached.
  // `on_undecodable`: an event the daemon sent that does not convert (a newer daemon).
  Result<FollowSummary> follow_events(const StreamRequest& request, const FollowOptions& options,
                                      const std::function<bool(const Event&)>& on_event,
                                      const std::function<bool(const Error&)>& on_undecodable);
  Result<FollowSummary> follow_alerts(const StreamRequest& request, const FollowOptions& options,
                                      const std::function<bool(const AlertItem&)>& on_alert);

 private:
  std::shared_ptr<grpc::Channel> channel();
  const std::string socket_path_;
};

}  // namespace kata_sentry::trace
