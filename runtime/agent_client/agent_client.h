// Host-side client of the in-guest agent (proto/agent.proto) over the agent channel's byte
// stream. Every message from the guest is untrusted: replies larger than max_message_bytes
// are refused (not buffered), every unary call has a deadline, and a broken channel turns
// into "agent <Call>: connection lost (guest died?)". Protobuf types stay inside the .cpp.
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/deny_rule.h"
#include "core/event.h"
#include "core/field_filters.h"
#include "core/net_config.h"
#include "core/result.h"

namespace kata_sentry::runtime {

struct AgentClientOptions {
  std::chrono::milliseconds call_deadline{10000};  // per unary call; WaitProcess/ReadOutput have
                                                   // none (they end when the process does)
  size_t max_message_bytes = 4 << 20;  // anything larger from the guest is refused, not buffered
  // HTTP/2 pings while calls are open: a guest that stops answering them for
  // keepalive_timeout breaks the channel, so even WaitProcess/ReadOutput end with
  // "connection lost" instead of hanging. Zero disables. Pings also run during wait_ready(),
  // so interval + timeout must exceed the time the guest needs to start serving (a TCG boot
  // takes seconds; 60 s leaves room on a loaded machine).
  std::chrono::milliseconds keepalive_interval{30000};
  std::chrono::milliseconds keepalive_timeout{30000};
};

struct GuestDetails {
  std::string kernel_release;
  std::string agent_version;
  std::vector<std::string> lsms;  // kernel order
  bool bpf_lsm_active = false;
  std::vector<std::string> cgroup_controllers;
};

struct SandboxConfig {
  std::string hostname;
  std::string shared_dir;  // guest path; empty: the agent's default
  std::map<std::string, std::string> options;
  // A CRI pod: its network (NICs found by MAC in the guest) and its /dev/shm size (0: none).
  PodNetworkConfig network;
  uint64_t pod_shm_bytes = 0;
};

struct ContainerConfig {
  std::string bundle;       // relative to the sandbox's shared dir; empty: the container id
  bool open_stdin = false;  // false: the init's stdin is /dev/null
  // A CRI pod's container: join these namespaces ("ipc", "uts") of the pod's sandbox container.
  std::string pod_container_id;
  std::vector<std::string> pod_namespaces;
};

// What to run with exec_process(): either a full OCI process object (JSON) or args with
// optional env/cwd overrides on top of the container's own process settings.
struct ExecConfig {
  std::string oci_process_json;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd;
  bool open_stdin = false;
};

// Decoded by the host from the raw wait(2) status; the guest's own decoding is not trusted.
struct ExitStatus {
  int wait_status = 0;
  std::optional<int> exit_code;  // set when the process exited
  std::optional<int> signal;     // set when a signal killed it
  // The shell convention: exit_code, or 128 + signal.
  int shell_code() const { return exit_code ? *exit_code : 128 + signal.value_or(0); }
};

struct ContainerStats {
  std::optional<uint64_t> memory_current_bytes;
  std::optional<uint64_t> pids_current;
  std::optional<uint64_t> cpu_usage_usec;
};

// Thread-safe: calls may run concurrently (e.g. wait_process on one thread while read_output
// streams on another and write_stdin feeds a third).
class AgentClient {
 public:
  // Takes ownership of a connected stream fd (the QEMU virtio-serial chardev socket on the
  // host), also when it fails. Fails only on a bad fd.
  static Result<std::unique_ptr<AgentClient>> connect(int stream_fd,
                                                      AgentClientOptions options = {});
  ~AgentClient();
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  // Polls Check until the agent answers; fails with timeout, or at once if the channel broke.
  Status wait_ready(std::chrono::milliseconds timeout);
  Result<GuestDetails> guest_details();

  Status create_sandbox(const SandboxConfig& config);
  Status destroy_sandbox();

  // An empty oci_spec_json makes the agent read config.json from the bundle directory.
  Status create_container(const std::string& container_id, const std::string& oci_spec_json,
                          const ContainerConfig& config = {});
  Status start_container(const std::string& container_id);
  Status remove_container(const std::string& container_id);
  Result<ContainerStats> stats_container(const std::string& container_id);

  // exec_id "" addresses the container's init in the calls below (not in exec_process).
  Status exec_process(const std::string& container_id, const std::string& exec_id,
                      const ExecConfig& config);
  Status signal_process(const std::string& container_id, const std::string& exec_id, int sig);
  // Blocks until the process exits (no deadline); fails if the channel breaks meanwhile.
  Result<ExitStatus> wait_process(const std::string& container_id, const std::string& exec_id);

  Status write_stdin(const std::string& container_id, const std::string& exec_id,
                     std::string_view data);
  Status close_stdin(const std::string& container_id, const std::string& exec_id);

  // Streams output until the process's pipes close; the callbacks get stdout/stderr bytes
  // (called on this thread). No deadline; fails if the channel breaks or the guest sends
  // something malformed.
  Status read_output(const std::string& container_id, const std::string& exec_id,
                     std::function<void(std::string_view)> on_stdout,
                     std::function<void(std::string_view)> on_stderr);

  // Guest sensor. Blocks delivering each EventBatch as the guest sent it (wire bytes, not
  // decoded: the host's guard decodes them within its limits, monitor/guest_stream_guard.h)
  // on this thread, until the stream ends, the channel breaks, or on_batch returns false
  // (then success). A message over max_message_bytes breaks the stream. No deadline
  // (heartbeats come every 250 ms; keepalive catches a dead guest).
  Status stream_events(const std::function<bool(std::string&&)>& on_batch);
  // Replaces the guest's whole deny set; returns "<rule>: <reason>" for each rule the guest
  // could not install (empty: all installed). Fails if the agent could not apply the set.
  Result<std::vector<std::string>> set_enforcement(const std::vector<DenyRule>& rules);
  // Signals a guest process (by guest tgid) that belongs to one of the containers.
  Status kill_guest_process(uint32_t guest_pid, int sig);
  // The guest sensor's process table as the agent sent it (a ListGuestProcessesResponse in
  // wire form, not decoded: the daemon decodes and bounds it, sentryd/sandbox_processes.h).
  Result<std::string> list_guest_processes();
  // Detaches (false) or re-attaches (true) every guest probe; for benchmarks.
  Status set_sensor_attached(bool attached);
  // In-guest filtering: the event types the guest probes build (bit N = event type N).
  // `fields`: the path and comm conditions of those types (core/field_filters.h); none by default.
  Status set_wanted_types(const std::bitset<kEventTypeSlots>& types, const FieldFilters& fields = {});

 private:
  struct Impl;
  explicit AgentClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kata_sentry::runtime
