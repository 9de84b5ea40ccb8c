#include "agent/sensor/sensor_rpc.h"

#include "deny_rule_convert.h"
#include "grpc_status.h"
#include "guest_wire.h"
#include "wanted_types_convert.h"

namespace kata_sentry::agent {
namespace {

grpc::Status no_sensor() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "guest sensor not running");
}

// What one ListGuestProcesses reply may hold: the host refuses more, so the agent sends no more.
constexpr size_t kMaxListedProcesses = 2048;
constexpr size_t kMaxPathBytes = 256;
constexpr size_t kMaxArgs = 16;
constexpr size_t kMaxArgBytes = 128;

}  // namespace

grpc::Status sensor_stream_events(guest_probes::GuestSensor* sensor,
                                  const v1::StreamEventsRequest& req,
                                  grpc::ServerWriter<v1::EventBatch>* writer,
                                  const std::function<bool()>& cancelled) {
  if (!sensor) return no_sensor();
  GuestBatchEncoder encoder;
  auto send = [&](GuestEventBatch&& b) { return writer->Write(encoder.build(b)); };
  Status s = sensor->stream(send, cancelled, req.max_batch_events(),
                            std::chrono::milliseconds(req.max_batch_delay_ms()));
  return to_grpc_status(s);
}

grpc::Status sensor_set_enforcement(guest_probes::GuestSensor* sensor,
                                    const v1::SetEnforcementRequest& req,
                                    v1::SetEnforcementResponse* resp) {
  if (!sensor) return no_sensor();
  auto rules = deny_rules_from_proto(req);
  if (!rules) return to_grpc_status(rules.error());
  auto res = sensor->set_enforcement(std::move(*rules));
  if (!res) return to_grpc_status(res.error());
  resp->set_installed(res->installed);
  for (auto& r : res->refused) resp->add_refused(r);
  return grpc::Status::OK;
}

grpc::Status sensor_kill_process(guest_probes::GuestSensor* sensor,
                                 const v1::KillGuestProcessRequest& req) {
  if (!sensor) return no_sensor();
  return to_grpc_status(sensor->kill_container_process(req.pid(), req.signal()));
}

grpc::Status sensor_list_processes(guest_probes::GuestSensor* sensor,
                                   v1::ListGuestProcessesResponse* resp) {
  if (!sensor) return no_sensor();
  auto snap = sensor->processes(kMaxListedProcesses, std::chrono::seconds(2));
  if (!snap) return to_grpc_status(snap.error());
  for (const auto& p : snap->processes) {
    auto* m = resp->add_processes();
    m->set_pid(p.process.pid);
    m->set_ppid(p.process.ppid);
    m->set_comm(p.process.name.substr(0, kMaxPathBytes));
    m->set_exepath(p.process.exepath.substr(0, kMaxPathBytes));
    bool cut = p.process.args_truncated || p.process.args.size() > kMaxArgs;
    for (size_t i = 0; i < p.process.args.size() && i < kMaxArgs; ++i) {
      const auto& a = p.process.args[i];
      cut |= a.size() > kMaxArgBytes;
      m->add_args(a.substr(0, kMaxArgBytes));
    }
    m->set_args_truncated(cut);
    m->set_container_id(p.container_id);
    m->set_agent(p.agent);
  }
  resp->set_truncated(snap->truncated);
  return grpc::Status::OK;
}

grpc::Status sensor_set_attached(guest_probes::GuestSensor* sensor,
                                 const v1::SetSensorAttachedRequest& req) {
  if (!sensor) return no_sensor();
  return to_grpc_status(sensor->set_attached(req.attached()));
}

grpc::Status sensor_set_wanted_types(guest_probes::GuestSensor* sensor,
                                     const v1::SetWantedTypesRequest& req) {
  if (!sensor) return no_sensor();
  auto types = wanted_types_from_proto(req);
  if (!types) return to_grpc_status(types.error());
  auto fields = field_filters_from_proto(req);
  if (!fields) return to_grpc_status(fields.error());
  return to_grpc_status(sensor->set_wanted_types(*types, *fields));
}

}  // namespace kata_sentry::agent
