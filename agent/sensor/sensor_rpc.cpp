#include "agent/sensor/sensor_rpc.h"

#include "deny_rule_convert.h"
#include "grpc_status.h"
#include "guest_wire.h"

namespace kata_sentry::agent {
namespace {

grpc::Status no_sensor() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "guest sensor not running");
}

}  // namespace

grpc::Status sensor_stream_events(guest_probes::GuestSensor* sensor,
                                  const v1::StreamEventsRequest& req,
                                  grpc::ServerWriter<v1::EventBatch>* writer,
                                  const std::function<bool()>& cancelled) {
  if (!sensor) return no_sensor();
  v1::EventBatch msg;
  auto send = [&](GuestEventBatch&& b) {
    msg.Clear();
    guest_batch_to_proto(b, msg);
    return writer->Write(msg);
  };
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

grpc::Status sensor_set_attached(guest_probes::GuestSensor* sensor,
                                 const v1::SetSensorAttachedRequest& req) {
  if (!sensor) return no_sensor();
  return to_grpc_status(sensor->set_attached(req.attached()));
}

}  // namespace kata_sentry::agent
