#include "runtime/shim/sentryd_link.h"

#include <functional>

#include <grpcpp/grpcpp.h>

#include "core/logging.h"
#include "runtime/shim/guest_event_relay.h"
#include "deny_rule_convert.h"
#include "wanted_types_convert.h"
#include "runtime/sandbox/sandbox.h"
#include "sentryd.grpc.pb.h"

namespace kata_sentry::shim {
namespace {

using namespace std::chrono_literals;

Error rpc_error(const grpc::Status& s, const std::string& call, const std::string& socket) {
  std::string why = s.error_code() == grpc::StatusCode::UNAVAILABLE
                        ? "kata-sentryd is not reachable at " + socket + " (" + s.error_message() + ")"
                        : "kata-sentryd " + call + ": " + s.error_message();
  return Error{s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? ErrorCode::timeout : ErrorCode::unavailable, 0, why};
}

std::shared_ptr<grpc::Channel> channel_to(const std::string& socket) {
  return grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
}

}  // namespace

struct SentrydLink::Relay {
  runtime::Sandbox* sandbox = nullptr;
  std::string sandbox_id;
  std::unique_ptr<v1::Sentryd::Stub> stub;
  // The control path: commands from the daemon, their results back.
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RelayMessage, v1::RelayCommand>> stream;
  std::mutex write_mu;
  // The event path: the guest's batches as the agent sent them.
  grpc::ClientContext events_ctx;
  v1::Empty events_reply;
  std::unique_ptr<grpc::ClientWriter<v1::GuestEventsMessage>> events_stream;
  std::mutex stop_mu;
  std::condition_variable stop_cv;  // wakes the event thread's retry wait
  std::atomic<bool> stopping{false};
  std::atomic<bool> ended{false};             // the daemon's side of the relay is gone
  std::function<void()> on_end;               // wakes the link's supervisor
  std::promise<std::string> monitor_started;  // the daemon's error, "" when monitoring
  std::atomic<bool> started_seen{false};
  std::thread commands, events;

  bool write(const v1::RelayMessage& m) {
    std::lock_guard lock(write_mu);
    return stream->Write(m);
  }
};

SentrydLink::SentrydLink(Result<ShimConfig> config) : config_(std::move(config)) {}
SentrydLink::~SentrydLink() { detach(); }

Status SentrydLink::refuse_or_warn(const Error& error) {
  if (config_->fail_closed) {
    return fail(error.code, error.describe() + "; this runtime is fail-closed (daemon_policy in " + config_->path +
                                "), so the pod is not started");
  }
  logger("shim")->error("{}; fail-open (daemon_policy in {}): the pod runs without kata-sentry watching it", error.describe(), config_->path);
  return {};
}

Status SentrydLink::check_reachable() {
  if (!config_) return fail(ErrorCode::invalid_argument, "shim config: " + config_.error().describe());
  auto stub = v1::Sentryd::NewStub(channel_to(config_->daemon_socket));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 3s);
  v1::Empty req;
  v1::ListSandboxesResponse resp;
  grpc::Status s = stub->ListSandboxes(&ctx, req, &resp);
  if (!s.ok()) return refuse_or_warn(rpc_error(s, "ListSandboxes", config_->daemon_socket));
  return {};
}

Status SentrydLink::attach(runtime::Sandbox& sandbox, const PodIdentity& pod) {
  if (!config_) return fail(ErrorCode::invalid_argument, "shim config: " + config_.error().describe());
  sandbox_ = &sandbox;
  pod_ = pod;
  {
    std::lock_guard lock(mu_);
    if (!pod.first_container_id.empty()) containers_ = {pod.first_container_id};
  }
  auto relay = open_relay();
  if (!relay) {
    if (auto st = refuse_or_warn(relay.error()); !st) return st;
  } else {
    logger("shim")->info("sandbox {}: kata-sentryd is monitoring it", pod.sandbox_id);
  }
  std::lock_guard lock(mu_);
  if (relay) relay_ = std::move(*relay);
  supervisor_ = std::thread([this] { supervise(); });
  return {};
}

Result<std::unique_ptr<SentrydLink::Relay>> SentrydLink::open_relay() {
  auto relay = std::make_unique<Relay>();
  relay->sandbox = sandbox_;
  relay->sandbox_id = pod_.sandbox_id;
  relay->stub = v1::Sentryd::NewStub(channel_to(config_->daemon_socket));
  relay->on_end = [this] {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  };

  v1::RegisterSandboxRequest reg;
  auto* info = reg.mutable_sandbox();
  info->set_sandbox_id(pod_.sandbox_id);
  info->set_pod_name(pod_.pod_name);
  info->set_pod_namespace(pod_.pod_namespace);
  info->set_pod_uid(pod_.pod_uid);
  info->set_vmm_pid(uint32_t(sandbox_->vm().qemu_pid()));
  if (pid_t v = sandbox_->vm().virtiofsd_pid(); v > 0) info->add_helper_pids(uint32_t(v));
  // Where the daemon attaches the host deny programs (connect, device) in enforce mode.
  if (auto cg = sandbox_->vm().host_cgroup(); !cg.empty()) info->add_host_cgroups(cg);
  {
    std::lock_guard lock(mu_);
    for (const auto& c : containers_) info->add_container_ids(c);
    if (!boot_reported_)
      reg.set_boot_duration_ns(uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(sandbox_->timings().agent_ready).count()));
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::RegisterSandboxResponse resp;
    grpc::Status s = relay->stub->RegisterSandbox(&ctx, reg, &resp);
    if (!s.ok()) return std::unexpected(rpc_error(s, "RegisterSandbox", config_->daemon_socket));
    {
      std::lock_guard lock(mu_);
      boot_reported_ = true;  // registrations again (after a relay break) carry no boot time
    }
    logger("shim")->info("sandbox {} registered with kata-sentryd ({} mode)", pod_.sandbox_id, resp.mode());
  }

  relay->stream = relay->stub->RelayGuest(&relay->ctx);
  v1::RelayMessage hello;
  hello.set_attach_sandbox_id(pod_.sandbox_id);
  if (!relay->write(hello)) {
    relay->ctx.TryCancel();
    (void)relay->stream->Finish();
    return fail(ErrorCode::unavailable, "kata-sentryd RelayGuest: the daemon closed the relay");
  }
  auto started = relay->monitor_started.get_future();
  Relay* r = relay.get();
  relay->commands = std::thread([this, r] { relay_commands(*r); });
  std::string error;
  // Monitoring starts with the enforce-mode deny push, which the agent holds until its sensor has
  // loaded (the daemon waits up to 75 s for it, RelayLink::kSensorCommandTimeout).
  if (started.wait_for(90s) != std::future_status::ready)
    error = "kata-sentryd did not start monitoring sandbox " + pod_.sandbox_id + " within 90 s";
  else if (std::string e = started.get(); !e.empty())
    error = "kata-sentryd could not monitor sandbox " + pod_.sandbox_id + ": " + e;
  if (error.empty()) {
    // The event path, once the daemon's monitor (and so the link it reads) exists.
    relay->events_stream = relay->stub->RelayGuestEvents(&relay->events_ctx, &relay->events_reply);
    v1::GuestEventsMessage attach;
    attach.set_attach_sandbox_id(pod_.sandbox_id);
    if (relay->events_stream->Write(attach))
      relay->events = std::thread([this, r] { relay_events(*r); });
    else
      error = "kata-sentryd RelayGuestEvents: the daemon closed the event path";
  }
  if (!error.empty()) {
    close_relay(*relay, true);
    return fail(ErrorCode::unavailable, error);
  }
  return relay;
}

void SentrydLink::supervise() {
  auto log = logger("shim");
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait(lock, [&] { return stopping_ || !relay_ || relay_->ended.load(); });
    if (stopping_) break;
    std::unique_ptr<Relay> dead = std::move(relay_);
    lock.unlock();
    if (dead) {
      log->error("sandbox {}: the relay to kata-sentryd ended; reconnecting every 2 s", pod_.sandbox_id);
      close_relay(*dead, false);
    }
    for (int attempt = 1;; ++attempt) {
      lock.lock();
      if (cv_.wait_for(lock, 2s, [&] { return stopping_; })) break;
      lock.unlock();
      auto relay = open_relay();
      lock.lock();
      if (relay) {
        relay_ = std::move(*relay);
        log->info("sandbox {}: kata-sentryd is monitoring it again", pod_.sandbox_id);
        break;
      }
      if (attempt % 30 == 1) log->warn("sandbox {}: still unwatched: {}", pod_.sandbox_id, relay.error().describe());
      lock.unlock();
    }
  }
}

void SentrydLink::close_relay(Relay& r, bool unregister) {
  if (unregister) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::UnregisterSandboxRequest req;
    req.set_sandbox_id(r.sandbox_id);
    v1::Empty resp;
    if (auto s = r.stub->UnregisterSandbox(&ctx, req, &resp); !s.ok())
      logger("shim")->warn("kata-sentryd UnregisterSandbox {}: {}", r.sandbox_id, s.error_message());
  }
  {
    std::lock_guard lock(r.stop_mu);
    r.stopping = true;
  }
  r.stop_cv.notify_all();
  r.ctx.TryCancel();
  r.events_ctx.TryCancel();
  if (r.commands.joinable()) r.commands.join();
  // The event thread returns at the guest's next batch or heartbeat (one a second).
  if (r.events.joinable()) r.events.join();
  (void)r.stream->Finish();
  if (r.events_stream) (void)r.events_stream->Finish();
}

void SentrydLink::relay_commands(Relay& r) {
  auto log = logger("shim");
  v1::RelayCommand cmd;
  while (r.stream->Read(&cmd)) {
    if (cmd.kind_case() == v1::RelayCommand::kMonitorStarted) {
      if (!r.started_seen.exchange(true)) r.monitor_started.set_value(cmd.monitor_started().error());
      continue;
    }
    v1::RelayMessage out;
    auto* res = out.mutable_result();
    res->set_id(cmd.id());
    switch (cmd.kind_case()) {
      case v1::RelayCommand::kSetEnforcement: {
        auto rules = deny_rules_from_proto(cmd.set_enforcement());
        if (!rules) {
          res->set_error(rules.error().describe());
          break;
        }
        auto refused = r.sandbox->agent().set_enforcement(*rules);
        if (!refused) {
          res->set_error(r.sandbox->explain(refused.error()).describe());
          break;
        }
        for (const auto& x : *refused) res->add_refused(x);
        break;
      }
      case v1::RelayCommand::kSetWantedTypes: {
        auto types = wanted_types_from_proto(cmd.set_wanted_types());
        if (!types) {
          res->set_error(types.error().describe());
          break;
        }
        auto fields = field_filters_from_proto(cmd.set_wanted_types());
        if (!fields) {
          res->set_error(fields.error().describe());
          break;
        }
        if (auto st = r.sandbox->agent().set_wanted_types(*types, *fields); !st)
          res->set_error(r.sandbox->explain(st.error()).describe());
        break;
      }
      case v1::RelayCommand::kKillGuestProcess: {
        const auto& k = cmd.kill_guest_process();
        if (auto st = r.sandbox->agent().kill_guest_process(k.pid(), k.signal()); !st)
          res->set_error(r.sandbox->explain(st.error()).describe());
        break;
      }
      case v1::RelayCommand::kListGuestProcesses: {
        auto wire = r.sandbox->agent().list_guest_processes();
        if (!wire) res->set_error(r.sandbox->explain(wire.error()).describe());
        else res->set_guest_processes(std::move(*wire));
        break;
      }
      case v1::RelayCommand::kStopVm:
        log->warn("sandbox {}: kata-sentryd asked to stop the VM (kill_sandbox)", r.sandbox_id);
        if (auto st = r.sandbox->vm().qmp().quit(); !st) res->set_error(st.error().describe());
        break;
      default:
        res->set_error("unknown relay command");
    }
    if (!r.write(out)) break;
  }
  if (!r.started_seen.exchange(true)) r.monitor_started.set_value("the relay closed before monitoring started");
  r.ended = true;
  if (r.on_end) r.on_end();
}

void SentrydLink::relay_events(Relay& r) {
  GuestEventRelay relay;
  relay.open_stream = [&r](const std::function<bool(std::string&&)>& on_batch) { return r.sandbox->agent().stream_events(on_batch); };
  relay.write = [&r](const v1::GuestEventsMessage& m) { return r.events_stream->Write(m); };
  relay.explain = [&r](const Error& e) { return r.sandbox->explain(e).describe(); };
  relay.stopping = [&r] { return r.stopping.load(); };
  relay.wait_stopping = [&r](std::chrono::milliseconds d) {
    std::unique_lock lock(r.stop_mu);
    return r.stop_cv.wait_for(lock, d, [&] { return r.stopping.load(); });
  };
  if (!relay_guest_events(relay) && !r.stopping.load()) {
    // The daemon's side of the event path is gone: the relay as a whole is, for the supervisor.
    r.ended = true;
    r.ctx.TryCancel();
    if (r.on_end) r.on_end();
  }
}

void SentrydLink::container_added(const std::string& id) { update_containers(id, true); }
void SentrydLink::container_removed(const std::string& id) { update_containers(id, false); }

void SentrydLink::update_containers(const std::string& id, bool add) {
  std::lock_guard lock(mu_);
  if (add) {
    containers_.push_back(id);
  } else {
    std::erase(containers_, id);
  }
  if (!relay_ || relay_->ended.load()) return;  // the next registration carries the list
  v1::UpdateSandboxRequest req;
  req.set_sandbox_id(relay_->sandbox_id);
  *(add ? req.add_add_container_ids() : req.add_remove_container_ids()) = id;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::Empty resp;
  if (auto s = relay_->stub->UpdateSandbox(&ctx, req, &resp); !s.ok())
    logger("shim")->warn("kata-sentryd UpdateSandbox ({} {}): {}", add ? "add" : "remove", id, s.error_message());
}

void SentrydLink::detach() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (supervisor_.joinable()) supervisor_.join();
  std::unique_ptr<Relay> r;
  {
    std::lock_guard lock(mu_);
    r = std::move(relay_);
  }
  if (r) close_relay(*r, !r->ended.load());
}

}  // namespace kata_sentry::shim
