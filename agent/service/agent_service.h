// The gRPC face of the agent: each handler checks the request (ids, paths, signals), calls
// one Sandbox::do_*() and maps the outcome with to_grpc_status(). Nothing here throws.
#pragma once

#include <filesystem>
#include <functional>

#include "agent.grpc.pb.h"
#include "agent/sensor/background_sensor.h"
#include "agent/service/sandbox.h"

namespace kata_sentry::guest_probes { class GuestSensor; }

namespace kata_sentry::agent {

class AgentService final : public kata_sentry::v1::Agent::Service {
 public:
  // on_destroyed runs after DestroySandbox has done its work (serve_agent then shuts down).
  // shutting_down is polled by the blocking and streaming handlers.
  AgentService(Sandbox& sandbox, std::filesystem::path cgroup_parent,
               std::function<void()> on_destroyed, std::function<bool()> shutting_down,
               SensorHandle* sensor = nullptr);  // null: sensor RPCs UNAVAILABLE

  grpc::Status Check(grpc::ServerContext*, const v1::CheckRequest*, v1::CheckResponse*) override;
  grpc::Status GetGuestDetails(grpc::ServerContext*, const v1::GuestDetailsRequest*,
                               v1::GuestDetailsResponse*) override;
  grpc::Status CreateSandbox(grpc::ServerContext*, const v1::CreateSandboxRequest*,
                             v1::Empty*) override;
  grpc::Status DestroySandbox(grpc::ServerContext*, const v1::DestroySandboxRequest*,
                              v1::Empty*) override;
  grpc::Status CreateContainer(grpc::ServerContext*, const v1::CreateContainerRequest*,
                               v1::Empty*) override;
  grpc::Status StartContainer(grpc::ServerContext*, const v1::ContainerRequest*,
                              v1::Empty*) override;
  grpc::Status RemoveContainer(grpc::ServerContext*, const v1::ContainerRequest*,
                               v1::Empty*) override;
  grpc::Status StatsContainer(grpc::ServerContext*, const v1::ContainerRequest*,
                              v1::StatsContainerResponse*) override;
  grpc::Status ExecProcess(grpc::ServerContext*, const v1::ExecProcessRequest*,
                           v1::Empty*) override;
  grpc::Status SignalProcess(grpc::ServerContext*, const v1::SignalProcessRequest*,
                             v1::Empty*) override;
  grpc::Status WaitProcess(grpc::ServerContext*, const v1::ProcessRequest*,
                           v1::WaitProcessResponse*) override;
  grpc::Status WriteStdin(grpc::ServerContext*, const v1::WriteStdinRequest*,
                          v1::WriteStdinResponse*) override;
  grpc::Status CloseStdin(grpc::ServerContext*, const v1::ProcessRequest*, v1::Empty*) override;
  grpc::Status ReadOutput(grpc::ServerContext*, const v1::ProcessRequest*,
                          grpc::ServerWriter<v1::OutputChunk>*) override;
  grpc::Status StreamEvents(grpc::ServerContext*, const v1::StreamEventsRequest*,
                            grpc::ServerWriter<v1::EventBatch>*) override;
  grpc::Status SetEnforcement(grpc::ServerContext*, const v1::SetEnforcementRequest*,
                              v1::SetEnforcementResponse*) override;
  grpc::Status KillGuestProcess(grpc::ServerContext*, const v1::KillGuestProcessRequest*,
                                v1::Empty*) override;
  grpc::Status SetSensorAttached(grpc::ServerContext*, const v1::SetSensorAttachedRequest*,
                                 v1::Empty*) override;
  grpc::Status SetWantedTypes(grpc::ServerContext*, const v1::SetWantedTypesRequest*,
                              v1::Empty*) override;
  grpc::Status ListGuestProcesses(grpc::ServerContext*, const v1::ListGuestProcessesRequest*,
                                  v1::ListGuestProcessesResponse*) override;

 private:
  CancelCheck cancel_check(grpc::ServerContext* ctx) const;
  // The sensor once it has started (waiting for it, cancellable), or null with the reason.
  guest_probes::GuestSensor* wait_sensor(grpc::ServerContext* ctx, grpc::Status& why) const;
  // The sensor RPCs: wait_sensor, then `call(sensor)`; its UNAVAILABLE status when none came.
  template <typename Call>
  grpc::Status with_sensor(grpc::ServerContext* ctx, Call&& call) const;

  Sandbox& sandbox_;
  std::filesystem::path cgroup_parent_;
  std::function<void()> on_destroyed_;
  std::function<bool()> shutting_down_;
  SensorHandle* sensor_;
};

}  // namespace kata_sentry::agent
