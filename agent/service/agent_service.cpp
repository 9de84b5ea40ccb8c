#include "agent/service/agent_service.h"

#include <sys/wait.h>

#include <algorithm>
#include <cctype>

#include "agent/sensor/sensor_rpc.h"
#include "grpc_status.h"
#include "agent/service/guest_details.h"
#include "agent/service/request_checks.h"
#include "core/logging.h"
#include "guest-probes/guest_sensor.h"

namespace kata_sentry::agent {
namespace {

// The request's pod part, checked: names, MACs, MTUs and addresses.
Result<PodSetup> pod_setup_from(const v1::CreateSandboxRequest& r) {
  PodSetup pod;
  pod.hostname = r.hostname();
  if (r.interfaces_size() > 16) return fail(ErrorCode::invalid_argument, "interfaces: at most 16");
  if (r.routes_size() > 256) return fail(ErrorCode::invalid_argument, "routes: at most 256");
  for (const auto& i : r.interfaces()) {
    NetInterfaceConfig ic;
    ic.name = i.name();
    bool name_ok = !ic.name.empty() && ic.name.size() <= 15;
    for (char c : ic.name) name_ok = name_ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
    if (!name_ok) return fail(ErrorCode::invalid_argument, "interfaces.name: must match [A-Za-z0-9_.-]{1,15}");
    if (i.mac().size() != 6) return fail(ErrorCode::invalid_argument, "interfaces[" + ic.name + "].mac: must be 6 bytes");
    std::copy(i.mac().begin(), i.mac().end(), ic.mac.begin());
    if (i.mtu() < 68 || i.mtu() > 65535) return fail(ErrorCode::invalid_argument, "interfaces[" + ic.name + "].mtu: must be 68-65535");
    ic.mtu = i.mtu();
    if (i.addresses_size() > 64) return fail(ErrorCode::invalid_argument, "interfaces[" + ic.name + "].addresses: at most 64");
    for (const auto& a : i.addresses()) {
      auto p = parse_ip_prefix(a);
      if (!p) return fail(ErrorCode::invalid_argument, "interfaces[" + ic.name + "].addresses: " + p.error().message);
      ic.addresses.push_back(*p);
    }
    pod.network.interfaces.push_back(std::move(ic));
  }
  for (const auto& rt : r.routes()) {
    NetRouteConfig rc;
    if (!rt.destination().empty()) {
      auto p = parse_ip_prefix(rt.destination());
      if (!p) return fail(ErrorCode::invalid_argument, "routes.destination: " + p.error().message);
      rc.destination = *p;
    }
    if (!rt.gateway().empty()) {
      auto p = parse_ip(rt.gateway());
      if (!p) return fail(ErrorCode::invalid_argument, "routes.gateway: " + p.error().message);
      rc.gateway = *p;
    }
    rc.device = rt.device();
    bool known = false;
    for (const auto& i : pod.network.interfaces) known = known || i.name == rc.device;
    if (!known) return fail(ErrorCode::invalid_argument, "routes.device: not one of the interfaces");
    pod.network.routes.push_back(std::move(rc));
  }
  pod.shm_bytes = r.pod_shm_bytes();
  return pod;
}

}  // namespace

AgentService::AgentService(Sandbox& sandbox, std::filesystem::path cgroup_parent,
                           std::function<void()> on_destroyed,
                           std::function<bool()> shutting_down,
                           SensorHandle* sensor)
    : sandbox_(sandbox),
      cgroup_parent_(std::move(cgroup_parent)),
      on_destroyed_(std::move(on_destroyed)),
      shutting_down_(std::move(shutting_down)),
      sensor_(sensor) {}

CancelCheck AgentService::cancel_check(grpc::ServerContext* ctx) const {
  return [this, ctx] { return ctx->IsCancelled() || shutting_down_(); };
}

// Loading the sensor takes seconds under TCG; a minute covers a loaded host. Past it (or if
// the load failed) the sensor RPCs answer UNAVAILABLE and containers start unobserved, as
// they do when the sensor is absent.
constexpr std::chrono::seconds kSensorStartWait{60};

guest_probes::GuestSensor* AgentService::wait_sensor(grpc::ServerContext* ctx, grpc::Status& why) const {
  if (!sensor_) {
    why = grpc::Status(grpc::StatusCode::UNAVAILABLE, "guest sensor not running");
    return nullptr;
  }
  auto* s = sensor_->wait(kSensorStartWait, cancel_check(ctx));
  if (!s) why = grpc::Status(grpc::StatusCode::UNAVAILABLE, sensor_->why());
  return s;
}

template <typename Call>
grpc::Status AgentService::with_sensor(grpc::ServerContext* ctx, Call&& call) const {
  grpc::Status why;
  auto* sensor = wait_sensor(ctx, why);
  if (!sensor) return why;
  return call(sensor);
}

grpc::Status AgentService::Check(grpc::ServerContext*, const v1::CheckRequest*,
                                 v1::CheckResponse* resp) {
  resp->set_serving(true);
  return grpc::Status::OK;
}

grpc::Status AgentService::GetGuestDetails(grpc::ServerContext*, const v1::GuestDetailsRequest*,
                                           v1::GuestDetailsResponse* resp) {
  GuestInfo g = collect_guest_info(cgroup_parent_);
  resp->set_kernel_release(g.kernel_release);
  resp->set_agent_version(g.agent_version);
  for (auto& l : g.lsms) resp->add_lsms(l);
  resp->set_bpf_lsm_active(g.bpf_lsm_active);
  for (auto& c : g.cgroup_controllers) resp->add_cgroup_controllers(c);
  return grpc::Status::OK;
}

grpc::Status AgentService::CreateSandbox(grpc::ServerContext*, const v1::CreateSandboxRequest* req,
                                         v1::Empty*) {
  Status s = check_request(*req);
  if (s) {
    auto pod = pod_setup_from(*req);
    s = pod ? sandbox_.do_create_sandbox(req->hostname(), req->shared_dir(), *pod) : Status(std::unexpected(pod.error()));
  }
  return to_grpc_status(s);
}

grpc::Status AgentService::DestroySandbox(grpc::ServerContext*, const v1::DestroySandboxRequest*,
                                          v1::Empty*) {
  Status s = sandbox_.do_destroy_sandbox();
  if (s) on_destroyed_();  // the reply still goes out: shutdown lets running calls finish
  return to_grpc_status(s);
}

grpc::Status AgentService::CreateContainer(grpc::ServerContext*,
                                           const v1::CreateContainerRequest* req, v1::Empty*) {
  Status s = check_request(*req);
  if (s)
    s = sandbox_.do_create_container(NewContainer{
        req->container_id(), req->oci_spec_json(), req->bundle(), req->open_stdin(), req->pod_container_id(),
        std::vector<std::string>(req->pod_namespaces().begin(), req->pod_namespaces().end())});
  // The sensor attributes events by the container's cgroup <cgroup_parent>/<id>.
  if (s && sensor_) sensor_->container_changed(req->container_id(), cgroup_parent_ / req->container_id(), true);
  return to_grpc_status(s);
}

grpc::Status AgentService::StartContainer(grpc::ServerContext* ctx, const v1::ContainerRequest* req,
                                          v1::Empty*) {
  Status s = check_request(*req);
  // No workload runs before the probes are attached (see agent/sensor/background_sensor.h).
  grpc::Status unused;
  if (s) (void)wait_sensor(ctx, unused);
  if (s) s = sandbox_.do_start_container(req->container_id());
  // Now that its cgroup exists: rules naming this container get their kernel entries.
  if (s && sensor_) sensor_->container_changed(req->container_id(), cgroup_parent_ / req->container_id(), true);
  return to_grpc_status(s);
}

grpc::Status AgentService::RemoveContainer(grpc::ServerContext*, const v1::ContainerRequest* req,
                                           v1::Empty*) {
  Status s = check_request(*req);
  if (s) s = sandbox_.do_remove_container(req->container_id());
  if (s && sensor_) sensor_->container_changed(req->container_id(), {}, false);
  return to_grpc_status(s);
}

grpc::Status AgentService::StatsContainer(grpc::ServerContext*, const v1::ContainerRequest* req,
                                          v1::StatsContainerResponse* resp) {
  Status s = check_request(*req);
  if (!s) return to_grpc_status(s);
  auto stats = sandbox_.do_stats_container(req->container_id());
  if (!stats) return to_grpc_status(stats.error());
  if (stats->memory_current_bytes) resp->set_memory_current_bytes(*stats->memory_current_bytes);
  if (stats->pids_current) resp->set_pids_current(*stats->pids_current);
  if (stats->cpu_usage_usec) resp->set_cpu_usage_usec(*stats->cpu_usage_usec);
  return grpc::Status::OK;
}

grpc::Status AgentService::ExecProcess(grpc::ServerContext*, const v1::ExecProcessRequest* req,
                                       v1::Empty*) {
  Status s = check_request(*req);
  if (s) {
    NewExec e{req->container_id(), req->exec_id(), req->oci_process_json(),
              {req->args().begin(), req->args().end()}, {req->env().begin(), req->env().end()},
              req->cwd(), req->open_stdin()};
    s = sandbox_.do_exec_process(e);
  }
  return to_grpc_status(s);
}

grpc::Status AgentService::SignalProcess(grpc::ServerContext*, const v1::SignalProcessRequest* req,
                                         v1::Empty*) {
  Status s = check_request(*req);
  if (s) s = sandbox_.do_signal_process(req->container_id(), req->exec_id(), req->signal());
  return to_grpc_status(s);
}

grpc::Status AgentService::WaitProcess(grpc::ServerContext* ctx, const v1::ProcessRequest* req,
                                       v1::WaitProcessResponse* resp) {
  Status s = check_request(*req);
  if (!s) return to_grpc_status(s);
  auto st = sandbox_.do_wait_process(req->container_id(), req->exec_id(), cancel_check(ctx));
  if (!st) return to_grpc_status(st.error());
  resp->set_wait_status(*st);
  resp->set_exited(WIFEXITED(*st));
  resp->set_exit_code(WIFEXITED(*st) ? WEXITSTATUS(*st) : 0);
  resp->set_signal(WIFSIGNALED(*st) ? WTERMSIG(*st) : 0);
  return grpc::Status::OK;
}

grpc::Status AgentService::WriteStdin(grpc::ServerContext* ctx, const v1::WriteStdinRequest* req,
                                      v1::WriteStdinResponse* resp) {
  Status s = check_request(*req);
  if (!s) return to_grpc_status(s);
  auto n = sandbox_.do_write_stdin(req->container_id(), req->exec_id(), req->data(),
                                   cancel_check(ctx));
  if (!n) return to_grpc_status(n.error());
  resp->set_written(*n);
  return grpc::Status::OK;
}

grpc::Status AgentService::CloseStdin(grpc::ServerContext*, const v1::ProcessRequest* req,
                                      v1::Empty*) {
  Status s = check_request(*req);
  if (s) s = sandbox_.do_close_stdin(req->container_id(), req->exec_id());
  return to_grpc_status(s);
}

grpc::Status AgentService::ReadOutput(grpc::ServerContext* ctx, const v1::ProcessRequest* req,
                                      grpc::ServerWriter<v1::OutputChunk>* writer) {
  Status s = check_request(*req);
  if (!s) return to_grpc_status(s);
  v1::OutputChunk chunk;
  OutputSink sink = [&](OutputStream stream, std::string_view data) {
    chunk.set_stream(stream == OutputStream::out ? v1::OutputChunk::STREAM_STDOUT
                                                 : v1::OutputChunk::STREAM_STDERR);
    chunk.set_data(data.data(), data.size());
    return writer->Write(chunk);
  };
  s = sandbox_.do_read_output(req->container_id(), req->exec_id(), sink, cancel_check(ctx));
  return to_grpc_status(s);
}

grpc::Status AgentService::StreamEvents(grpc::ServerContext* ctx,
                                       const v1::StreamEventsRequest* req,
                                       grpc::ServerWriter<v1::EventBatch>* writer) {
  return with_sensor(ctx, [&](guest_probes::GuestSensor* sensor) { return sensor_stream_events(sensor, *req, writer, cancel_check(ctx)); });
}

grpc::Status AgentService::SetEnforcement(grpc::ServerContext* ctx,
                                         const v1::SetEnforcementRequest* req,
                                         v1::SetEnforcementResponse* resp) {
  return with_sensor(ctx, [&](guest_probes::GuestSensor* sensor) { return sensor_set_enforcement(sensor, *req, resp); });
}

grpc::Status AgentService::KillGuestProcess(grpc::ServerContext* ctx,
                                           const v1::KillGuestProcessRequest* req, v1::Empty*) {
  return with_sensor(ctx, [&](guest_probes::GuestSensor* sensor) { return sensor_kill_process(sensor, *req); });
}

grpc::Status AgentService::SetSensorAttached(grpc::ServerContext* ctx,
                                            const v1::SetSensorAttachedRequest* req, v1::Empty*) {
  return with_sensor(ctx, [&](guest_probes::GuestSensor* sensor) { return sensor_set_attached(sensor, *req); });
}

grpc::Status AgentService::SetWantedTypes(grpc::ServerContext* ctx,
                                         const v1::SetWantedTypesRequest* req, v1::Empty*) {
  return with_sensor(ctx, [&](guest_probes::GuestSensor* sensor) { return sensor_set_wanted_types(sensor, *req); });
}

grpc::Status AgentService::ListGuestProcesses(grpc::ServerContext* ctx,
                                             const v1::ListGuestProcessesRequest*,
                                             v1::ListGuestProcessesResponse* resp) {
  return with_sensor(ctx, [&](guest_probes::GuestSensor* sensor) { return sensor_list_processes(sensor, resp); });
}

}  // namespace kata_sentry::agent
