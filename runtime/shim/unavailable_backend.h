// The backend the shim uses until the Sandbox runtime (runtime/sandbox) is linked in: every
// operation that would need a VM fails with a clear Unavailable error, so containerd reports
// why the task cannot run and cleans up through the normal delete path.
#pragma once

#include "runtime/shim/task_backend.h"

namespace kata_sentry::shim {

class UnavailableBackend final : public TaskBackend {
 public:
  void set_observer(BackendObserver) override {}
  Result<uint32_t> create(const ContainerSpec& spec) override;
  Result<uint32_t> start(const std::string& id, const std::string& exec_id) override;
  Status exec(const ExecSpec& spec) override;
  Status remove(const std::string&, const std::string&) override { return {}; }
  Status kill(const std::string& id, const std::string& exec_id, uint32_t signal, bool all) override;
  Result<std::vector<ProcessInfo>> pids(const std::string& id) override;
  Status resize_pty(const std::string& id, const std::string& exec_id, uint32_t width, uint32_t height) override;
  Status close_stdin(const std::string& id, const std::string& exec_id) override;
  Status pause(const std::string& id) override;
  Status resume(const std::string& id) override;
  Status update(const std::string& id, const std::string& resources_json) override;
  Result<TaskStats> stats(const std::string& id) override;
  void shutdown() override {}
};

}  // namespace kata_sentry::shim
