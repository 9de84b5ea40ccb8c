#include "agent/service/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "agent/service/request_checks.h"
#include "core/logging.h"

namespace kata_sentry::agent {
namespace fs = std::filesystem;

namespace {

constexpr size_t kChunkBytes = 64 * 1024;  // one OutputChunk; far below any message limit
constexpr int kPollMs = 200;                // how often blocking calls look at cancellation

std::string process_name(const std::string& container_id, const std::string& exec_id) {
  return exec_id.empty() ? "container " + container_id
                         : "process " + container_id + "/" + exec_id;
}

struct Pipe {
  UniqueFd read, write;
};

Result<Pipe> make_pipe(const std::string& what) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno("pipe2 " + what);
  return Pipe{UniqueFd(p[0]), UniqueFd(p[1])};
}

// The agent's ends of a process's stdio, plus the child's ends until launch.
struct StdioPipes {
  UniqueFd stdin_w, stdout_r, stderr_r;   // agent side
  UniqueFd child_in, child_out, child_err;
  StdioFds child() const { return {child_in.get(), child_out.get(), child_err.get()}; }
};

Result<StdioPipes> make_stdio(const std::string& name, bool open_stdin) {
  StdioPipes s;
  if (open_stdin) {
    auto in = make_pipe(name + " stdin");
    if (!in) return std::unexpected(in.error());
    // Only the agent's end: the write end is its own open file description, so the
    // child's read end stays blocking.
    if (::fcntl(in->write.get(), F_SETFL, O_NONBLOCK) != 0) return fail_errno("fcntl " + name);
    s.stdin_w = std::move(in->write);
    s.child_in = std::move(in->read);
  }
  auto out = make_pipe(name + " stdout");
  if (!out) return std::unexpected(out.error());
  auto err = make_pipe(name + " stderr");
  if (!err) return std::unexpected(err.error());
  s.stdout_r = std::move(out->read);
  s.child_out = std::move(out->write);
  s.stderr_r = std::move(err->read);
  s.child_err = std::move(err->write);
  return s;
}

int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

struct Sandbox::Process {
  std::string name;  // "container c1" / "process c1/e1", for messages
  UniqueFd stdin_w, stdout_r, stderr_r;
  UniqueFd pidfd;    // readable once the process exits; wakes the reaper
  std::mutex stdin_mu;                    // serialises WriteStdin/CloseStdin
  // Guarded by Sandbox::mu_:
  std::unique_ptr<ContainerExec> exec;    // exec'd processes only; the init lives in Container
  std::optional<int> status;
  bool gone = false;                      // removed before anyone collected its status
  bool reader_attached = false;
  // An exec'd process is forgotten once both are true, so that output can still be read
  // after WaitProcess returned (or the other way round).
  bool collected = false;                 // WaitProcess handed out the status
  bool drained = false;                   // a ReadOutput reached EOF on both pipes
};

struct Sandbox::ContainerRecord {
  OciSpec spec;
  fs::path bundle_dir;
  std::shared_ptr<Process> init;
  StdioFds init_child_stdio;              // borrowed from init_child_fds until start
  std::vector<UniqueFd> init_child_fds;   // the init's ends, closed once it runs
  std::unique_ptr<Container> container;   // null until StartContainer
  std::map<std::string, std::shared_ptr<Process>> execs;
};

Sandbox::Sandbox(SandboxSettings settings) : settings_(std::move(settings)) {
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  reaper_ = std::thread([this] { reaper_loop(); });
}

Sandbox::~Sandbox() {
  (void)do_destroy_sandbox();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_reaper();
  if (reaper_.joinable()) reaper_.join();
}

Status Sandbox::do_create_sandbox(const std::string& hostname, const std::string& shared_dir, const PodSetup& pod) {
  std::lock_guard lock(mu_);
  if (stopping_) return fail(ErrorCode::unavailable, "sandbox is being destroyed");
  if (created_) return fail(ErrorCode::unavailable, "sandbox already created");
  if (!pod.empty() && !settings_.pod_setup)
    return fail(ErrorCode::unavailable, "pod network and files: only the guest's own agent (PID 1) sets them up");
  if (!shared_dir.empty()) settings_.shared_dir = shared_dir;
  if (settings_.set_hostname && !hostname.empty() &&
      ::sethostname(hostname.data(), hostname.size()) != 0)
    return fail_errno("sethostname " + hostname);
  if (!pod.network.interfaces.empty()) {
    if (auto st = apply_pod_network(pod.network); !st) return st;
  }
  if (pod.shm_bytes > 0) {
    if (auto st = mount_pod_shm(pod.shm_bytes); !st) return st;
  }
  created_ = true;
  logger("agent")->info("sandbox created (shared dir {}, hostname {})",
                        settings_.shared_dir.string(), hostname);
  return {};
}

Status Sandbox::do_destroy_sandbox() {
  std::vector<std::unique_ptr<ContainerExec>> execs;
  std::vector<std::unique_ptr<Container>> containers;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, record] : containers_) retire_locked(*record, execs, containers);
    containers_.clear();
    created_ = false;
  }
  exited_.notify_all();
  execs.clear();       // each SIGKILLs and reaps its process
  containers.clear();  // kills whatever is left in each cgroup, reaps the init
  return {};
}

void Sandbox::retire_locked(ContainerRecord& record,
                            std::vector<std::unique_ptr<ContainerExec>>& execs,
                            std::vector<std::unique_ptr<Container>>& containers) {
  for (auto& [eid, p] : record.execs) {
    if (p->exec) execs.push_back(std::move(p->exec));
    p->gone = true;
  }
  record.init->gone = true;
  if (record.container) containers.push_back(std::move(record.container));
}

Sandbox::ContainerRecord* Sandbox::find_container_locked(const std::string& id) {
  auto it = containers_.find(id);
  return it == containers_.end() ? nullptr : it->second.get();
}

size_t Sandbox::process_count_locked() const {
  size_t n = 0;
  for (const auto& [id, r] : containers_) n += 1 + r->execs.size();
  return n;
}

Result<std::shared_ptr<Sandbox::Process>> Sandbox::find_process_locked(
    const std::string& container_id, const std::string& exec_id) {
  ContainerRecord* r = find_container_locked(container_id);
  if (!r) return fail(ErrorCode::not_found, "container " + container_id + ": no such container");
  if (exec_id.empty()) return r->init;
  auto it = r->execs.find(exec_id);
  if (it == r->execs.end())
    return fail(ErrorCode::not_found, process_name(container_id, exec_id) + ": no such process");
  return it->second;
}

// The rootfs must come from the sandbox's share: a relative root.path stays inside the
// bundle, an absolute one must lie under the shared dir.
Status Sandbox::check_root_path(const OciSpec& spec, const fs::path& shared_dir,
                                const fs::path& bundle) const {
  fs::path root(spec.root.path);
  if (root.is_absolute()) {
    if (auto s = check_absolute_path("root.path", spec.root.path); !s) return s;
    auto rel = root.lexically_normal().lexically_relative(shared_dir.lexically_normal());
    if (rel.empty() || *rel.begin() == "..")
      return fail(ErrorCode::invalid_argument,
                  "root.path \"" + spec.root.path + "\": must lie under the shared dir " +
                      shared_dir.string());
    return {};
  }
  auto inside = confined_path(bundle, spec.root.path, "root.path");
  if (!inside) return std::unexpected(inside.error());
  return {};
}

Status Sandbox::do_create_container(const NewContainer& request) {
  fs::path shared_dir;
  {
    std::lock_guard lock(mu_);  // checked again on insertion; this one orders the errors
    if (!created_) return fail(ErrorCode::unavailable, "no sandbox: CreateSandbox must come first");
    shared_dir = settings_.shared_dir;
  }
  auto bundle = confined_path(shared_dir, request.bundle.empty() ? request.id : request.bundle,
                              "bundle");
  if (!bundle) return std::unexpected(bundle.error());
  const std::string source = "container " + request.id + " config.json";
  Result<OciSpec> spec = request.spec_json.empty() ? load_oci_spec(*bundle / "config.json")
                                                   : parse_oci_spec(request.spec_json, source);
  if (!spec) return std::unexpected(spec.error());
  if (auto s = check_root_path(*spec, shared_dir, *bundle); !s) return s;
  if (!request.pod_namespaces.empty()) {
    if (auto s = join_pod_namespaces(*spec, request); !s) return s;
  }

  auto stdio = make_stdio("container " + request.id, request.open_stdin);
  if (!stdio) return std::unexpected(stdio.error());

  auto record = std::make_unique<ContainerRecord>();
  record->spec = std::move(*spec);
  record->bundle_dir = *bundle;
  record->init = std::make_shared<Process>();
  record->init->name = process_name(request.id, "");
  record->init->stdin_w = std::move(stdio->stdin_w);
  record->init->stdout_r = std::move(stdio->stdout_r);
  record->init->stderr_r = std::move(stdio->stderr_r);
  record->init_child_stdio = stdio->child();
  record->init_child_fds.push_back(std::move(stdio->child_in));
  record->init_child_fds.push_back(std::move(stdio->child_out));
  record->init_child_fds.push_back(std::move(stdio->child_err));

  std::lock_guard lock(mu_);
  if (!created_) return fail(ErrorCode::unavailable, "no sandbox: CreateSandbox must come first");
  if (containers_.contains(request.id))
    return fail(ErrorCode::invalid_argument, "container " + request.id + ": already exists");
  if (containers_.size() >= settings_.max_containers)
    return fail(ErrorCode::unavailable, "container " + request.id + ": too many containers (" +
                                            std::to_string(settings_.max_containers) + ")");
  if (process_count_locked() >= settings_.max_processes) evict_collected_locked();
  if (process_count_locked() >= settings_.max_processes)
    return fail(ErrorCode::unavailable, "container " + request.id + ": too many processes");
  containers_.emplace(request.id, std::move(record));
  logger("agent")->debug("container {} created (bundle {})", request.id, bundle->string());
  return {};
}

Status Sandbox::join_pod_namespaces(OciSpec& spec, const NewContainer& request) {
  if (auto s = check_id("pod_container_id", request.pod_container_id); !s) return s;
  pid_t pid = 0;
  {
    std::lock_guard lock(mu_);
    ContainerRecord* r = find_container_locked(request.pod_container_id);
    if (!r || !r->container)
      return fail(ErrorCode::not_found, "container " + request.id + ": the pod's sandbox container " +
                                            request.pod_container_id + " is not running");
    pid = r->container->pid();
  }
  for (const auto& type : request.pod_namespaces) {
    if (type != "ipc" && type != "uts")
      return fail(ErrorCode::invalid_argument, "container " + request.id + ": pod namespace \"" + type.substr(0, 16) +
                                                   "\": only ipc and uts can be shared with the pod");
    std::string path = "/proc/" + std::to_string(pid) + "/ns/" + type;
    bool found = false;
    for (auto& ns : spec.linux.namespaces) {
      if (ns.type == type) {
        ns.path = path;
        found = true;
      }
    }
    if (!found) spec.linux.namespaces.push_back({type, path});
  }
  return {};
}

Status Sandbox::do_start_container(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    ContainerRecord* r = find_container_locked(id);
    if (!r) return fail(ErrorCode::not_found, "container " + id + ": no such container");
    if (r->container || r->init_child_fds.empty())
      return fail(ErrorCode::invalid_argument, "container " + id + ": already started");
    LaunchOptions options;
    options.container_id = id;
    options.bundle_dir = r->bundle_dir;
    options.cgroup_parent = settings_.cgroup_parent;
    options.stdio = r->init_child_stdio;
    if (settings_.on_container_cgroup)
      options.on_cgroup_ready = [&](const std::filesystem::path& dir) { settings_.on_container_cgroup(id, dir); };
    // Under mu_ so that the reaper never sees a half-registered process; the launch returns
    // as soon as execve succeeded.
    auto c = create_container(r->spec, options);
    r->init_child_fds.clear();  // the init holds its own copies now (or failed)
    r->init_child_stdio = {};
    if (!c) {
      // The init never ran: its status is "failed to start", so waiters must not hang.
      r->init->status = W_EXITCODE(127, 0);
      exited_.notify_all();
      return std::unexpected(c.error());
    }
    r->init->pidfd.reset(open_pidfd((*c)->pid()));
    r->container = std::move(*c);
    logger("agent")->info("container {} started, pid {}", id, r->container->pid());
  }
  wake_reaper();
  return {};
}

Status Sandbox::do_remove_container(const std::string& id) {
  std::vector<std::unique_ptr<ContainerExec>> execs;
  std::vector<std::unique_ptr<Container>> containers;
  {
    std::lock_guard lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end())
      return fail(ErrorCode::not_found, "container " + id + ": no such container");
    retire_locked(*it->second, execs, containers);
    containers_.erase(it);
  }
  exited_.notify_all();
  execs.clear();
  containers.clear();
  logger("agent")->info("container {} removed", id);
  return {};
}

Result<ContainerStats> Sandbox::do_stats_container(const std::string& id) {
  std::lock_guard lock(mu_);
  ContainerRecord* r = find_container_locked(id);
  if (!r) return fail(ErrorCode::not_found, "container " + id + ": no such container");
  if (!r->container) return fail(ErrorCode::unavailable, "container " + id + ": not started");
  return r->container->stats();
}

Result<OciProcess> Sandbox::exec_process_spec(const NewExec& request,
                                              const OciSpec& container_spec) const {
  if (request.process_json.empty()) {
    if (request.args.empty())
      return fail(ErrorCode::invalid_argument, "exec " + request.exec_id +
                                                   ": args: must be non-empty (or give an OCI process)");
    OciProcess p = container_spec.process;
    p.args = request.args;
    if (!request.env.empty()) p.env = request.env;
    if (!request.cwd.empty()) p.cwd = request.cwd;
    p.terminal = false;
    return p;
  }
  // Reuse the config.json parser (and its JSON-path errors) by wrapping the process object
  // into a minimal spec.
  auto process = nlohmann::json::parse(request.process_json, nullptr, /*allow_exceptions=*/false);
  if (process.is_discarded() || !process.is_object())
    return fail(ErrorCode::invalid_argument,
                "exec " + request.exec_id + " process: not a JSON object");
  nlohmann::json doc = {{"ociVersion", container_spec.oci_version},
                        {"root", {{"path", "rootfs"}}},
                        {"process", std::move(process)}};
  auto spec = parse_oci_spec(doc.dump(), "exec " + request.exec_id);
  if (!spec) return std::unexpected(spec.error());
  return std::move(spec->process);
}

Status Sandbox::do_exec_process(const NewExec& request) {
  const std::string name = process_name(request.container_id, request.exec_id);
  std::shared_ptr<Process> proc;
  {
    std::lock_guard lock(mu_);
    ContainerRecord* r = find_container_locked(request.container_id);
    if (!r)
      return fail(ErrorCode::not_found, "container " + request.container_id + ": no such container");
    if (!r->container)
      return fail(ErrorCode::unavailable, "container " + request.container_id + ": not started");
    if (r->execs.contains(request.exec_id))
      return fail(ErrorCode::invalid_argument, name + ": already exists");
    if (process_count_locked() >= settings_.max_processes) evict_collected_locked();
    if (process_count_locked() >= settings_.max_processes)
      return fail(ErrorCode::unavailable, name + ": too many processes (" +
                                              std::to_string(settings_.max_processes) + ")");
    auto spec = exec_process_spec(request, r->spec);
    if (!spec) return std::unexpected(spec.error());
    auto stdio = make_stdio(name, request.open_stdin);
    if (!stdio) return std::unexpected(stdio.error());
    auto exec = r->container->exec(*spec, stdio->child());
    if (!exec) return std::unexpected(exec.error());
    proc = std::make_shared<Process>();
    proc->name = name;
    proc->stdin_w = std::move(stdio->stdin_w);
    proc->stdout_r = std::move(stdio->stdout_r);
    proc->stderr_r = std::move(stdio->stderr_r);
    proc->pidfd.reset(open_pidfd((*exec)->pid()));
    proc->exec = std::move(*exec);
    r->execs.emplace(request.exec_id, proc);
    logger("agent")->debug("{} started, pid {}", name, proc->exec->pid());
  }  // the child's pipe ends close here: EOF reaches the readers once the process exits
  wake_reaper();
  return {};
}

Status Sandbox::do_signal_process(const std::string& container_id, const std::string& exec_id,
                                  int sig) {
  std::lock_guard lock(mu_);
  auto p = find_process_locked(container_id, exec_id);
  if (!p) return std::unexpected(p.error());
  if ((*p)->status)
    return fail(ErrorCode::not_found, (*p)->name + ": has already exited", ESRCH);
  if (exec_id.empty()) {
    ContainerRecord* r = find_container_locked(container_id);
    if (!r->container) return fail(ErrorCode::unavailable, (*p)->name + ": not started");
    return r->container->signal(sig);
  }
  return (*p)->exec->signal(sig);
}

Result<int> Sandbox::do_wait_process(const std::string& container_id, const std::string& exec_id,
                                     const CancelCheck& cancelled) {
  std::unique_lock lock(mu_);
  auto p = find_process_locked(container_id, exec_id);
  if (!p) return std::unexpected(p.error());
  std::shared_ptr<Process> proc = *p;
  while (!proc->status) {
    if (proc->gone) return fail(ErrorCode::not_found, proc->name + ": removed while waiting");
    if (stopping_) return fail(ErrorCode::unavailable, "agent is shutting down");
    if (cancelled()) return fail(ErrorCode::unavailable, proc->name + ": wait cancelled");
    exited_.wait_for(lock, std::chrono::milliseconds(kPollMs));
  }
  int status = *proc->status;
  if (!exec_id.empty()) {
    proc->collected = true;
    forget_exec_if_done_locked(container_id, exec_id, *proc);
  }
  return status;
}

Result<size_t> Sandbox::do_write_stdin(const std::string& container_id,
                                       const std::string& exec_id, std::string_view data,
                                       const CancelCheck& cancelled) {
  std::shared_ptr<Process> proc;
  {
    std::lock_guard lock(mu_);
    auto p = find_process_locked(container_id, exec_id);
    if (!p) return std::unexpected(p.error());
    proc = *p;
  }
  std::lock_guard stdin_lock(proc->stdin_mu);
  if (!proc->stdin_w.valid())
    return fail(ErrorCode::invalid_argument, proc->name + ": stdin is not open");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(proc->stdin_w.get(), data.data() + done, data.size() - done);
    if (n > 0) {
      done += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return fail_errno(proc->name + ": write stdin");
    if (cancelled()) return fail(ErrorCode::unavailable, proc->name + ": write stdin cancelled");
    pollfd pfd{proc->stdin_w.get(), POLLOUT, 0};
    ::poll(&pfd, 1, kPollMs);  // the process has not read yet: its pipe is full
  }
  return done;
}

Status Sandbox::do_close_stdin(const std::string& container_id, const std::string& exec_id) {
  std::shared_ptr<Process> proc;
  {
    std::lock_guard lock(mu_);
    auto p = find_process_locked(container_id, exec_id);
    if (!p) return std::unexpected(p.error());
    proc = *p;
  }
  std::lock_guard stdin_lock(proc->stdin_mu);
  proc->stdin_w.reset();  // closing twice is harmless: the reader already saw EOF
  return {};
}

Status Sandbox::do_read_output(const std::string& container_id, const std::string& exec_id,
                               const OutputSink& sink, const CancelCheck& cancelled) {
  std::shared_ptr<Process> proc;
  {
    std::lock_guard lock(mu_);
    auto p = find_process_locked(container_id, exec_id);
    if (!p) return std::unexpected(p.error());
    if ((*p)->reader_attached)
      return fail(ErrorCode::invalid_argument, (*p)->name + ": output is already being read");
    (*p)->reader_attached = true;
    proc = *p;
  }
  struct Detach {  // a later ReadOutput may resume where a cancelled one stopped
    Sandbox* s;
    Process* p;
    const std::string& cid;
    const std::string& eid;
    bool drained = false;
    ~Detach() {
      std::lock_guard lock(s->mu_);
      p->reader_attached = false;
      if (drained && !eid.empty()) {
        p->drained = true;
        s->forget_exec_if_done_locked(cid, eid, *p);
      }
    }
  } detach{this, proc.get(), container_id, exec_id};

  pollfd fds[2] = {{proc->stdout_r.get(), POLLIN, 0}, {proc->stderr_r.get(), POLLIN, 0}};
  const OutputStream which[2] = {OutputStream::out, OutputStream::err};
  std::vector<char> buf(kChunkBytes);
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (cancelled()) return fail(ErrorCode::unavailable, proc->name + ": output stream cancelled");
    int n = ::poll(fds, 2, kPollMs);
    if (n < 0 && errno != EINTR) return fail_errno(proc->name + ": poll output");
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf.data(), buf.size());
      if (got > 0) {
        if (!sink(which[i], std::string_view(buf.data(), size_t(got))))
          return fail(ErrorCode::unavailable, proc->name + ": output reader went away");
      } else if (got == 0) {
        fds[i].fd = -1;  // EOF: every writer (the process and its children) has closed it
      } else if (errno != EINTR && errno != EAGAIN) {
        return fail_errno(proc->name + ": read output");
      }
    }
  }
  detach.drained = true;
  return {};
}

void Sandbox::forget_exec_if_done_locked(const std::string& container_id,
                                         const std::string& exec_id, const Process& proc) {
  if (!proc.collected || !proc.drained) return;
  ContainerRecord* r = find_container_locked(container_id);
  if (!r) return;
  auto it = r->execs.find(exec_id);
  if (it != r->execs.end() && it->second.get() == &proc) r->execs.erase(it);
}

size_t Sandbox::evict_collected_locked() {
  size_t evicted = 0;
  for (auto& [id, r] : containers_) {
    for (auto it = r->execs.begin(); it != r->execs.end();) {
      if (it->second->collected && !it->second->reader_attached) {
        it = r->execs.erase(it);
        ++evicted;
      } else {
        ++it;
      }
    }
  }
  if (evicted) logger("agent")->debug("forgot {} exited processes whose output was never read", evicted);
  return evicted;
}

void Sandbox::wake_reaper() {
  uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof one);
}

void Sandbox::reap_locked() {
  bool any = false;
  for (auto& [id, r] : containers_) {
    if (r->container && !r->init->status) {
      if (auto st = r->container->try_wait()) {
        r->init->status = *st;
        any = true;
      }
    }
    for (auto& [eid, p] : r->execs) {
      if (p->exec && !p->status) {
        if (auto st = p->exec->try_wait()) {
          p->status = *st;
          any = true;
        }
      }
    }
  }
  // As PID 1 of the guest the agent also inherits orphans; the container library reaps them
  // while parking the statuses of the processes it owns for their try_wait().
  if (::getpid() == 1) reap_children();
  if (any) exited_.notify_all();
}

void Sandbox::reaper_loop() {
  std::vector<std::shared_ptr<Process>> watched;  // keeps each polled pidfd open
  std::vector<pollfd> fds;
  while (true) {
    watched.clear();
    fds.assign(1, pollfd{wake_fd_.get(), POLLIN, 0});
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      reap_locked();
      for (auto& [id, r] : containers_) {
        if (r->container && !r->init->status && r->init->pidfd.valid()) watched.push_back(r->init);
        for (auto& [eid, p] : r->execs)
          if (p->exec && !p->status && p->pidfd.valid()) watched.push_back(p);
      }
    }
    for (auto& p : watched) fds.push_back(pollfd{p->pidfd.get(), POLLIN, 0});
    // The timeout is a backstop for orphans (no pidfd) and for a missed wake-up.
    ::poll(fds.data(), fds.size(), 500);
    uint64_t drain;
    (void)!::read(wake_fd_.get(), &drain, sizeof drain);
  }
}

}  // namespace kata_sentry::agent
