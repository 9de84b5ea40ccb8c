#include "runtime/agent_client/agent_client.h"

#include <algorithm>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <thread>

#include "agent.grpc.pb.h"
#include "core/guest_text.h"
#include "deny_rule_convert.h"
#include "wanted_types_convert.h"
#include "runtime/agent_client/agent_errors.h"
#include "guest_wire.h"

namespace kata_sentry::runtime {
namespace v1 = kata_sentry::v1;

namespace {

// The same rule the agent enforces; checked here too so that a bad id fails before the call.
Status check_id(std::string_view call, std::string_view what, std::string_view id,
                bool allow_empty = false) {
  if (allow_empty && id.empty()) return {};
  bool ok = !id.empty() && id.size() <= 64 && id != "." && id != "..";
  for (char c : id)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-');
  if (!ok)
    return fail(ErrorCode::invalid_argument,
                "agent " + std::string(call) + ": " + std::string(what) + " \"" +
                    sanitize_guest_text(id, 80) + "\": must match [A-Za-z0-9_.-]{1,64}");
  return {};
}

Status check_ids(std::string_view call, const std::string& container_id,
                 const std::string& exec_id) {
  if (auto s = check_id(call, "container_id", container_id); !s) return s;
  return check_id(call, "exec_id", exec_id, /*allow_empty=*/true);
}

std::string process_name(const std::string& container_id, const std::string& exec_id) {
  return exec_id.empty() ? container_id : container_id + "/" + exec_id;
}

}  // namespace

struct AgentClient::Impl {
  AgentClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Agent::Stub> stub;

  // One unary call with the per-call deadline; rpc(ctx) issues it.
  template <typename Rpc>
  Status call(std::string_view name, std::string_view object, Rpc&& rpc,
              std::optional<std::chrono::milliseconds> deadline = std::nullopt) {
    grpc::ClientContext ctx;
    auto d = deadline.value_or(options.call_deadline);
    ctx.set_deadline(std::chrono::system_clock::now() + d);
    grpc::Status s = rpc(&ctx);
    if (!s.ok()) return std::unexpected(agent_error(s, name, object, d));
    return {};
  }
};

AgentClient::AgentClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AgentClient::~AgentClient() = default;

Result<std::unique_ptr<AgentClient>> AgentClient::connect(int stream_fd,
                                                          AgentClientOptions options) {
  if (stream_fd < 0 || ::fcntl(stream_fd, F_GETFD) < 0)
    return fail(ErrorCode::invalid_argument, "agent: connect: bad stream fd", EBADF);
  int fl = ::fcntl(stream_fd, F_GETFL);
  if (::fcntl(stream_fd, F_SETFD, FD_CLOEXEC) != 0 || fl < 0 ||
      ::fcntl(stream_fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    auto e = fail_errno("agent: connect: fcntl stream fd");
    ::close(stream_fd);
    return e;
  }
  grpc::ChannelArguments args;
  // Limits apply to what the guest sends (receive) and to what we would send.
  args.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  args.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  if (options.keepalive_interval.count() > 0) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, int(options.keepalive_interval.count()));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, int(options.keepalive_timeout.count()));
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // a quiet WaitProcess still pings
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->channel = grpc::CreateCustomInsecureChannelFromFd("kata-sentry-agent", stream_fd, args);
  if (!impl->channel) return fail(ErrorCode::internal, "agent: CreateInsecureChannelFromFd");
  impl->stub = v1::Agent::NewStub(impl->channel);
  return std::unique_ptr<AgentClient>(new AgentClient(std::move(impl)));
}

Status AgentClient::wait_ready(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    auto attempt = std::clamp(left, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
    v1::CheckRequest req;
    v1::CheckResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + attempt);
    grpc::Status s = impl_->stub->Check(&ctx, req, &resp);
    if (s.ok() && resp.serving()) return {};
    // A broken stream never heals; anything else (the guest still booting) is retried.
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE)
      return std::unexpected(agent_error(s, "Check", "", attempt));
    if (left <= attempt) {
      auto total = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
      return fail(ErrorCode::timeout, "agent Check: not ready after " +
                                          std::to_string(total.count()) + " ms");
    }
    if (s.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<GuestDetails> AgentClient::guest_details() {
  v1::GuestDetailsResponse resp;
  auto s = impl_->call("GetGuestDetails", "", [&](grpc::ClientContext* c) {
    return impl_->stub->GetGuestDetails(c, v1::GuestDetailsRequest(), &resp);
  });
  if (!s) return std::unexpected(s.error());
  GuestDetails d;
  d.kernel_release = sanitize_guest_text(resp.kernel_release(), 256);
  d.agent_version = sanitize_guest_text(resp.agent_version(), 64);
  for (const auto& l : resp.lsms()) d.lsms.push_back(sanitize_guest_text(l, 64));
  d.bpf_lsm_active = resp.bpf_lsm_active();
  for (const auto& c : resp.cgroup_controllers())
    d.cgroup_controllers.push_back(sanitize_guest_text(c, 64));
  return d;
}

Status AgentClient::create_sandbox(const SandboxConfig& config) {
  v1::CreateSandboxRequest req;
  req.set_hostname(config.hostname);
  req.set_shared_dir(config.shared_dir);
  for (const auto& [k, v] : config.options) (*req.mutable_options())[k] = v;
  for (const auto& i : config.network.interfaces) {
    auto* n = req.add_interfaces();
    n->set_name(i.name);
    n->set_mac(std::string(i.mac.begin(), i.mac.end()));
    n->set_mtu(i.mtu);
    for (const auto& a : i.addresses) n->add_addresses(format_ip(a));
  }
  for (const auto& r : config.network.routes) {
    auto* n = req.add_routes();
    if (r.destination) n->set_destination(format_ip(*r.destination));
    if (r.gateway) n->set_gateway(format_ip(*r.gateway, false));
    n->set_device(r.device);
  }
  req.set_pod_shm_bytes(config.pod_shm_bytes);
  v1::Empty resp;
  return impl_->call("CreateSandbox", "", [&](grpc::ClientContext* c) {
    return impl_->stub->CreateSandbox(c, req, &resp);
  });
}

Status AgentClient::destroy_sandbox() {
  v1::Empty resp;
  return impl_->call("DestroySandbox", "", [&](grpc::ClientContext* c) {
    return impl_->stub->DestroySandbox(c, v1::DestroySandboxRequest(), &resp);
  });
}

Status AgentClient::create_container(const std::string& container_id,
                                     const std::string& oci_spec_json,
                                     const ContainerConfig& config) {
  if (auto s = check_id("CreateContainer", "container_id", container_id); !s) return s;
  v1::CreateContainerRequest req;
  req.set_container_id(container_id);
  req.set_oci_spec_json(oci_spec_json);
  req.set_bundle(config.bundle);
  req.set_open_stdin(config.open_stdin);
  req.set_pod_container_id(config.pod_container_id);
  for (const auto& ns : config.pod_namespaces) req.add_pod_namespaces(ns);
  v1::Empty resp;
  return impl_->call("CreateContainer", container_id, [&](grpc::ClientContext* c) {
    return impl_->stub->CreateContainer(c, req, &resp);
  });
}

Status AgentClient::start_container(const std::string& container_id) {
  if (auto s = check_id("StartContainer", "container_id", container_id); !s) return s;
  v1::ContainerRequest req;
  req.set_container_id(container_id);
  v1::Empty resp;
  // The agent holds StartContainer until its sensor's probes are attached (up to 60 s,
  // kSensorStartWait in agent/service/agent_service.cpp; under TCG that takes 7 to 15 s after
  // boot): the call's deadline covers that wait, not only the start itself.
  constexpr std::chrono::milliseconds kStartDeadline{70000};
  return impl_->call("StartContainer", container_id, [&](grpc::ClientContext* c) {
    return impl_->stub->StartContainer(c, req, &resp);
  }, std::max(impl_->options.call_deadline, kStartDeadline));
}

Status AgentClient::remove_container(const std::string& container_id) {
  if (auto s = check_id("RemoveContainer", "container_id", container_id); !s) return s;
  v1::ContainerRequest req;
  req.set_container_id(container_id);
  v1::Empty resp;
  return impl_->call("RemoveContainer", container_id, [&](grpc::ClientContext* c) {
    return impl_->stub->RemoveContainer(c, req, &resp);
  });
}

Result<ContainerStats> AgentClient::stats_container(const std::string& container_id) {
  if (auto s = check_id("StatsContainer", "container_id", container_id); !s)
    return std::unexpected(s.error());
  v1::ContainerRequest req;
  req.set_container_id(container_id);
  v1::StatsContainerResponse resp;
  auto s = impl_->call("StatsContainer", container_id, [&](grpc::ClientContext* c) {
    return impl_->stub->StatsContainer(c, req, &resp);
  });
  if (!s) return std::unexpected(s.error());
  ContainerStats st;
  if (resp.has_memory_current_bytes()) st.memory_current_bytes = resp.memory_current_bytes();
  if (resp.has_pids_current()) st.pids_current = resp.pids_current();
  if (resp.has_cpu_usage_usec()) st.cpu_usage_usec = resp.cpu_usage_usec();
  return st;
}

Status AgentClient::exec_process(const std::string& container_id, const std::string& exec_id,
                                 const ExecConfig& config) {
  if (auto s = check_id("ExecProcess", "container_id", container_id); !s) return s;
  if (auto s = check_id("ExecProcess", "exec_id", exec_id); !s) return s;
  v1::ExecProcessRequest req;
  req.set_container_id(container_id);
  req.set_exec_id(exec_id);
  req.set_oci_process_json(config.oci_process_json);
  for (const auto& a : config.args) req.add_args(a);
  for (const auto& e : config.env) req.add_env(e);
  req.set_cwd(config.cwd);
  req.set_open_stdin(config.open_stdin);
  v1::Empty resp;
  return impl_->call("ExecProcess", process_name(container_id, exec_id),
                     [&](grpc::ClientContext* c) { return impl_->stub->ExecProcess(c, req, &resp); });
}

Status AgentClient::signal_process(const std::string& container_id, const std::string& exec_id,
                                   int sig) {
  if (auto s = check_ids("SignalProcess", container_id, exec_id); !s) return s;
  v1::SignalProcessRequest req;
  req.set_container_id(container_id);
  req.set_exec_id(exec_id);
  req.set_signal(sig);
  v1::Empty resp;
  return impl_->call("SignalProcess", process_name(container_id, exec_id),
                     [&](grpc::ClientContext* c) { return impl_->stub->SignalProcess(c, req, &resp); });
}

Result<ExitStatus> AgentClient::wait_process(const std::string& container_id,
                                             const std::string& exec_id) {
  if (auto s = check_ids("WaitProcess", container_id, exec_id); !s)
    return std::unexpected(s.error());
  v1::ProcessRequest req;
  req.set_container_id(container_id);
  req.set_exec_id(exec_id);
  v1::WaitProcessResponse resp;
  grpc::ClientContext ctx;  // no deadline: the process may run for as long as it likes
  grpc::Status s = impl_->stub->WaitProcess(&ctx, req, &resp);
  const std::string object = process_name(container_id, exec_id);
  if (!s.ok()) return std::unexpected(agent_error(s, "WaitProcess", object, {}));
  ExitStatus st;
  st.wait_status = resp.wait_status();
  if (WIFEXITED(st.wait_status)) {
    st.exit_code = WEXITSTATUS(st.wait_status);
  } else if (WIFSIGNALED(st.wait_status)) {
    st.signal = WTERMSIG(st.wait_status);
  } else {
    return fail(ErrorCode::protocol, "agent WaitProcess " + object + ": wait status " +
                                         std::to_string(st.wait_status) + " is neither an exit nor a signal");
  }
  return st;
}

Status AgentClient::write_stdin(const std::string& container_id, const std::string& exec_id,
                                std::string_view data) {
  if (auto s = check_ids("WriteStdin", container_id, exec_id); !s) return s;
  const std::string object = process_name(container_id, exec_id);
  // Chunked so that no single request approaches the message limit.
  const size_t chunk = std::min<size_t>(64 * 1024, impl_->options.max_message_bytes / 2);
  size_t off = 0;
  do {
    v1::WriteStdinRequest req;
    req.set_container_id(container_id);
    req.set_exec_id(exec_id);
    std::string_view part = data.substr(off, chunk);
    req.set_data(part.data(), part.size());
    v1::WriteStdinResponse resp;
    auto s = impl_->call("WriteStdin", object,
                         [&](grpc::ClientContext* c) { return impl_->stub->WriteStdin(c, req, &resp); });
    if (!s) return s;
    if (resp.written() != part.size())
      return fail(ErrorCode::protocol, "agent WriteStdin " + object + ": wrote " +
                                           std::to_string(resp.written()) + " of " +
                                           std::to_string(part.size()) + " bytes");
    off += part.size();
  } while (off < data.size());
  return {};
}

Status AgentClient::close_stdin(const std::string& container_id, const std::string& exec_id) {
  if (auto s = check_ids("CloseStdin", container_id, exec_id); !s) return s;
  v1::ProcessRequest req;
  req.set_container_id(container_id);
  req.set_exec_id(exec_id);
  v1::Empty resp;
  return impl_->call("CloseStdin", process_name(container_id, exec_id),
                     [&](grpc::ClientContext* c) { return impl_->stub->CloseStdin(c, req, &resp); });
}

Status AgentClient::read_output(const std::string& container_id, const std::string& exec_id,
                                std::function<void(std::string_view)> on_stdout,
                                std::function<void(std::string_view)> on_stderr) {
  if (auto s = check_ids("ReadOutput", container_id, exec_id); !s) return s;
  const std::string object = process_name(container_id, exec_id);
  v1::ProcessRequest req;
  req.set_container_id(container_id);
  req.set_exec_id(exec_id);
  grpc::ClientContext ctx;  // no deadline: ends when the process's pipes close
  auto reader = impl_->stub->ReadOutput(&ctx, req);
  v1::OutputChunk chunk;
  std::optional<Error> bad;
  while (reader->Read(&chunk)) {
    if (chunk.stream() == v1::OutputChunk::STREAM_STDOUT) {
      if (on_stdout) on_stdout(chunk.data());
    } else if (chunk.stream() == v1::OutputChunk::STREAM_STDERR) {
      if (on_stderr) on_stderr(chunk.data());
    } else {
      bad = Error{ErrorCode::protocol, 0,
                  "agent ReadOutput " + object + ": chunk for unknown stream " +
                      std::to_string(int(chunk.stream()))};
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  if (bad) return std::unexpected(*bad);
  if (!s.ok()) return std::unexpected(agent_error(s, "ReadOutput", object, {}));
  return {};
}

Status AgentClient::stream_events(const std::function<bool(std::string&&)>& on_batch) {
  v1::StreamEventsRequest req;
  grpc::ClientContext ctx;  // no deadline: heartbeats every 250 ms, keepalive for a dead guest
  // The reply is read as raw bytes, not as an EventBatch: a message the Protobuf library
  // refuses (a hostile or broken guest) must cost one dropped batch, not the stream. The
  // monitor's guard decodes each batch within its limits (proto/guest_wire.h).
  static const std::string kMethod = "/kata_sentry.v1.Agent/StreamEvents";
  grpc::internal::RpcMethod method(kMethod.c_str(), grpc::internal::RpcMethod::SERVER_STREAMING, impl_->channel);
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(impl_->channel.get(), method, &ctx, req));
  grpc::ByteBuffer msg;
  std::vector<grpc::Slice> slices;
  bool stopped = false;
  while (reader->Read(&msg)) {
    std::string wire;
    wire.reserve(msg.Length());  // at most max_message_bytes: the channel refuses more
    slices.clear();
    if (!msg.Dump(&slices).ok()) continue;
    for (const auto& sl : slices) wire.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    if (!on_batch(std::move(wire))) {
      stopped = true;
      break;
    }
  }
  if (stopped) ctx.TryCancel();
  grpc::Status s = reader->Finish();
  if (stopped) return {};
  if (!s.ok()) return std::unexpected(agent_error(s, "StreamEvents", "", {}));
  return {};
}

Result<std::vector<std::string>> AgentClient::set_enforcement(
    const std::vector<DenyRule>& rules) {
  v1::SetEnforcementRequest req;
  deny_rules_to_proto(rules, req);
  v1::SetEnforcementResponse resp;
  // The agent holds it until its sensor has loaded, as it holds StartContainer.
  constexpr std::chrono::milliseconds kSensorDeadline{70000};
  auto s = impl_->call("SetEnforcement", "", [&](grpc::ClientContext* c) {
    return impl_->stub->SetEnforcement(c, req, &resp);
  }, std::max(impl_->options.call_deadline, kSensorDeadline));
  if (!s) return std::unexpected(s.error());
  return refusals_from_proto(resp.refused());
}

Status AgentClient::kill_guest_process(uint32_t guest_pid, int sig) {
  if (guest_pid <= 1 || sig < 1 || sig > 64)
    return fail(ErrorCode::invalid_argument, "agent KillGuestProcess: pid " +
                                                 std::to_string(guest_pid) + " signal " +
                                                 std::to_string(sig) + ": out of range");
  v1::KillGuestProcessRequest req;
  req.set_pid(guest_pid);
  req.set_signal(sig);
  v1::Empty resp;
  return impl_->call("KillGuestProcess", "pid " + std::to_string(guest_pid),
                     [&](grpc::ClientContext* c) { return impl_->stub->KillGuestProcess(c, req, &resp); });
}

Result<std::string> AgentClient::list_guest_processes() {
  v1::ListGuestProcessesRequest req;
  v1::ListGuestProcessesResponse resp;
  auto s = impl_->call("ListGuestProcesses", "", [&](grpc::ClientContext* c) {
    return impl_->stub->ListGuestProcesses(c, req, &resp);
  });
  if (!s) return std::unexpected(s.error());
  return resp.SerializeAsString();
}

Status AgentClient::set_sensor_attached(bool attached) {
  v1::SetSensorAttachedRequest req;
  req.set_attached(attached);
  v1::Empty resp;
  // Attaching or detaching some 70 tracepoints and LSM hooks waits on the guest kernel's RCU
  // grace periods: under TCG on a busy host that took more than the default 10 s.
  constexpr std::chrono::milliseconds kAttachDeadline{60000};
  return impl_->call("SetSensorAttached", attached ? "attach" : "detach",
                     [&](grpc::ClientContext* c) { return impl_->stub->SetSensorAttached(c, req, &resp); },
                     std::max(impl_->options.call_deadline, kAttachDeadline));
}

Status AgentClient::set_wanted_types(const std::bitset<kEventTypeSlots>& types, const FieldFilters& fields) {
  v1::SetWantedTypesRequest req;
  wanted_types_to_proto(types, req);
  field_filters_to_proto(fields, req);
  v1::Empty resp;
  return impl_->call("SetWantedTypes", std::to_string(types.count()) + " types",
                     [&](grpc::ClientContext* c) { return impl_->stub->SetWantedTypes(c, req, &resp); });
}

}  // namespace kata_sentry::runtime
