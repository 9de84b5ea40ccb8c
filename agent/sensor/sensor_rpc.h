// The agent's guest-sensor RPCs (StreamEvents, SetEnforcement, KillGuestProcess,
// ListGuestProcesses, SetSensorAttached): protobuf in,
// guest_probes calls, protobuf out. AgentService's handlers forward here; a null sensor (it
// failed to start) answers UNAVAILABLE with the reason.
#pragma once

#include <functional>

#include <grpcpp/grpcpp.h>

#include "agent.grpc.pb.h"
#include "guest-probes/guest_sensor.h"

namespace kata_sentry::agent {

grpc::Status sensor_stream_events(guest_probes::GuestSensor* sensor,
                                  const v1::StreamEventsRequest& req,
                                  grpc::ServerWriter<v1::EventBatch>* writer,
                                  const std::function<bool()>& cancelled);
grpc::Status sensor_set_enforcement(guest_probes::GuestSensor* sensor,
                                    const v1::SetEnforcementRequest& req,
                                    v1::SetEnforcementResponse* resp);
grpc::Status sensor_kill_process(guest_probes::GuestSensor* sensor,
                                 const v1::KillGuestProcessRequest& req);
// At most kMaxListedProcesses processes, each field cut to the bounds in the .cpp.
grpc::Status sensor_list_processes(guest_probes::GuestSensor* sensor,
                                   v1::ListGuestProcessesResponse* resp);
grpc::Status sensor_set_attached(guest_probes::GuestSensor* sensor,
                                 const v1::SetSensorAttachedRequest& req);
grpc::Status sensor_set_wanted_types(guest_probes::GuestSensor* sensor,
                                     const v1::SetWantedTypesRequest& req);

}  // namespace kata_sentry::agent
