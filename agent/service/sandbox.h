// The agent's state and the work behind every RPC (the do_*() half of Kata's handler shape):
// containers from ks_agent_container, their processes, stdio pipes, and a reaper thread that
// collects exit statuses as soon as processes exit and keeps them until WaitProcess.
// No protobuf here; agent_service.cpp translates. Callers validate ids first
// (request_checks.h); these functions trust that ids are well-formed.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/container/container.h"
#include "agent/service/guest_network.h"
#include "core/unique_fd.h"
#include "core/result.h"

namespace kata_sentry::agent {

struct SandboxSettings {
  std::filesystem::path shared_dir;
  std::filesystem::path cgroup_parent;
  bool set_hostname = false;
  // Whether CreateSandbox may configure a CRI pod's network, write the pod files and mount the
  // pod's shm (guest_network.h): the real guest agent only, never an agent under test on a host.
  bool pod_setup = false;
  size_t max_containers = 64;
  size_t max_processes = 512;
  // Told about each container's cgroup before the container runs (see LaunchOptions).
  std::function<void(const std::string& container_id, const std::filesystem::path& cgroup_dir)>
      on_container_cgroup;
};

struct NewContainer {
  std::string id;
  std::string spec_json;  // empty: <bundle>/config.json
  std::string bundle;     // relative to the shared dir; empty: id
  bool open_stdin = false;
  // Join these namespaces ("ipc", "uts") of the pod's sandbox container pod_container_id.
  std::string pod_container_id;
  std::vector<std::string> pod_namespaces;
};

struct NewExec {
  std::string container_id;
  std::string exec_id;
  std::string process_json;  // an OCI process object; empty: args/env/cwd
  std::vector<std::string> args, env;
  std::string cwd;
  bool open_stdin = false;
};

enum class OutputStream { out, err };
// Gets each chunk as it is read; returns false when the consumer has gone away.
using OutputSink = std::function<bool(OutputStream, std::string_view)>;
// Polled by blocking calls; true ends them (the RPC was cancelled).
using CancelCheck = std::function<bool()>;

class Sandbox {
 public:
  explicit Sandbox(SandboxSettings settings);
  // Kills and reaps everything still running. Not movable: the reaper thread holds `this`.
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // `pod`: a CRI pod's network, files and shm (empty for a plain sandbox); refused with
  // unavailable unless settings.pod_setup.
  Status do_create_sandbox(const std::string& hostname, const std::string& shared_dir, const PodSetup& pod = {});
  // Kills every container; blocking calls in flight end with an error.
  Status do_destroy_sandbox();

  Status do_create_container(const NewContainer& request);
  Status do_start_container(const std::string& id);
  Status do_remove_container(const std::string& id);
  Result<ContainerStats> do_stats_container(const std::string& id);

  Status do_exec_process(const NewExec& request);
  Status do_signal_process(const std::string& container_id, const std::string& exec_id, int sig);
  // The wait(2) status. An exec'd process is forgotten once its status has been returned and
  // its output read to EOF (or with its container), so later calls on it get not_found.
  Result<int> do_wait_process(const std::string& container_id, const std::string& exec_id,
                              const CancelCheck& cancelled);
  // Returns the number of bytes written (all of data on success).
  Result<size_t> do_write_stdin(const std::string& container_id, const std::string& exec_id,
                                std::string_view data, const CancelCheck& cancelled);
  Status do_close_stdin(const std::string& container_id, const std::string& exec_id);
  // Streams stdout/stderr until both reach EOF.
  Status do_read_output(const std::string& container_id, const std::string& exec_id,
                        const OutputSink& sink, const CancelCheck& cancelled);

 private:
  struct Process;
  struct ContainerRecord;

  Result<std::shared_ptr<Process>> find_process_locked(const std::string& container_id,
                                                       const std::string& exec_id);
  ContainerRecord* find_container_locked(const std::string& id);
  size_t process_count_locked() const;
  // Points the spec's ipc/uts entries at the pod's sandbox container (NewContainer::pod_*).
  Status join_pod_namespaces(OciSpec& spec, const NewContainer& request);
  Status check_root_path(const OciSpec& spec, const std::filesystem::path& shared_dir,
                         const std::filesystem::path& bundle) const;
  Result<OciProcess> exec_process_spec(const NewExec& request, const OciSpec& container_spec) const;
  // Moves the running objects out of the record so they die (SIGKILL + reap) outside mu_.
  void retire_locked(ContainerRecord& record, std::vector<std::unique_ptr<ContainerExec>>& execs,
                     std::vector<std::unique_ptr<Container>>& containers);
  void forget_exec_if_done_locked(const std::string& container_id, const std::string& exec_id,
                                  const Process& proc);
  // Forgets exec'd processes whose status was collected but whose output nobody read, so a
  // host that never reads exec output cannot use up max_processes. Returns how many.
  size_t evict_collected_locked();
  void reap_locked();
  void reaper_loop();
  void wake_reaper();

  SandboxSettings settings_;
  std::mutex mu_;
  std::condition_variable exited_;  // a status was collected or a process went away
  bool created_ = false;
  bool stopping_ = false;
  std::map<std::string, std::unique_ptr<ContainerRecord>> containers_;
  UniqueFd wake_fd_;      // eventfd: new process to watch, or stop
  std::thread reaper_;    // last member: started after everything it uses exists
};

}  // namespace kata_sentry::agent
