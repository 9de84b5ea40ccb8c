// `kata-sentry cri`: a pod as kubelet would start it, through containerd's CRI plugin
// (cli/cri_client.h). Subcommands follow crictl's names where crictl has one (runp, create,
// start, exec, inspect, inspectp, pods, ps, stop, rm, stopp, rmp, version, info) and take flags
// instead of JSON files. `run` does what kubelet does for a one-container pod.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/cri_client.h"
#include "core/flags.h"
#include "core/terminal_text.h"

namespace kata_sentry::cli {
namespace {

using cri::CriClient;

constexpr const char* kDefaultAddress = "/run/containerd/containerd.sock";

struct Common {
  std::string address = kDefaultAddress;
  int64_t timeout = 120;
};

void add_common(FlagParser& f, Common& c) {
  f.add_string("address", 'a', "SOCKET", "containerd's socket (default " + std::string(kDefaultAddress) + ")", &c.address);
  f.add_int("timeout", '\0', "SECONDS", "deadline of each CRI call (default 120, kubelet's default)", &c.timeout);
}

CriClient connect(const Common& c) {
  if (c.timeout <= 0) throw UsageError{"--timeout must be positive"};
  auto client = CriClient::connect(c.address, CriClient::Options{std::chrono::seconds(c.timeout)});
  if (!client) throw std::runtime_error(client.error().describe());
  return std::move(*client);
}

// Reports a failed call and returns the exit status 1.
int failed(const Error& e) {
  std::fprintf(stderr, "kata-sentry cri: %s\n", terminal_safe(e.describe()).c_str());
  return 1;
}

std::pair<std::string, std::string> key_value(const std::string& flag, const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw UsageError{"--" + flag + " wants KEY=VALUE, not \"" + text + "\""};
  return {text.substr(0, eq), text.substr(eq + 1)};
}

cri::Labels to_labels(const std::string& flag, const std::vector<std::string>& items) {
  cri::Labels out;
  for (const auto& i : items) out.insert(key_value(flag, i));
  return out;
}

int64_t parse_int(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || end == text.c_str()) throw UsageError{"--" + flag + ": \"" + text + "\" is not a number"};
  return v;
}

// "[HOST_IP:][HOST:]CONTAINER[/PROTO]": 8080:80, 80, 80/udp, 127.0.0.1:8080:80.
cri::PortMapping parse_port(const std::string& text) {
  cri::PortMapping p;
  std::string s = text;
  if (auto slash = s.find('/'); slash != std::string::npos) {
    p.protocol = s.substr(slash + 1);
    if (p.protocol != "tcp" && p.protocol != "udp" && p.protocol != "sctp")
      throw UsageError{"--port " + text + ": the protocol must be tcp, udp or sctp"};
    s = s.substr(0, slash);
  }
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    auto colon = s.find(':', start);
    parts.push_back(s.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3) throw UsageError{"--port " + text + ": use [HOST_IP:][HOST:]CONTAINER[/PROTO]"};
  p.container_port = int(parse_int("port", parts.back()));
  if (parts.size() >= 2) p.host_port = int(parse_int("port", parts[parts.size() - 2]));
  if (parts.size() == 3) p.host_ip = parts[0];
  if (p.container_port <= 0 || p.container_port > 65535 || p.host_port < 0 || p.host_port > 65535)
    throw UsageError{"--port " + text + ": ports are 1-65535"};
  return p;
}

// "HOST:CONTAINER[:ro]".
cri::Mount parse_mount(const std::string& text) {
  cri::Mount m;
  std::string s = text;
  if (s.ends_with(":ro")) {
    m.readonly = true;
    s.resize(s.size() - 3);
  } else if (s.ends_with(":rw")) {
    s.resize(s.size() - 3);
  }
  auto colon = s.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
    throw UsageError{"--mount wants HOST_PATH:CONTAINER_PATH[:ro], not \"" + text + "\""};
  m.host_path = s.substr(0, colon);
  m.container_path = s.substr(colon + 1);
  return m;
}

// "1.5" CPUs → quota/period; "256Mi", "1Gi", "500M", "1048576" → bytes.
cri::Resources parse_resources(const std::string& cpus, const std::string& memory) {
  cri::Resources r;
  if (!cpus.empty()) {
    char* end = nullptr;
    double n = std::strtod(cpus.c_str(), &end);
    if (end == cpus.c_str() || *end != '\0' || !(n > 0) || n > 1024) throw UsageError{"--cpus wants a positive number, not \"" + cpus + "\""};
    r.cpu_period = 100000;
    r.cpu_quota = int64_t(n * 100000 + 0.5);
  }
  if (!memory.empty()) {
    static const std::pair<const char*, int64_t> kUnits[] = {{"Ki", 1LL << 10}, {"Mi", 1LL << 20}, {"Gi", 1LL << 30},
                                                             {"K", 1000},       {"M", 1000000},    {"G", 1000000000}};
    int64_t unit = 1;
    std::string digits = memory;
    for (const auto& [suffix, mult] : kUnits) {
      if (memory.ends_with(suffix)) {
        unit = mult;
        digits = memory.substr(0, memory.size() - std::string(suffix).size());
        break;
      }
    }
    int64_t n = parse_int("memory", digits);
    if (n <= 0 || n > (int64_t(1) << 50) / unit) throw UsageError{"--memory wants a positive size like 256Mi, not \"" + memory + "\""};
    r.memory_limit_bytes = n * unit;
  }
  return r;
}

struct PodFlags {
  cri::PodConfig pod;
  std::vector<std::string> ports, labels, annotations;
  std::string cpus, memory;

  void add(FlagParser& f) {
    f.add_string("name", 'n', "NAME", "the pod's name (required)", &pod.name);
    f.add_string("namespace", '\0', "NS", "the pod's Kubernetes namespace (default \"default\")", &pod.ns);
    f.add_string("uid", '\0', "UID", "the pod's uid (default: derived from namespace and name)", &pod.uid);
    f.add_string("runtime", '\0', "HANDLER", "the RuntimeClass handler, e.g. kata-sentry (default: containerd's default runtime)",
                 &pod.runtime_handler);
    f.add_string("hostname", '\0', "NAME", "the pod's hostname (default: its name)", &pod.hostname);
    f.add_list("dns-server", '\0', "IP", "a nameserver for the pod's /etc/resolv.conf (repeatable)", &pod.dns_servers);
    f.add_list("dns-search", '\0', "DOMAIN", "a search domain (repeatable)", &pod.dns_searches);
    f.add_list("dns-option", '\0', "OPT", "a resolv.conf option, e.g. ndots:5 (repeatable)", &pod.dns_options);
    f.add_list("port", 'p', "[HOST:]PORT[/PROTO]", "a port mapping (repeatable)", &ports);
    f.add_list("label", 'l', "KEY=VALUE", "a pod label (repeatable)", &labels);
    f.add_list("annotation", '\0', "KEY=VALUE", "a pod annotation (repeatable)", &annotations);
    f.add_string("cgroup-parent", '\0', "PATH", "the pod's cgroup parent, cgroupfs style", &pod.cgroup_parent);
    f.add_string("log-dir", '\0', "DIR", "the pod's log directory (container logs go under it)", &pod.log_directory);
    f.add_bool("privileged-pod", '\0', "allow privileged containers in this pod", &pod.privileged);
    f.add_string("pod-cpus", '\0', "N", "the pod's CPU limit (linux.resources; sizes a kata-sentry VM)", &cpus);
    f.add_string("pod-memory", '\0', "SIZE", "the pod's memory limit, e.g. 256Mi (linux.resources; sizes a kata-sentry VM)", &memory);
  }
  void finish() {
    if (pod.name.empty()) throw UsageError{"--name is required"};
    for (const auto& p : ports) pod.ports.push_back(parse_port(p));
    pod.labels = to_labels("label", labels);
    pod.annotations = to_labels("annotation", annotations);
    pod.resources = parse_resources(cpus, memory);
  }
};

struct ContainerFlags {
  cri::ContainerConfig c;
  std::vector<std::string> env, mounts, labels, annotations;
  std::string cpus, memory;

  void add(FlagParser& f) {
    f.add_string("image", 'i', "REF", "the container's image, known to containerd's CRI plugin (required)", &c.image);
    f.add_string("container-name", '\0', "NAME",
                 "the container's name (default: the pod's name)", &c.name);
    f.add_list("env", 'e', "KEY=VALUE", "an environment variable (repeatable)", &env);
    f.add_list("mount", 'v', "HOST:CONTAINER[:ro]", "a host path mounted into the container (repeatable)", &mounts);
    f.add_list("container-label", '\0', "KEY=VALUE", "a container label (repeatable)", &labels);
    f.add_list("container-annotation", '\0', "KEY=VALUE", "a container annotation (repeatable)", &annotations);
    f.add_string("workdir", 'w', "DIR", "the working directory", &c.working_dir);
    f.add_string("entrypoint", '\0', "PATH", "replaces the image's entrypoint (the command line after -- gives its args)",
                 &entrypoint_);
    f.add_bool("privileged", '\0', "a privileged container: every capability and (guest) device, no seccomp", &c.privileged);
    f.add_bool("read-only", '\0', "a read-only root filesystem", &c.readonly_rootfs);
    f.add_string("cpus", '\0', "N", "the container's CPU limit", &cpus);
    f.add_string("memory", '\0', "SIZE", "the container's memory limit, e.g. 128Mi", &memory);
  }
  void finish(const std::vector<std::string>& command, const std::string& default_name) {
    if (c.image.empty()) throw UsageError{"--image is required"};
    if (c.name.empty()) c.name = default_name;
    for (const auto& e : env) c.env.push_back(key_value("env", e));
    for (const auto& m : mounts) c.mounts.push_back(parse_mount(m));
    c.labels = to_labels("container-label", labels);
    c.annotations = to_labels("container-annotation", annotations);
    c.resources = parse_resources(cpus, memory);
    if (!entrypoint_.empty()) {
      c.command = {entrypoint_};
      c.args = command;
    } else {
      c.command = command;  // like `kubectl run -- CMD`: replaces the image's entrypoint and cmd
    }
  }

 private:
  std::string entrypoint_;
};

std::string one_id(const std::vector<std::string>& rest, const char* what) {
  if (rest.size() != 1) throw UsageError{std::string("give exactly one ") + what};
  return rest[0];
}

nlohmann::ordered_json pod_json(const cri::PodStatus& p) {
  return {{"id", p.id},
          {"name", p.name},
          {"namespace", p.ns},
          {"uid", p.uid},
          {"attempt", p.attempt},
          {"state", p.ready ? "SANDBOX_READY" : "SANDBOX_NOTREADY"},
          {"created_at", p.created_at_ns},
          {"ip", p.ip},
          {"additional_ips", p.additional_ips},
          {"runtime_handler", p.runtime_handler},
          {"labels", p.labels},
          {"annotations", p.annotations}};
}

nlohmann::ordered_json container_json(const cri::ContainerStatus& c) {
  auto mounts = nlohmann::ordered_json::array();
  for (const auto& m : c.mounts)
    mounts.push_back({{"container_path", m.container_path}, {"host_path", m.host_path}, {"readonly", m.readonly}});
  return {{"id", c.id},
          {"name", c.name},
          {"attempt", c.attempt},
          {"image", c.image},
          {"state", cri::container_state_name(c.state)},
          {"created_at", c.created_at_ns},
          {"started_at", c.started_at_ns},
          {"finished_at", c.finished_at_ns},
          {"exit_code", c.exit_code},
          {"reason", c.reason},
          {"message", c.message},
          {"mounts", mounts},
          {"labels", c.labels},
          {"annotations", c.annotations}};
}

void print_json(const nlohmann::ordered_json& j) {
  std::puts(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

std::string short_id(const std::string& id) { return terminal_safe(id.substr(0, 13)); }

// ---- subcommands ----

int do_version(int argc, char** argv) {
  Common common;
  FlagParser f("kata-sentry cri version [flags]", "Prints the runtime's name and versions (CRI Version).");
  add_common(f, common);
  f.parse(argc, argv, 3);
  auto v = connect(common).version();
  if (!v) return failed(v.error());
  std::printf("Version:  %s\nRuntimeName:  %s\nRuntimeVersion:  %s\nRuntimeApiVersion:  %s\n",
              terminal_safe(v->version).c_str(), terminal_safe(v->runtime_name).c_str(),
              terminal_safe(v->runtime_version).c_str(), terminal_safe(v->runtime_api_version).c_str());
  return 0;
}

int do_info(int argc, char** argv) {
  Common common;
  FlagParser f("kata-sentry cri info [flags]",
               "Prints the runtime's conditions (CRI Status): RuntimeReady, and NetworkReady once a CNI network is "
               "configured. Exits 1 when a condition is false.");
  add_common(f, common);
  f.parse(argc, argv, 3);
  auto s = connect(common).status();
  if (!s) return failed(s.error());
  bool all = true;
  for (const auto& c : *s) {
    all = all && c.status;
    std::printf("%-14s %-5s %s%s%s\n", terminal_safe(c.type).c_str(), c.status ? "true" : "false",
                terminal_safe(c.reason).c_str(), c.message.empty() ? "" : ": ", terminal_safe(c.message).c_str());
  }
  return all ? 0 : 1;
}

int do_runp(int argc, char** argv) {
  Common common;
  PodFlags pf;
  FlagParser f("kata-sentry cri runp --name NAME [flags]",
               "Starts a pod sandbox (CRI RunPodSandbox) and prints its id. With --runtime kata-sentry the pod gets "
               "its own VM, with the pod's network inside it.");
  add_common(f, common);
  pf.add(f);
  f.parse(argc, argv, 3);
  pf.finish();
  auto id = connect(common).run_pod(pf.pod);
  if (!id) return failed(id.error());
  std::puts(id->c_str());
  return 0;
}

int do_create(int argc, char** argv) {
  Common common;
  ContainerFlags cf;
  std::string pod_id;
  FlagParser f("kata-sentry cri create --pod POD_ID --image REF [flags] [-- CMD ARG...]",
               "Creates a container in a pod (CRI CreateContainer) and prints its id. The pod's config is read back "
               "from containerd, as kubelet would send it again.");
  add_common(f, common);
  f.add_string("pod", '\0', "POD_ID", "the pod sandbox (required)", &pod_id);
  cf.add(f);
  auto rest = f.parse(argc, argv, 3);
  if (pod_id.empty()) throw UsageError{"--pod is required"};
  auto client = connect(common);
  auto pod = client.pod_config(pod_id);
  if (!pod) return failed(pod.error());
  cf.finish(rest, pod->name);
  auto id = client.create_container(pod_id, cf.c, *pod);
  if (!id) return failed(id.error());
  std::puts(id->c_str());
  return 0;
}

int do_simple(int argc, char** argv, const char* usage, const char* summary,
              Status (CriClient::*call)(const std::string&)) {
  Common common;
  FlagParser f(usage, summary);
  add_common(f, common);
  auto id = one_id(f.parse(argc, argv, 3), "id");
  auto st = (connect(common).*call)(id);
  if (!st) return failed(st.error());
  std::puts(id.c_str());
  return 0;
}

int do_stop(int argc, char** argv) {
  Common common;
  int64_t grace = 10;
  FlagParser f("kata-sentry cri stop [--grace SECONDS] CONTAINER_ID",
               "Stops a container (CRI StopContainer): SIGTERM, then SIGKILL after the grace period.");
  add_common(f, common);
  f.add_int("grace", '\0', "SECONDS", "time between SIGTERM and SIGKILL (default 10; 0 kills at once)", &grace);
  auto id = one_id(f.parse(argc, argv, 3), "container id");
  auto st = connect(common).stop_container(id, grace);
  if (!st) return failed(st.error());
  std::puts(id.c_str());
  return 0;
}

int do_exec(int argc, char** argv) {
  Common common;
  int64_t limit = 0;
  FlagParser f("kata-sentry cri exec [flags] CONTAINER_ID -- CMD ARG...",
               "Runs a command in a container and waits for it (CRI ExecSync); prints its stdout and stderr and exits "
               "with its exit code.");
  add_common(f, common);
  f.add_int("exec-timeout", '\0', "SECONDS", "kill the command after this long (default: no limit)", &limit);
  auto rest = f.parse(argc, argv, 3);
  if (rest.size() < 2) throw UsageError{"give a container id and a command"};
  std::string id = rest[0];
  std::vector<std::string> cmd(rest.begin() + 1, rest.end());
  auto r = connect(common).exec_sync(id, cmd, limit);
  if (!r) return failed(r.error());
  std::fwrite(r->out.data(), 1, r->out.size(), stdout);
  std::fwrite(r->err.data(), 1, r->err.size(), stderr);
  return r->exit_code;
}

int do_inspect(int argc, char** argv) {
  Common common;
  FlagParser f("kata-sentry cri inspect CONTAINER_ID", "Prints a container's status (CRI ContainerStatus) as JSON.");
  add_common(f, common);
  auto id = one_id(f.parse(argc, argv, 3), "container id");
  auto s = connect(common).container_status(id);
  if (!s) return failed(s.error());
  print_json(container_json(*s));
  return 0;
}

int do_inspectp(int argc, char** argv) {
  Common common;
  bool ip_only = false;
  FlagParser f("kata-sentry cri inspectp [--ip] POD_ID", "Prints a pod's status (CRI PodSandboxStatus) as JSON, with its IP.");
  add_common(f, common);
  f.add_bool("ip", '\0', "print only the pod's IP", &ip_only);
  auto id = one_id(f.parse(argc, argv, 3), "pod id");
  auto s = connect(common).pod_status(id);
  if (!s) return failed(s.error());
  if (ip_only) {
    if (s->ip.empty()) return failed(Error{ErrorCode::not_found, 0, "pod " + id + " has no IP (host network, or not ready)"});
    std::puts(terminal_safe(s->ip).c_str());
    return 0;
  }
  print_json(pod_json(*s));
  return 0;
}

int do_pods(int argc, char** argv) {
  Common common;
  std::vector<std::string> labels;
  bool json = false;
  FlagParser f("kata-sentry cri pods [flags]", "Lists pod sandboxes (CRI ListPodSandbox).");
  add_common(f, common);
  f.add_list("label", 'l', "KEY=VALUE", "only pods with this label (repeatable)", &labels);
  f.add_bool("json", '\0', "JSON instead of a table", &json);
  f.parse(argc, argv, 3);
  auto pods = connect(common).list_pods(to_labels("label", labels));
  if (!pods) return failed(pods.error());
  if (json) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& p : *pods) out.push_back(pod_json(p));
    print_json(out);
    return 0;
  }
  std::printf("%-13s  %-16s  %-24s  %-12s  %s\n", "POD ID", "STATE", "NAME", "NAMESPACE", "RUNTIME");
  for (const auto& p : *pods)
    std::printf("%-13s  %-16s  %-24s  %-12s  %s\n", short_id(p.id).c_str(), p.ready ? "SANDBOX_READY" : "SANDBOX_NOTREADY",
                terminal_safe(p.name).c_str(), terminal_safe(p.ns).c_str(), terminal_safe(p.runtime_handler).c_str());
  return 0;
}

int do_ps(int argc, char** argv) {
  Common common;
  std::string pod;
  bool json = false;
  FlagParser f("kata-sentry cri ps [flags]", "Lists containers (CRI ListContainers).");
  add_common(f, common);
  f.add_string("pod", '\0', "POD_ID", "only this pod's containers", &pod);
  f.add_bool("json", '\0', "JSON instead of a table", &json);
  f.parse(argc, argv, 3);
  auto list = connect(common).list_containers(pod);
  if (!list) return failed(list.error());
  if (json) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& c : *list) {
      auto j = container_json(c);
      j["pod_id"] = c.pod_id;
      out.push_back(j);
    }
    print_json(out);
    return 0;
  }
  std::printf("%-13s  %-18s  %-20s  %-13s  %s\n", "CONTAINER", "STATE", "NAME", "POD ID", "IMAGE");
  for (const auto& c : *list)
    std::printf("%-13s  %-18s  %-20s  %-13s  %s\n", short_id(c.id).c_str(), cri::container_state_name(c.state),
                terminal_safe(c.name).c_str(), short_id(c.pod_id).c_str(), terminal_safe(c.image).c_str());
  return 0;
}

int do_run(int argc, char** argv) {
  Common common;
  PodFlags pf;
  ContainerFlags cf;
  FlagParser f("kata-sentry cri run --name NAME --image REF [flags] [-- CMD ARG...]",
               "Starts a one-container pod the way kubelet does: RunPodSandbox, CreateContainer, StartContainer. "
               "Prints the pod id and the container id, one per line. On failure, what was started is removed.");
  add_common(f, common);
  pf.add(f);
  cf.add(f);
  auto rest = f.parse(argc, argv, 3);
  pf.finish();
  cf.finish(rest, pf.pod.name);
  if (cf.c.privileged) pf.pod.privileged = true;
  auto client = connect(common);
  auto pod = client.run_pod(pf.pod);
  if (!pod) return failed(pod.error());
  auto undo = [&] {
    (void)client.stop_pod(*pod);
    (void)client.remove_pod(*pod);
  };
  auto cid = client.create_container(*pod, cf.c, pf.pod);
  if (!cid) {
    undo();
    return failed(cid.error());
  }
  if (auto st = client.start_container(*cid); !st) {
    undo();
    return failed(st.error());
  }
  std::printf("%s\n%s\n", pod->c_str(), cid->c_str());
  return 0;
}

int do_rmp(int argc, char** argv) {
  Common common;
  FlagParser f("kata-sentry cri rmp POD_ID",
               "Stops and removes a pod sandbox with all its containers (CRI StopPodSandbox, RemovePodSandbox), as "
               "kubelet does when a pod is deleted.");
  add_common(f, common);
  auto id = one_id(f.parse(argc, argv, 3), "pod id");
  auto client = connect(common);
  if (auto st = client.stop_pod(id); !st) return failed(st.error());
  if (auto st = client.remove_pod(id); !st) return failed(st.error());
  std::puts(id.c_str());
  return 0;
}

struct Sub {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

int do_start(int argc, char** argv) {
  return do_simple(argc, argv, "kata-sentry cri start CONTAINER_ID", "Starts a created container (CRI StartContainer).",
                   &CriClient::start_container);
}
int do_rm(int argc, char** argv) {
  return do_simple(argc, argv, "kata-sentry cri rm CONTAINER_ID", "Removes a stopped container (CRI RemoveContainer).",
                   &CriClient::remove_container);
}
int do_stopp(int argc, char** argv) {
  return do_simple(argc, argv, "kata-sentry cri stopp POD_ID",
                   "Stops a pod sandbox and its containers and releases its network (CRI StopPodSandbox).",
                   &CriClient::stop_pod);
}

constexpr Sub kSubs[] = {
    {"run", do_run, "start a one-container pod (runp + create + start)"},
    {"runp", do_runp, "start a pod sandbox"},
    {"create", do_create, "create a container in a pod"},
    {"start", do_start, "start a created container"},
    {"exec", do_exec, "run a command in a container and wait for it"},
    {"inspect", do_inspect, "a container's status as JSON"},
    {"inspectp", do_inspectp, "a pod's status as JSON (with its IP)"},
    {"pods", do_pods, "list pods"},
    {"ps", do_ps, "list containers"},
    {"stop", do_stop, "stop a container"},
    {"rm", do_rm, "remove a container"},
    {"stopp", do_stopp, "stop a pod"},
    {"rmp", do_rmp, "stop and remove a pod and its containers"},
    {"version", do_version, "the runtime's name and versions"},
    {"info", do_info, "the runtime's conditions (is the pod network ready?)"},
};

void print_usage(FILE* out) {
  std::fprintf(out,
               "Usage: kata-sentry cri COMMAND [flags]\n\n"
               "Drives containerd's CRI plugin the way kubelet does (CRI runtime.v1 over containerd's socket),\n"
               "so that a pod with the kata-sentry RuntimeClass handler can be started and inspected without a\n"
               "cluster. Every command takes --address SOCKET (default %s) and --timeout SECONDS.\n\n"
               "Commands:\n",
               kDefaultAddress);
  for (const auto& s : kSubs) std::fprintf(out, "  %-9s %s\n", s.name, s.summary);
  std::fprintf(out,
               "\nRun 'kata-sentry cri COMMAND --help' for a command's flags. Example:\n"
               "  kata-sentry cri run --runtime kata-sentry --name web --image docker.io/kata-sentry/busybox:latest \\\n"
               "      -- httpd -f -p 80\n");
}

}  // namespace

int cmd_cri(int argc, char** argv) {
  // The common flags may also come before the command (`kata-sentry cri -a SOCK pods`): they
  // are moved behind it, where each command's parser reads them.
  std::vector<char*> args(argv, argv + 2), common;
  int i = 2;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    bool with_value = a == "-a" || a == "--address" || a == "--timeout";
    if (!with_value && !a.starts_with("--address=") && !a.starts_with("--timeout=")) break;
    common.push_back(argv[i]);
    if (with_value && i + 1 < argc) common.push_back(argv[++i]);
  }
  if (i >= argc) {
    print_usage(stderr);
    return 2;
  }
  args.push_back(argv[i]);
  args.insert(args.end(), common.begin(), common.end());
  args.insert(args.end(), argv + i + 1, argv + argc);
  args.push_back(nullptr);
  argc = int(args.size()) - 1;
  argv = args.data();
  std::string name = argv[2];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  for (const auto& s : kSubs)
    if (name == s.name) return s.run(argc, argv);
  throw UsageError{"unknown command \"" + name + "\" (see kata-sentry cri --help)"};
}

}  // namespace kata_sentry::cli
