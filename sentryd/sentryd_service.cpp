#include "sentryd/sentryd_service.h"

#include <memory>
#include <mutex>

#include "core/logging.h"
#include "event_convert.h"
#include "grpc_status.h"

namespace kata_sentry::daemon {
namespace {

using namespace std::chrono_literals;

SandboxRecord record_from_proto(const v1::SandboxInfo& m) {
  SandboxRecord r;
  r.sandbox_id = m.sandbox_id();
  r.pod_name = m.pod_name();
  r.pod_namespace = m.pod_namespace();
  r.pod_uid = m.pod_uid();
  r.vmm_pid = m.vmm_pid();
  r.helper_pids.assign(m.helper_pids().begin(), m.helper_pids().end());
  r.host_cgroups.assign(m.host_cgroups().begin(), m.host_cgroups().end());
  r.container_ids.assign(m.container_ids().begin(), m.container_ids().end());
  return r;
}

void record_to_proto(const SandboxRecord& r, v1::SandboxInfo& m) {
  m.set_sandbox_id(r.sandbox_id);
  m.set_pod_name(r.pod_name);
  m.set_pod_namespace(r.pod_namespace);
  m.set_pod_uid(r.pod_uid);
  m.set_vmm_pid(r.vmm_pid);
  for (auto p : r.helper_pids) m.add_helper_pids(p);
  for (const auto& g : r.host_cgroups) m.add_host_cgroups(g);
  for (const auto& c : r.container_ids) m.add_container_ids(c);
}

Result<HubFilter> filter_from_proto(const v1::StreamFilter& m) {
  HubFilter f;
  f.sandbox_id = m.sandbox_id();
  f.container_id = m.container_id();
  if (!m.any_view()) f.view = m.view() == v1::VIEW_GUEST ? View::guest : View::host;
  for (const auto& name : m.event_types()) {
    auto t = event_type_from_name(name);
    if (!t) return fail(ErrorCode::invalid_argument, "filter: unknown event type '" + name + "'");
    f.event_types.push_back(*t);
  }
  f.pod_name = m.pod_name();
  f.pod_namespace = m.pod_namespace();
  f.rules.assign(m.rules().begin(), m.rules().end());
  if (!m.condition().empty()) {
    auto c = policy::EventFilter::compile(m.condition());
    if (!c) return std::unexpected(c.error());
    f.condition = std::make_shared<const policy::EventFilter>(std::move(*c));
  }
  if (!m.min_priority().empty()) {
    auto p = policy::priority_from_name(m.min_priority());
    if (!p) return fail(ErrorCode::invalid_argument, "filter: unknown priority '" + m.min_priority() + "'");
    f.min_priority = *p;
  }
  return f;
}

// What a relay's command sender writes to; invalidated before the handler returns, so a
// monitor thread that still holds the link can never write to a finished stream.
struct RelayStream {
  std::mutex mu;
  grpc::ServerReaderWriter<v1::RelayCommand, v1::RelayMessage>* stream = nullptr;
  bool write(const v1::RelayCommand& c) {
    std::lock_guard lock(mu);
    return stream && stream->Write(c);
  }
  void invalidate() {
    std::lock_guard lock(mu);
    stream = nullptr;
  }
};

// Follows a subscription until the client goes away or the daemon stops. The initial
// metadata goes out first: from then on the client knows it is subscribed. Every message
// carries the subscriber's drop count; when only the count changed, a message without an item.
template <typename Item, typename Message>
grpc::Status follow(grpc::ServerContext* ctx, Subscription<Item>& sub, const std::atomic<bool>& stopping,
                    grpc::ServerWriter<Message>* writer, void (*convert)(const Item&, Message&)) {
  ctx->AddInitialMetadata("ks-subscribed", "1");  // kata-trace waits for this marker
  writer->SendInitialMetadata();
  Message m;
  uint64_t told = 0;
  while (!ctx->IsCancelled() && !stopping.load() && !sub.closed()) {
    auto item = sub.next(250ms);
    uint64_t dropped = sub.dropped();
    if (!item && dropped == told) continue;
    m.Clear();
    if (item) convert(*item, m);
    m.set_dropped(dropped);
    told = dropped;
    // More already queued: let gRPC coalesce this message with the next ones (fewer frames
    // and wake-ups per event for a subscriber that is behind).
    grpc::WriteOptions options;
    if (sub.queued() > 0) options.set_buffer_hint();
    if (!writer->Write(m, options)) break;
  }
  if (uint64_t d = sub.dropped(); d > 0)
    logger("sentryd")->warn("stream subscriber '{}' was too slow: {} item(s) dropped for it", sub.client(), d);
  return grpc::Status::OK;
}

void event_message(const Event& e, v1::EventUpdate& m) { event_to_proto(e, *m.mutable_event()); }

void alert_message(const AlertLine& a, v1::AlertUpdate& u) {
  v1::AlertRecord& m = *u.mutable_alert();
  m.set_time_ns(a.time_ns);
  m.set_sandbox_id(a.sandbox_id);
  m.set_container_id(a.container_id);
  m.set_rule(a.rule);
  if (!a.audit) m.set_priority(std::string(policy::priority_name(a.priority)));
  m.set_audit(a.audit);
  m.set_json(a.json);
}

}  // namespace

grpc::Status SentrydService::RegisterSandbox(grpc::ServerContext*, const v1::RegisterSandboxRequest* req,
                                             v1::RegisterSandboxResponse* resp) {
  if (auto st = registry_.register_sandbox(record_from_proto(req->sandbox()), std::chrono::nanoseconds(req->boot_duration_ns())); !st)
    return to_grpc_status(st.error());
  resp->set_mode(registry_.mode() == policy::Mode::enforce ? "enforce" : "monitor");
  return grpc::Status::OK;
}

grpc::Status SentrydService::UpdateSandbox(grpc::ServerContext*, const v1::UpdateSandboxRequest* req, v1::Empty*) {
  std::vector<std::string> add(req->add_container_ids().begin(), req->add_container_ids().end());
  std::vector<std::string> remove(req->remove_container_ids().begin(), req->remove_container_ids().end());
  return to_grpc_status(registry_.update(req->sandbox_id(), add, remove));
}

grpc::Status SentrydService::UnregisterSandbox(grpc::ServerContext*, const v1::UnregisterSandboxRequest* req, v1::Empty*) {
  return to_grpc_status(registry_.unregister(req->sandbox_id()));
}

grpc::Status SentrydService::RelayGuest(grpc::ServerContext*, grpc::ServerReaderWriter<v1::RelayCommand, v1::RelayMessage>* stream) {
  v1::RelayMessage msg;
  if (!stream->Read(&msg)) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "relay: closed before naming its sandbox");
  if (msg.kind_case() != v1::RelayMessage::kAttachSandboxId)
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "relay: the first message must be attach_sandbox_id");
  const std::string id = msg.attach_sandbox_id();
  auto out = std::make_shared<RelayStream>();
  out->stream = stream;
  auto send = [out](const v1::RelayCommand& c) { return out->write(c); };
  auto started = [out](const Status& st) {
    v1::RelayCommand c;
    c.mutable_monitor_started()->set_error(st ? "" : st.error().describe());
    out->write(c);
  };
  auto link = registry_.attach(id, send, started);
  if (!link) {
    out->invalidate();
    return to_grpc_status(link.error());
  }
  grpc::Status result = grpc::Status::OK;
  while (stream->Read(&msg)) {
    if (msg.kind_case() == v1::RelayMessage::kResult) {
      (*link)->complete(msg.result());
    } else {
      result = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "relay for sandbox " + id + ": attach_sandbox_id sent twice");
      break;
    }
  }
  out->invalidate();
  registry_.detach(id, *link);
  return result;
}

grpc::Status SentrydService::RelayGuestEvents(grpc::ServerContext*, grpc::ServerReader<v1::GuestEventsMessage>* stream, v1::Empty*) {
  v1::GuestEventsMessage msg;
  if (!stream->Read(&msg)) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "relay events: closed before naming its sandbox");
  if (msg.kind_case() != v1::GuestEventsMessage::kAttachSandboxId)
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "relay events: the first message must be attach_sandbox_id");
  const std::string id = msg.attach_sandbox_id();
  auto link = registry_.link(id);
  if (!link) return to_grpc_status(link.error());
  // The batches are not decoded here: the sandbox's monitor does, within its limits, so that
  // one bad batch costs that batch and the stream carries on.
  while (stream->Read(&msg)) {
    switch (msg.kind_case()) {
      case v1::GuestEventsMessage::kBatch:
        (*link)->push_batch(std::move(*msg.mutable_batch()));
        break;
      case v1::GuestEventsMessage::kStreamEnded:
        (*link)->push_stream_ended(msg.stream_ended());
        break;
      default:
        (*link)->push_stream_ended("relay events for sandbox " + id + ": attach_sandbox_id sent twice");
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "relay events for sandbox " + id + ": attach_sandbox_id sent twice");
    }
    if ((*link)->closed()) break;
  }
  if (!(*link)->closed()) (*link)->push_stream_ended("the shim's event path to kata-sentryd ended");
  return grpc::Status::OK;
}

grpc::Status SentrydService::StreamEvents(grpc::ServerContext* ctx, const v1::StreamFilter* req, grpc::ServerWriter<v1::EventUpdate>* writer) {
  auto f = filter_from_proto(*req);
  if (!f) return to_grpc_status(f.error());
  // Raw events are wanted whatever the rules match while this client follows them.
  registry_.follow_events(true);
  struct Unfollow {
    SandboxRegistry& r;
    ~Unfollow() { r.follow_events(false); }
  } unfollow{registry_};
  auto sub = hub_.subscribe_events(std::move(*f), req->client());
  return follow(ctx, *sub, stopping_, writer, &event_message);
}

grpc::Status SentrydService::StreamAlerts(grpc::ServerContext* ctx, const v1::StreamFilter* req, grpc::ServerWriter<v1::AlertUpdate>* writer) {
  auto f = filter_from_proto(*req);
  if (!f) return to_grpc_status(f.error());
  auto sub = hub_.subscribe_alerts(std::move(*f), req->client());
  return follow(ctx, *sub, stopping_, writer, &alert_message);
}

grpc::Status SentrydService::ListSandboxes(grpc::ServerContext*, const v1::Empty*, v1::ListSandboxesResponse* resp) {
  for (const auto& s : registry_.list()) {
    auto* m = resp->add_sandboxes();
    record_to_proto(s.record, *m->mutable_info());
    m->set_registered_at_ns(s.registered_at_ns);
    m->set_guest_attached(s.guest_attached);
    m->set_guest_events(s.stats.guest.events);
    m->set_host_records(s.stats.host_records);
    m->set_alerts(s.stats.alerts);
    m->set_guest_rate_limited(s.stats.guest.rate_limited);
    m->set_guest_seq_missing(s.stats.guest.seq_missing);
    m->set_guest_batches_dropped(s.stats.guest.batches_dropped());
    m->set_guest_unknown_container(s.stats.guest.unknown_container);
    m->set_host_queue_drops(s.stats.host_queue_drops);
    m->set_tamper_alerts(s.stats.tamper_alerts);
    m->set_mode(registry_.mode() == policy::Mode::enforce ? "enforce" : "monitor");
    m->set_heartbeat_age_ms(s.stats.heartbeat_age_ms);
    m->set_guest_lsm_enforcing(s.stats.guest_reported.lsm_enforcing);
    m->set_guest_ringbuf_drops(s.stats.guest_reported.ringbuf_drops);
    m->set_guest_agent_rate_limited(s.stats.guest_reported.rate_limited);
    m->set_guest_agent_queue_drops(s.stats.guest_reported.queue_drops);
    m->set_guest_stream_errors(s.stats.guest_stream_errors);
  }
  for (const auto& sub : hub_.subscribers()) {
    auto* m = resp->add_subscribers();
    m->set_kind(sub.kind);
    m->set_client(sub.client);
    m->set_delivered(sub.delivered);
    m->set_dropped(sub.dropped);
    m->set_queued(sub.queued);
  }
  resp->set_now_ns(uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count()));
  return grpc::Status::OK;
}

grpc::Status SentrydService::ListProcesses(grpc::ServerContext*, const v1::ListProcessesRequest* req, v1::ListProcessesResponse* resp) {
  auto listing = registry_.processes(req->sandbox_id());
  if (!listing) return to_grpc_status(listing.error());
  resp->set_sandbox_id(req->sandbox_id());
  for (const auto& r : listing->rows) {
    auto* m = resp->add_processes();
    m->set_view(r.view == View::guest ? v1::VIEW_GUEST : v1::VIEW_HOST);
    m->set_pid(r.pid);
    m->set_ppid(r.ppid);
    m->set_name(r.name);
    m->set_exepath(r.exepath);
    m->set_cmdline(r.cmdline);
    m->set_container_id(r.container_id);
    m->set_role(r.role);
    m->set_last_alert(r.last_alert);
    m->set_last_alert_priority(r.last_alert_priority);
    m->set_last_alert_ns(r.last_alert_ns);
  }
  resp->set_guest_error(listing->guest_error);
  resp->set_guest_truncated(listing->guest_truncated);
  resp->set_guest_refused(listing->guest_refused);
  return grpc::Status::OK;
}

}  // namespace kata_sentry::daemon
