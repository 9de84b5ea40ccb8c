// kata-sentryd's gRPC API (proto/sentryd.proto) over the registry and the event hub. Peers
// are already known to be root (RootOnlyListener); every request is still validated, and every
// failure is a status that names the sandbox and what was wrong.
#pragma once

#include <atomic>

#include "sentryd/event_hub.h"
#include "sentryd/sandbox_registry.h"
#include "sentryd.grpc.pb.h"

namespace kata_sentry::daemon {

class SentrydService final : public v1::Sentryd::Service {
 public:
  SentrydService(SandboxRegistry& registry, EventHub& hub, const std::atomic<bool>& stopping)
      : registry_(registry), hub_(hub), stopping_(stopping) {}

  grpc::Status RegisterSandbox(grpc::ServerContext*, const v1::RegisterSandboxRequest*, v1::RegisterSandboxResponse*) override;
  grpc::Status UpdateSandbox(grpc::ServerContext*, const v1::UpdateSandboxRequest*, v1::Empty*) override;
  grpc::Status UnregisterSandbox(grpc::ServerContext*, const v1::UnregisterSandboxRequest*, v1::Empty*) override;
  grpc::Status RelayGuest(grpc::ServerContext*, grpc::ServerReaderWriter<v1::RelayCommand, v1::RelayMessage>*) override;
  grpc::Status RelayGuestEvents(grpc::ServerContext*, grpc::ServerReader<v1::GuestEventsMessage>*, v1::Empty*) override;
  grpc::Status StreamEvents(grpc::ServerContext*, const v1::StreamFilter*, grpc::ServerWriter<v1::EventUpdate>*) override;
  grpc::Status StreamAlerts(grpc::ServerContext*, const v1::StreamFilter*, grpc::ServerWriter<v1::AlertUpdate>*) override;
  grpc::Status ListSandboxes(grpc::ServerContext*, const v1::Empty*, v1::ListSandboxesResponse*) override;
  grpc::Status ListProcesses(grpc::ServerContext*, const v1::ListProcessesRequest*, v1::ListProcessesResponse*) override;

 private:
  SandboxRegistry& registry_;
  EventHub& hub_;
  const std::atomic<bool>& stopping_;
};

}  // namespace kata_sentry::daemon
