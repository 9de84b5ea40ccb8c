#include "tools/kata-trace/trace_client.h"

#include <thread>

#include <grpcpp/grpcpp.h>

#include "event_convert.h"

namespace kata_sentry::trace {
namespace {

using namespace std::chrono_literals;

// The daemon adds this to a stream's initial metadata once the subscription is in place
// (sentryd/sentryd_service.cpp).
constexpr const char* kSubscribedKey = "ks-subscribed";

ErrorCode code_of(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::INVALID_ARGUMENT: return ErrorCode::invalid_argument;
    case grpc::StatusCode::NOT_FOUND: return ErrorCode::not_found;
    case grpc::StatusCode::PERMISSION_DENIED: return ErrorCode::permission_denied;
    case grpc::StatusCode::UNAVAILABLE: return ErrorCode::unavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return ErrorCode::timeout;
    default: return ErrorCode::internal;
  }
}

bool daemon_went_away(grpc::StatusCode c) {
  return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::OK || c == grpc::StatusCode::CANCELLED ||
         c == grpc::StatusCode::INTERNAL || c == grpc::StatusCode::UNKNOWN;
}

void to_proto(const StreamRequest& r, v1::StreamFilter& m) {
  m.set_sandbox_id(r.sandbox_id);
  m.set_container_id(r.container_id);
  m.set_pod_name(r.pod_name);
  m.set_pod_namespace(r.pod_namespace);
  m.set_any_view(!r.view.has_value());
  if (r.view) m.set_view(*r.view == View::guest ? v1::VIEW_GUEST : v1::VIEW_HOST);
  for (const auto& t : r.event_types) m.add_event_types(t);
  m.set_condition(r.condition);
  m.set_min_priority(r.min_priority);
  for (const auto& n : r.rules) m.add_rules(n);
  m.set_client(r.client);
}

// One subscription after another (with reconnect) until stopped. `open` starts the RPC on a
// context; `deliver` hands one update to the caller (false: the caller is done).
template <typename Update>
Result<FollowSummary> follow(
    const std::string& socket, const std::function<std::shared_ptr<grpc::Channel>()>& channel, const FollowOptions& o,
    const std::function<std::unique_ptr<grpc::ClientReader<Update>>(v1::Sentryd::Stub&, grpc::ClientContext&)>& open,
    const std::function<bool(const Update&)>& deliver) {
  FollowSummary sum;
  auto stopped = [&] { return o.stop && o.stop->load(); };
  bool first = true;
  while (!stopped()) {
    if (!first) {
      ++sum.reconnects;
      std::this_thread::sleep_for(o.retry_every);
      if (stopped()) break;
    }
    first = false;
    auto stub = v1::Sentryd::NewStub(channel());
    grpc::ClientContext ctx;
    auto reader = open(*stub, ctx);
    // Ctrl-C must end a Read() that waits for the next event.
    std::atomic<bool> done{false};
    std::thread watcher([&] {
      while (!done.load()) {
        if (stopped()) {
          ctx.TryCancel();
          return;
        }
        std::this_thread::sleep_for(50ms);
      }
    });
    reader->WaitForInitialMetadata();
    bool subscribed = ctx.GetServerInitialMetadata().count(kSubscribedKey) > 0;
    if (subscribed && o.on_subscribed) o.on_subscribed();
    uint64_t base_dropped = sum.dropped;
    bool caller_done = false;
    Update u;
    while (reader->Read(&u)) {
      sum.dropped = base_dropped + u.dropped();
      if (!deliver(u)) {
        caller_done = true;
        ctx.TryCancel();
        break;
      }
    }
    done = true;
    watcher.join();
    grpc::Status st = reader->Finish();
    if (caller_done || stopped()) break;
    if (!subscribed && !daemon_went_away(st.error_code()))
      return fail(code_of(st.error_code()), st.error_message());  // the request itself is wrong
    if (!daemon_went_away(st.error_code())) return fail(code_of(st.error_code()), st.error_message());
    std::string why = st.ok() ? "kata-sentryd closed the stream (stopping?)"
                              : "kata-sentryd at " + socket + ": " + st.error_message();
    if (!o.reconnect) {
      if (!subscribed) return fail(ErrorCode::unavailable, why);
      break;  // the daemon stopped: the stream is over
    }
    if (o.on_lost) o.on_lost(why);
  }
  return sum;
}

}  // namespace

TraceClient::TraceClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}

std::shared_ptr<grpc::Channel> TraceClient::channel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  // Reconnect promptly after a daemon restart instead of gRPC's growing back-off.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel("unix:" + socket_path_, grpc::InsecureChannelCredentials(), args);
}

Result<v1::ListSandboxesResponse> TraceClient::list(std::chrono::milliseconds deadline) {
  auto stub = v1::Sentryd::NewStub(channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  v1::Empty req;
  v1::ListSandboxesResponse resp;
  grpc::Status st = stub->ListSandboxes(&ctx, req, &resp);
  if (!st.ok()) return fail(code_of(st.error_code()), "kata-sentryd at " + socket_path_ + ": " + st.error_message());
  return resp;
}

Result<v1::ListProcessesResponse> TraceClient::processes(const std::string& sandbox_id, std::chrono::milliseconds deadline) {
  auto stub = v1::Sentryd::NewStub(channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  v1::ListProcessesRequest req;
  req.set_sandbox_id(sandbox_id);
  v1::ListProcessesResponse resp;
  grpc::Status st = stub->ListProcesses(&ctx, req, &resp);
  if (!st.ok()) return fail(code_of(st.error_code()), "kata-sentryd at " + socket_path_ + ": " + st.error_message());
  return resp;
}

Result<FollowSummary> TraceClient::follow_events(const StreamRequest& request, const FollowOptions& options,
                                                 const std::function<bool(const Event&)>& on_event,
                                                 const std::function<bool(const Error&)>& on_undecodable) {
  v1::StreamFilter filter;
  to_proto(request, filter);
  return follow<v1::EventUpdate>(
      socket_path_, [this] { return channel(); }, options,
      [&](v1::Sentryd::Stub& stub, grpc::ClientContext& ctx) { return stub.StreamEvents(&ctx, filter); },
      [&](const v1::EventUpdate& u) {
        if (!u.has_event()) return true;
        auto ev = event_from_proto(u.event());
        if (!ev) return on_undecodable(ev.error());
        return on_event(*ev);
      });
}

Result<FollowSummary> TraceClient::follow_alerts(const StreamRequest& request, const FollowOptions& options,
                                                 const std::function<bool(const AlertItem&)>& on_alert) {
  v1::StreamFilter filter;
  to_proto(request, filter);
  return follow<v1::AlertUpdate>(
      socket_path_, [this] { return channel(); }, options,
      [&](v1::Sentryd::Stub& stub, grpc::ClientContext& ctx) { return stub.StreamAlerts(&ctx, filter); },
      [&](const v1::AlertUpdate& u) {
        if (!u.has_alert()) return true;
        const auto& m = u.alert();
        AlertItem a{m.time_ns(), m.sandbox_id(), m.container_id(), m.rule(), m.priority(), m.audit(), m.json()};
        return on_alert(a);
      });
}

}  // namespace kata_sentry::trace
