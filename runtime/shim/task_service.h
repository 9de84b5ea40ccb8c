// containerd.task.v2.Task over ttrpc: the containerd-facing state machine for the containers
// and exec processes of one shim (one pod). It decodes requests (protobuf stays in
// task_service.cpp), checks the process state, calls the TaskBackend, records exits, wakes
// waiters and publishes task events. Every handler returns a status instead of throwing.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "runtime/shim/events.h"
#include "runtime/shim/task_backend.h"
#include "runtime/shim/ttrpc/server.h"

namespace kata_sentry::shim {

inline constexpr const char* kTaskService = "containerd.task.v2.Task";

enum class ProcessStatus { unknown = 0, created = 1, running = 2, stopped = 3, paused = 4 };

class TaskService {
 public:
  // `request_exit` is called (once) when containerd's Shutdown finds no task left; the
  // caller then stops the server and the backend from its own thread.
  TaskService(TaskBackend& backend, EventPublisher& events, std::function<void()> request_exit);
  ~TaskService();
  TaskService(const TaskService&) = delete;
  TaskService& operator=(const TaskService&) = delete;

  // Registers every Task method on the server.
  void register_methods(ttrpc::Server& server);

  // Marks every process not yet stopped as exited with `status` (e.g. 137 after the VM died)
  // and wakes all waiters: used when the backend is gone.
  void fail_all(uint32_t status);

  size_t task_count() const;

 private:
  struct Process {
    std::string exec_id;  // empty for the container's init process
    Stdio stdio;
    uint32_t pid = 0;
    ProcessStatus status = ProcessStatus::created;
    bool starting = false;               // start() in progress: exits wait until TaskStart went out
    std::optional<ExitInfo> early_exit;  // an exit reported while starting
    std::optional<ExitInfo> exit;
  };
  struct Task {
    std::string id;
    std::string bundle;
    std::shared_ptr<Process> init;
    std::map<std::string, std::shared_ptr<Process>> execs;
  };

  ttrpc::Reply create(const ttrpc::Call& c);
  ttrpc::Reply start(const ttrpc::Call& c);
  ttrpc::Reply remove(const ttrpc::Call& c);
  ttrpc::Reply state(const ttrpc::Call& c);
  ttrpc::Reply wait(const ttrpc::Call& c);
  ttrpc::Reply kill(const ttrpc::Call& c);
  ttrpc::Reply pids(const ttrpc::Call& c);
  ttrpc::Reply exec(const ttrpc::Call& c);
  ttrpc::Reply resize_pty(const ttrpc::Call& c);
  ttrpc::Reply close_io(const ttrpc::Call& c);
  ttrpc::Reply connect(const ttrpc::Call& c);
  ttrpc::Reply shutdown(const ttrpc::Call& c);
  ttrpc::Reply stats(const ttrpc::Call& c);
  ttrpc::Reply pause(const ttrpc::Call& c);
  ttrpc::Reply resume(const ttrpc::Call& c);
  ttrpc::Reply update(const ttrpc::Call& c);

  void on_exit(const std::string& id, const std::string& exec_id, const ExitInfo& info);
  void on_oom(const std::string& id);
  // Records the exit and publishes TaskExit; mu_ held.
  void apply_exit(const std::string& id, Process& p, const ExitInfo& info);
  // Finds a process; NotFound names what is missing. mu_ held.
  std::expected<std::shared_ptr<Process>, ttrpc::RpcStatus> find(const std::string& id, const std::string& exec_id);

  TaskBackend& backend_;
  EventPublisher& events_;
  std::function<void()> request_exit_;

  mutable std::mutex mu_;
  std::condition_variable exited_;  // any process stopped
  std::map<std::string, Task> tasks_;
};

}  // namespace kata_sentry::shim
