#include "cli/cri_client.h"

#include <sys/stat.h>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "cri_api.grpc.pb.h"

namespace kata_sentry::cri {
namespace {

namespace v1 = ::runtime::v1;

// The CRI version kubelet announces in VersionRequest.
constexpr const char* kCriVersion = "v1";

Error call_error(const grpc::Status& st, const std::string& call, const std::string& object,
                 std::chrono::seconds timeout) {
  std::string prefix = "CRI " + call + (object.empty() ? "" : " " + object) + ": ";
  switch (st.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Error{ErrorCode::timeout, 0, prefix + "no answer within " + std::to_string(timeout.count()) + " s"};
    case grpc::StatusCode::UNAVAILABLE:
      return Error{ErrorCode::unavailable, 0, prefix + "containerd is not reachable (" + st.error_message() + ")"};
    case grpc::StatusCode::UNIMPLEMENTED:
      return Error{ErrorCode::unavailable, 0,
                   prefix + "not implemented by this runtime (is containerd's CRI plugin loaded? " + st.error_message() + ")"};
    case grpc::StatusCode::NOT_FOUND:
      return Error{ErrorCode::not_found, 0, prefix + st.error_message()};
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Error{ErrorCode::invalid_argument, 0, prefix + st.error_message()};
    default:
      return Error{ErrorCode::io, 0, prefix + st.error_message()};
  }
}

v1::Protocol protocol_of(const std::string& p) {
  if (p == "udp") return v1::UDP;
  if (p == "sctp") return v1::SCTP;
  return v1::TCP;
}

void fill_resources(const Resources& r, v1::LinuxContainerResources* out) {
  out->set_cpu_period(r.cpu_period);
  out->set_cpu_quota(r.cpu_quota);
  out->set_memory_limit_in_bytes(r.memory_limit_bytes);
}

void fill_pod_config(const PodConfig& pod, v1::PodSandboxConfig* c) {
  auto* md = c->mutable_metadata();
  md->set_name(pod.name);
  md->set_namespace_(pod.ns);
  md->set_uid(pod.uid.empty() ? derived_pod_uid(pod.ns, pod.name) : pod.uid);
  md->set_attempt(pod.attempt);
  c->set_hostname(pod.hostname.empty() ? pod.name : pod.hostname);
  c->set_log_directory(pod.log_directory);
  auto* dns = c->mutable_dns_config();
  for (const auto& s : pod.dns_servers) dns->add_servers(s);
  for (const auto& s : pod.dns_searches) dns->add_searches(s);
  for (const auto& s : pod.dns_options) dns->add_options(s);
  for (const auto& p : pod.ports) {
    auto* pm = c->add_port_mappings();
    pm->set_protocol(protocol_of(p.protocol));
    pm->set_container_port(p.container_port);
    pm->set_host_port(p.host_port);
    pm->set_host_ip(p.host_ip);
  }
  c->mutable_labels()->insert(pod.labels.begin(), pod.labels.end());
  c->mutable_annotations()->insert(pod.annotations.begin(), pod.annotations.end());
  auto* linux = c->mutable_linux();
  linux->set_cgroup_parent(pod.cgroup_parent);
  auto* sc = linux->mutable_security_context();
  sc->set_privileged(pod.privileged);
  // What kubelet asks for an ordinary pod: network and IPC per pod, PID per container.
  auto* ns = sc->mutable_namespace_options();
  ns->set_network(v1::POD);
  ns->set_pid(v1::CONTAINER);
  ns->set_ipc(v1::POD);
  if (!pod.resources.empty()) fill_resources(pod.resources, linux->mutable_resources());
}

Labels to_map(const google::protobuf::Map<std::string, std::string>& m) { return Labels(m.begin(), m.end()); }

ContainerState state_of(v1::ContainerState s) {
  switch (s) {
    case v1::CONTAINER_CREATED: return ContainerState::created;
    case v1::CONTAINER_RUNNING: return ContainerState::running;
    case v1::CONTAINER_EXITED: return ContainerState::exited;
    default: return ContainerState::unknown;
  }
}

std::string socket_path(const std::string& endpoint) {
  constexpr std::string_view kScheme = "unix://";
  return endpoint.starts_with(kScheme) ? endpoint.substr(kScheme.size()) : endpoint;
}

}  // namespace

const char* container_state_name(ContainerState s) {
  switch (s) {
    case ContainerState::created: return "CONTAINER_CREATED";
    case ContainerState::running: return "CONTAINER_RUNNING";
    case ContainerState::exited: return "CONTAINER_EXITED";
    case ContainerState::unknown: break;
  }
  return "CONTAINER_UNKNOWN";
}

std::string derived_pod_uid(const std::string& ns, const std::string& name) {
  // FNV-1a over "ns/name", twice with different seeds: 128 stable bits, printed as a uid.
  auto fnv = [](const std::string& s, uint64_t h) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    return h;
  };
  std::string key = ns + "/" + name;
  uint64_t a = fnv(key, 0xcbf29ce484222325ULL), b = fnv(key, 0x84222325cbf29ce4ULL);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(a >> 32), unsigned((a >> 16) & 0xffff),
                unsigned(a & 0xffff), unsigned(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

struct CriClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::RuntimeService::Stub> stub;
  Options options;

  std::unique_ptr<grpc::ClientContext> context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + options.timeout);
    // Wait for containerd instead of failing at once while its socket is being set up.
    ctx->set_wait_for_ready(true);
    return ctx;
  }

  // Runs one unary call; `method` is the stub's member function.
  template <typename Req, typename Resp, typename Method>
  Result<Resp> call(Method method, const Req& req, const std::string& name, const std::string& object) {
    Resp resp;
    auto ctx = context();
    grpc::Status st = ((*stub).*method)(ctx.get(), req, &resp);
    if (!st.ok()) return std::unexpected(call_error(st, name, object, options.timeout));
    return resp;
  }
};

CriClient::CriClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CriClient::CriClient(CriClient&&) noexcept = default;
CriClient& CriClient::operator=(CriClient&&) noexcept = default;
CriClient::~CriClient() = default;

Result<CriClient> CriClient::connect(const std::string& endpoint, Options options) {
  std::string path = socket_path(endpoint);
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return fail_errno("CRI endpoint " + path);
  if (!S_ISSOCK(st.st_mode)) return fail(ErrorCode::invalid_argument, "CRI endpoint " + path + ": not a unix socket");
  auto impl = std::make_unique<Impl>();
  grpc::ChannelArguments args;
  // ExecSync output may be up to 16 MiB per stream (the CRI's cap).
  args.SetMaxReceiveMessageSize(40 * 1024 * 1024);
  impl->channel = grpc::CreateCustomChannel("unix://" + path, grpc::InsecureChannelCredentials(), args);
  impl->stub = v1::RuntimeService::NewStub(impl->channel);
  impl->options = options;
  return CriClient(std::move(impl));
}

Result<Version> CriClient::version() {
  v1::VersionRequest req;
  req.set_version(kCriVersion);
  auto r = impl_->call<v1::VersionRequest, v1::VersionResponse>(&v1::RuntimeService::Stub::Version, req, "Version", "");
  if (!r) return std::unexpected(r.error());
  return Version{r->version(), r->runtime_name(), r->runtime_version(), r->runtime_api_version()};
}

Result<std::vector<RuntimeCondition>> CriClient::status() {
  v1::StatusRequest req;
  auto r = impl_->call<v1::StatusRequest, v1::StatusResponse>(&v1::RuntimeService::Stub::Status, req, "Status", "");
  if (!r) return std::unexpected(r.error());
  std::vector<RuntimeCondition> out;
  for (const auto& c : r->status().conditions()) out.push_back({c.type(), c.status(), c.reason(), c.message()});
  return out;
}

Result<std::string> CriClient::run_pod(const PodConfig& pod) {
  v1::RunPodSandboxRequest req;
  fill_pod_config(pod, req.mutable_config());
  req.set_runtime_handler(pod.runtime_handler);
  auto r = impl_->call<v1::RunPodSandboxRequest, v1::RunPodSandboxResponse>(&v1::RuntimeService::Stub::RunPodSandbox,
                                                                            req, "RunPodSandbox", pod.name);
  if (!r) return std::unexpected(r.error());
  return r->pod_sandbox_id();
}

Status CriClient::stop_pod(const std::string& pod_id) {
  v1::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(pod_id);
  auto r = impl_->call<v1::StopPodSandboxRequest, v1::StopPodSandboxResponse>(&v1::RuntimeService::Stub::StopPodSandbox,
                                                                              req, "StopPodSandbox", pod_id);
  if (!r) return std::unexpected(r.error());
  return {};
}

Status CriClient::remove_pod(const std::string& pod_id) {
  v1::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(pod_id);
  auto r = impl_->call<v1::RemovePodSandboxRequest, v1::RemovePodSandboxResponse>(
      &v1::RuntimeService::Stub::RemovePodSandbox, req, "RemovePodSandbox", pod_id);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<PodStatus> CriClient::pod_status(const std::string& pod_id) {
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(pod_id);
  auto r = impl_->call<v1::PodSandboxStatusRequest, v1::PodSandboxStatusResponse>(
      &v1::RuntimeService::Stub::PodSandboxStatus, req, "PodSandboxStatus", pod_id);
  if (!r) return std::unexpected(r.error());
  const auto& s = r->status();
  PodStatus out;
  out.id = s.id();
  out.name = s.metadata().name();
  out.ns = s.metadata().namespace_();
  out.uid = s.metadata().uid();
  out.attempt = s.metadata().attempt();
  out.ready = s.state() == v1::SANDBOX_READY;
  out.created_at_ns = s.created_at();
  out.ip = s.network().ip();
  for (const auto& ip : s.network().additional_ips()) out.additional_ips.push_back(ip.ip());
  out.runtime_handler = s.runtime_handler();
  out.labels = to_map(s.labels());
  out.annotations = to_map(s.annotations());
  return out;
}

Result<PodConfig> CriClient::pod_config(const std::string& pod_id) {
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(pod_id);
  req.set_verbose(true);
  auto r = impl_->call<v1::PodSandboxStatusRequest, v1::PodSandboxStatusResponse>(
      &v1::RuntimeService::Stub::PodSandboxStatus, req, "PodSandboxStatus", pod_id);
  if (!r) return std::unexpected(r.error());
  // containerd's verbose status: info["info"] is a JSON object whose "config" is the
  // PodSandboxConfig in protobuf's JSON mapping.
  auto info = r->info().find("info");
  if (info == r->info().end())
    return fail(ErrorCode::protocol, "CRI PodSandboxStatus " + pod_id + ": no verbose \"info\" (not containerd?)");
  auto doc = nlohmann::json::parse(info->second, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("config"))
    return fail(ErrorCode::protocol, "CRI PodSandboxStatus " + pod_id + ": verbose info has no pod config");
  v1::PodSandboxConfig c;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  if (auto st = google::protobuf::util::JsonStringToMessage(doc["config"].dump(), &c, opts); !st.ok())
    return fail(ErrorCode::protocol, "CRI PodSandboxStatus " + pod_id + ": pod config: " + std::string(st.message()));
  PodConfig pod;
  pod.name = c.metadata().name();
  pod.ns = c.metadata().namespace_();
  pod.uid = c.metadata().uid();
  pod.attempt = c.metadata().attempt();
  pod.hostname = c.hostname();
  pod.log_directory = c.log_directory();
  pod.cgroup_parent = c.linux().cgroup_parent();
  pod.dns_servers.assign(c.dns_config().servers().begin(), c.dns_config().servers().end());
  pod.dns_searches.assign(c.dns_config().searches().begin(), c.dns_config().searches().end());
  pod.dns_options.assign(c.dns_config().options().begin(), c.dns_config().options().end());
  for (const auto& p : c.port_mappings()) {
    const char* proto = p.protocol() == v1::UDP ? "udp" : p.protocol() == v1::SCTP ? "sctp" : "tcp";
    pod.ports.push_back({proto, p.container_port(), p.host_port(), p.host_ip()});
  }
  pod.labels = to_map(c.labels());
  pod.annotations = to_map(c.annotations());
  pod.privileged = c.linux().security_context().privileged();
  const auto& res = c.linux().resources();
  pod.resources = Resources{res.cpu_period(), res.cpu_quota(), res.memory_limit_in_bytes()};
  auto handler = doc.find("runtimeHandler");
  if (handler != doc.end() && handler->is_string()) pod.runtime_handler = handler->get<std::string>();
  return pod;
}

Result<std::vector<PodStatus>> CriClient::list_pods(const Labels& labels) {
  v1::ListPodSandboxRequest req;
  if (!labels.empty()) req.mutable_filter()->mutable_label_selector()->insert(labels.begin(), labels.end());
  auto r = impl_->call<v1::ListPodSandboxRequest, v1::ListPodSandboxResponse>(&v1::RuntimeService::Stub::ListPodSandbox,
                                                                              req, "ListPodSandbox", "");
  if (!r) return std::unexpected(r.error());
  std::vector<PodStatus> out;
  for (const auto& p : r->items()) {
    PodStatus s;
    s.id = p.id();
    s.name = p.metadata().name();
    s.ns = p.metadata().namespace_();
    s.uid = p.metadata().uid();
    s.attempt = p.metadata().attempt();
    s.ready = p.state() == v1::SANDBOX_READY;
    s.created_at_ns = p.created_at();
    s.runtime_handler = p.runtime_handler();
    s.labels = to_map(p.labels());
    s.annotations = to_map(p.annotations());
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::string> CriClient::create_container(const std::string& pod_id, const ContainerConfig& c,
                                                const PodConfig& pod) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_id);
  fill_pod_config(pod, req.mutable_sandbox_config());
  auto* cc = req.mutable_config();
  cc->mutable_metadata()->set_name(c.name);
  cc->mutable_metadata()->set_attempt(c.attempt);
  cc->mutable_image()->set_image(c.image);
  for (const auto& a : c.command) cc->add_command(a);
  for (const auto& a : c.args) cc->add_args(a);
  cc->set_working_dir(c.working_dir);
  for (const auto& [k, v] : c.env) {
    auto* kv = cc->add_envs();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (const auto& m : c.mounts) {
    auto* pm = cc->add_mounts();
    pm->set_container_path(m.container_path);
    pm->set_host_path(m.host_path);
    pm->set_readonly(m.readonly);
  }
  cc->mutable_labels()->insert(c.labels.begin(), c.labels.end());
  cc->mutable_annotations()->insert(c.annotations.begin(), c.annotations.end());
  cc->set_log_path(c.log_path);
  auto* linux = cc->mutable_linux();
  if (!c.resources.empty()) fill_resources(c.resources, linux->mutable_resources());
  auto* sc = linux->mutable_security_context();
  sc->set_privileged(c.privileged);
  sc->set_readonly_rootfs(c.readonly_rootfs);
  auto* ns = sc->mutable_namespace_options();
  ns->set_network(v1::POD);
  ns->set_pid(v1::CONTAINER);
  ns->set_ipc(v1::POD);
  auto r = impl_->call<v1::CreateContainerRequest, v1::CreateContainerResponse>(
      &v1::RuntimeService::Stub::CreateContainer, req, "CreateContainer", c.name);
  if (!r) return std::unexpected(r.error());
  return r->container_id();
}

Status CriClient::start_container(const std::string& id) {
  v1::StartContainerRequest req;
  req.set_container_id(id);
  auto r = impl_->call<v1::StartContainerRequest, v1::StartContainerResponse>(&v1::RuntimeService::Stub::StartContainer,
                                                                              req, "StartContainer", id);
  if (!r) return std::unexpected(r.error());
  return {};
}

Status CriClient::stop_container(const std::string& id, int64_t timeout_seconds) {
  v1::StopContainerRequest req;
  req.set_container_id(id);
  req.set_timeout(timeout_seconds);
  auto r = impl_->call<v1::StopContainerRequest, v1::StopContainerResponse>(&v1::RuntimeService::Stub::StopContainer,
                                                                            req, "StopContainer", id);
  if (!r) return std::unexpected(r.error());
  return {};
}

Status CriClient::remove_container(const std::string& id) {
  v1::RemoveContainerRequest req;
  req.set_container_id(id);
  auto r = impl_->call<v1::RemoveContainerRequest, v1::RemoveContainerResponse>(
      &v1::RuntimeService::Stub::RemoveContainer, req, "RemoveContainer", id);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<ContainerStatus> CriClient::container_status(const std::string& id) {
  v1::ContainerStatusRequest req;
  req.set_container_id(id);
  auto r = impl_->call<v1::ContainerStatusRequest, v1::ContainerStatusResponse>(
      &v1::RuntimeService::Stub::ContainerStatus, req, "ContainerStatus", id);
  if (!r) return std::unexpected(r.error());
  const auto& s = r->status();
  ContainerStatus out;
  out.id = s.id();
  out.name = s.metadata().name();
  out.attempt = s.metadata().attempt();
  out.image = s.image().image();
  out.state = state_of(s.state());
  out.created_at_ns = s.created_at();
  out.started_at_ns = s.started_at();
  out.finished_at_ns = s.finished_at();
  out.exit_code = s.exit_code();
  out.reason = s.reason();
  out.message = s.message();
  for (const auto& m : s.mounts()) out.mounts.push_back({m.container_path(), m.host_path(), m.readonly()});
  out.labels = to_map(s.labels());
  out.annotations = to_map(s.annotations());
  return out;
}

Result<std::vector<ContainerStatus>> CriClient::list_containers(const std::string& pod_id) {
  v1::ListContainersRequest req;
  if (!pod_id.empty()) req.mutable_filter()->set_pod_sandbox_id(pod_id);
  auto r = impl_->call<v1::ListContainersRequest, v1::ListContainersResponse>(&v1::RuntimeService::Stub::ListContainers,
                                                                              req, "ListContainers", pod_id);
  if (!r) return std::unexpected(r.error());
  std::vector<ContainerStatus> out;
  for (const auto& c : r->containers()) {
    ContainerStatus s;
    s.id = c.id();
    s.pod_id = c.pod_sandbox_id();
    s.name = c.metadata().name();
    s.attempt = c.metadata().attempt();
    s.image = c.image().image();
    s.state = state_of(c.state());
    s.created_at_ns = c.created_at();
    s.labels = to_map(c.labels());
    s.annotations = to_map(c.annotations());
    out.push_back(std::move(s));
  }
  return out;
}

Result<ExecResult> CriClient::exec_sync(const std::string& id, const std::vector<std::string>& cmd,
                                        int64_t timeout_seconds) {
  v1::ExecSyncRequest req;
  req.set_container_id(id);
  for (const auto& a : cmd) req.add_cmd(a);
  req.set_timeout(timeout_seconds);
  auto r = impl_->call<v1::ExecSyncRequest, v1::ExecSyncResponse>(&v1::RuntimeService::Stub::ExecSync, req, "ExecSync",
                                                                  id);
  if (!r) return std::unexpected(r.error());
  return ExecResult{r->stdout(), r->stderr(), r->exit_code()};
}

}  // namespace kata_sentry::cri
