#include "runtime/shim/task_service.h"

#include <signal.h>
#include <unistd.h>

#include <google/protobuf/empty.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "core/logging.h"
#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/api/types/task/task.pb.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"

namespace kata_sentry::shim {
namespace {

namespace v2 = ::containerd::task::v2;
namespace ev = ::containerd::events;
using ttrpc::Code;
using ttrpc::Reply;
using ttrpc::rpc_error;

// Parses a request message; a malformed one is the caller's error.
template <typename Msg>
std::expected<Msg, ttrpc::RpcStatus> decode(const ttrpc::Call& c) {
  Msg m;
  if (!m.ParseFromString(c.payload))
    return std::unexpected(ttrpc::RpcStatus{Code::invalid_argument, c.method + ": malformed " + Msg::descriptor()->full_name()});
  return m;
}

Reply encode(const google::protobuf::Message& m) { return m.SerializeAsString(); }
Reply empty() { return google::protobuf::Empty().SerializeAsString(); }

void set_time(google::protobuf::Timestamp* ts, Clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  ts->set_seconds(ns / 1'000'000'000);
  ts->set_nanos(int32_t(ns % 1'000'000'000));
}

::containerd::v1::types::Status to_proto(ProcessStatus s) {
  switch (s) {
    case ProcessStatus::created: return ::containerd::v1::types::CREATED;
    case ProcessStatus::running: return ::containerd::v1::types::RUNNING;
    case ProcessStatus::stopped: return ::containerd::v1::types::STOPPED;
    case ProcessStatus::paused: return ::containerd::v1::types::PAUSED;
    case ProcessStatus::unknown: break;
  }
  return ::containerd::v1::types::UNKNOWN;
}

std::string name_of(const std::string& id, const std::string& exec_id) {
  return exec_id.empty() ? "task " + id : "exec " + exec_id + " of task " + id;
}

std::unexpected<ttrpc::RpcStatus> backend_error(const std::string& what, const Error& e) {
  auto st = ttrpc::to_rpc_status(e);
  st.message = what + ": " + st.message;
  return std::unexpected(st);
}

void send(EventPublisher& events, const std::string& topic, const google::protobuf::Message& m) {
  // containerd resolves events by their proto name, without a type.googleapis.com/ prefix.
  events.publish({topic, m.GetDescriptor()->full_name(), m.SerializeAsString()});
}

}  // namespace

TaskService::TaskService(TaskBackend& backend, EventPublisher& events, std::function<void()> request_exit)
    : backend_(backend), events_(events), request_exit_(std::move(request_exit)) {
  backend_.set_observer({
      [this](const std::string& id, const std::string& exec_id, const ExitInfo& info) { on_exit(id, exec_id, info); },
      [this](const std::string& id) { on_oom(id); },
  });
}

TaskService::~TaskService() { backend_.set_observer({}); }

void TaskService::register_methods(ttrpc::Server& server) {
  auto reg = [&](const char* method, Reply (TaskService::*fn)(const ttrpc::Call&)) {
    server.register_method(kTaskService, method, [this, fn](const ttrpc::Call& c) { return (this->*fn)(c); });
  };
  reg("Create", &TaskService::create);
  reg("Start", &TaskService::start);
  reg("Delete", &TaskService::remove);
  reg("State", &TaskService::state);
  reg("Wait", &TaskService::wait);
  reg("Kill", &TaskService::kill);
  reg("Pids", &TaskService::pids);
  reg("Exec", &TaskService::exec);
  reg("ResizePty", &TaskService::resize_pty);
  reg("CloseIO", &TaskService::close_io);
  reg("Connect", &TaskService::connect);
  reg("Shutdown", &TaskService::shutdown);
  reg("Stats", &TaskService::stats);
  reg("Pause", &TaskService::pause);
  reg("Resume", &TaskService::resume);
  reg("Update", &TaskService::update);
  server.register_method(kTaskService, "Checkpoint", [](const ttrpc::Call&) -> Reply {
    return rpc_error(Code::unimplemented, "checkpoint is not supported by kata-sentry");
  });
}

size_t TaskService::task_count() const {
  std::lock_guard lock(mu_);
  return tasks_.size();
}

std::expected<std::shared_ptr<TaskService::Process>, ttrpc::RpcStatus> TaskService::find(const std::string& id,
                                                                                         const std::string& exec_id) {
  auto t = tasks_.find(id);
  if (t == tasks_.end()) return std::unexpected(ttrpc::RpcStatus{Code::not_found, "task " + id + " not found"});
  if (exec_id.empty()) return t->second.init;
  auto e = t->second.execs.find(exec_id);
  if (e == t->second.execs.end())
    return std::unexpected(ttrpc::RpcStatus{Code::not_found, "exec " + exec_id + " of task " + id + " not found"});
  return e->second;
}

Reply TaskService::create(const ttrpc::Call& c) {
  auto req = decode<v2::CreateTaskRequest>(c);
  if (!req) return std::unexpected(req.error());
  if (req->id().empty()) return rpc_error(Code::invalid_argument, "create: task id is empty");
  if (!req->checkpoint().empty()) return rpc_error(Code::unimplemented, "create: restoring from a checkpoint is not supported");
  ContainerSpec spec{req->id(), req->bundle(), {}, {req->stdin(), req->stdout(), req->stderr(), req->terminal()}};
  for (const auto& m : req->rootfs())
    spec.rootfs.push_back({m.type(), m.source(), m.target(), {m.options().begin(), m.options().end()}});
  {
    std::lock_guard lock(mu_);
    if (tasks_.contains(spec.id)) return rpc_error(Code::already_exists, "task " + spec.id + " already exists");
    // Reserve the id so a concurrent Create of the same id fails instead of racing.
    auto p = std::make_shared<Process>();
    p->stdio = spec.stdio;
    p->starting = true;
    tasks_[spec.id] = Task{spec.id, spec.bundle, p, {}};
  }
  auto pid = backend_.create(spec);
  std::lock_guard lock(mu_);
  if (!pid) {
    tasks_.erase(spec.id);
    return backend_error("create task " + spec.id, pid.error());
  }
  auto& p = *tasks_[spec.id].init;
  p.pid = *pid;
  p.starting = false;

  ev::TaskCreate e;
  e.set_container_id(spec.id);
  e.set_bundle(spec.bundle);
  *e.mutable_rootfs() = req->rootfs();
  e.mutable_io()->set_stdin(req->stdin());
  e.mutable_io()->set_stdout(req->stdout());
  e.mutable_io()->set_stderr(req->stderr());
  e.mutable_io()->set_terminal(req->terminal());
  e.set_pid(*pid);
  send(events_, "/tasks/create", e);
  logger("shim")->info("created task {} (pid {})", spec.id, *pid);

  v2::CreateTaskResponse resp;
  resp.set_pid(*pid);
  return encode(resp);
}

Reply TaskService::start(const ttrpc::Call& c) {
  auto req = decode<v2::StartRequest>(c);
  if (!req) return std::unexpected(req.error());
  std::shared_ptr<Process> p;
  {
    std::lock_guard lock(mu_);
    auto found = find(req->id(), req->exec_id());
    if (!found) return std::unexpected(found.error());
    p = *found;
    if (p->status != ProcessStatus::created || p->starting)
      return rpc_error(Code::failed_precondition, name_of(req->id(), req->exec_id()) + " is not in the created state");
    p->starting = true;
  }
  auto pid = backend_.start(req->id(), req->exec_id());
  std::lock_guard lock(mu_);
  p->starting = false;
  if (!pid) return backend_error("start " + name_of(req->id(), req->exec_id()), pid.error());
  p->pid = *pid;
  if (p->status == ProcessStatus::created) p->status = ProcessStatus::running;
  if (req->exec_id().empty()) {
    ev::TaskStart e;
    e.set_container_id(req->id());
    e.set_pid(*pid);
    send(events_, "/tasks/start", e);
  } else {
    ev::TaskExecStarted e;
    e.set_container_id(req->id());
    e.set_exec_id(req->exec_id());
    e.set_pid(*pid);
    send(events_, "/tasks/exec-started", e);
  }
  // An exit that raced with start goes out after TaskStart, as containerd expects.
  if (p->early_exit) apply_exit(req->id(), *p, *std::exchange(p->early_exit, std::nullopt));
  v2::StartResponse resp;
  resp.set_pid(*pid);
  return encode(resp);
}

void TaskService::apply_exit(const std::string& id, Process& p, const ExitInfo& info) {
  if (p.status == ProcessStatus::stopped) return;
  p.status = ProcessStatus::stopped;
  if (info.pid) p.pid = info.pid;
  p.exit = info;
  p.exit->pid = p.pid;
  ev::TaskExit e;
  e.set_container_id(id);
  e.set_id(p.exec_id.empty() ? id : p.exec_id);
  e.set_pid(p.pid);
  e.set_exit_status(info.exit_status);
  set_time(e.mutable_exited_at(), info.exited_at);
  send(events_, "/tasks/exit", e);
  logger("shim")->info("{} exited with status {}", name_of(id, p.exec_id), info.exit_status);
  exited_.notify_all();
}

void TaskService::on_exit(const std::string& id, const std::string& exec_id, const ExitInfo& info) {
  std::lock_guard lock(mu_);
  auto p = find(id, exec_id);
  if (!p) {
    logger("shim")->warn("exit of unknown {} (status {})", name_of(id, exec_id), info.exit_status);
    return;
  }
  if ((*p)->starting) {
    (*p)->early_exit = info;
    return;
  }
  apply_exit(id, **p, info);
}

void TaskService::on_oom(const std::string& id) {
  ev::TaskOOM e;
  e.set_container_id(id);
  send(events_, "/tasks/oom", e);
}

void TaskService::fail_all(uint32_t status) {
  std::lock_guard lock(mu_);
  ExitInfo info{0, status, Clock::now()};
  for (auto& [id, t] : tasks_) {
    for (auto& [eid, p] : t.execs) apply_exit(id, *p, info);
    apply_exit(id, *t.init, info);
  }
}

Reply TaskService::remove(const ttrpc::Call& c) {
  auto req = decode<v2::DeleteRequest>(c);
  if (!req) return std::unexpected(req.error());
  std::shared_ptr<Process> p;
  {
    std::lock_guard lock(mu_);
    auto found = find(req->id(), req->exec_id());
    if (!found) return std::unexpected(found.error());
    p = *found;
    if (p->status == ProcessStatus::running || p->status == ProcessStatus::paused || p->starting)
      return rpc_error(Code::failed_precondition, "cannot delete " + name_of(req->id(), req->exec_id()) + " while it runs");
    if (req->exec_id().empty() && !tasks_[req->id()].execs.empty())
      return rpc_error(Code::failed_precondition, "cannot delete task " + req->id() + " while it has exec processes");
  }
  if (auto st = backend_.remove(req->id(), req->exec_id()); !st)
    return backend_error("delete " + name_of(req->id(), req->exec_id()), st.error());
  std::lock_guard lock(mu_);
  // A process deleted before it ever ran has no exit; containerd still wants a time.
  ExitInfo info = p->exit.value_or(ExitInfo{p->pid, 0, Clock::now()});
  if (p->status != ProcessStatus::stopped) {
    p->status = ProcessStatus::stopped;
    p->exit = info;
    exited_.notify_all();
  }
  if (req->exec_id().empty()) {
    tasks_.erase(req->id());
    ev::TaskDelete e;
    e.set_container_id(req->id());
    e.set_pid(info.pid);
    e.set_exit_status(info.exit_status);
    set_time(e.mutable_exited_at(), info.exited_at);
    send(events_, "/tasks/delete", e);
  } else if (auto t = tasks_.find(req->id()); t != tasks_.end()) {
    t->second.execs.erase(req->exec_id());
  }
  v2::DeleteResponse resp;
  resp.set_pid(info.pid);
  resp.set_exit_status(info.exit_status);
  set_time(resp.mutable_exited_at(), info.exited_at);
  return encode(resp);
}

Reply TaskService::state(const ttrpc::Call& c) {
  auto req = decode<v2::StateRequest>(c);
  if (!req) return std::unexpected(req.error());
  std::lock_guard lock(mu_);
  auto found = find(req->id(), req->exec_id());
  if (!found) return std::unexpected(found.error());
  const Process& p = **found;
  v2::StateResponse resp;
  resp.set_id(req->id());
  resp.set_exec_id(req->exec_id());
  resp.set_bundle(tasks_[req->id()].bundle);
  resp.set_pid(p.pid);
  resp.set_status(to_proto(p.status));
  resp.set_stdin(p.stdio.stdin_path);
  resp.set_stdout(p.stdio.stdout_path);
  resp.set_stderr(p.stdio.stderr_path);
  resp.set_terminal(p.stdio.terminal);
  if (p.exit) {
    resp.set_exit_status(p.exit->exit_status);
    set_time(resp.mutable_exited_at(), p.exit->exited_at);
  }
  return encode(resp);
}

Reply TaskService::wait(const ttrpc::Call& c) {
  auto req = decode<v2::WaitRequest>(c);
  if (!req) return std::unexpected(req.error());
  std::unique_lock lock(mu_);
  auto found = find(req->id(), req->exec_id());
  if (!found) return std::unexpected(found.error());
  std::shared_ptr<Process> p = *found;  // stays valid if the task is deleted meanwhile
  exited_.wait(lock, [&] { return p->status == ProcessStatus::stopped; });
  v2::WaitResponse resp;
  resp.set_exit_status(p->exit->exit_status);
  set_time(resp.mutable_exited_at(), p->exit->exited_at);
  return encode(resp);
}

Reply TaskService::kill(const ttrpc::Call& c) {
  auto req = decode<v2::KillRequest>(c);
  if (!req) return std::unexpected(req.error());
  {
    std::lock_guard lock(mu_);
    auto found = find(req->id(), req->exec_id());
    if (!found) return std::unexpected(found.error());
    if ((*found)->status == ProcessStatus::stopped && !req->all())
      return rpc_error(Code::not_found, name_of(req->id(), req->exec_id()) + ": process already finished");
  }
  if (auto st = backend_.kill(req->id(), req->exec_id(), req->signal(), req->all()); !st)
    return backend_error("kill " + name_of(req->id(), req->exec_id()), st.error());
  return empty();
}

Reply TaskService::pids(const ttrpc::Call& c) {
  auto req = decode<v2::PidsRequest>(c);
  if (!req) return std::unexpected(req.error());
  {
    std::lock_guard lock(mu_);
    if (auto found = find(req->id(), ""); !found) return std::unexpected(found.error());
  }
  auto list = backend_.pids(req->id());
  if (!list) return backend_error("pids of task " + req->id(), list.error());
  v2::PidsResponse resp;
  for (const auto& pi : *list) resp.add_processes()->set_pid(pi.pid);
  return encode(resp);
}

Reply TaskService::exec(const ttrpc::Call& c) {
  auto req = decode<v2::ExecProcessRequest>(c);
  if (!req) return std::unexpected(req.error());
  if (req->exec_id().empty()) return rpc_error(Code::invalid_argument, "exec: exec id is empty");
  std::shared_ptr<Process> p = std::make_shared<Process>();
  p->exec_id = req->exec_id();
  p->stdio = {req->stdin(), req->stdout(), req->stderr(), req->terminal()};
  {
    std::lock_guard lock(mu_);
    auto init = find(req->id(), "");
    if (!init) return std::unexpected(init.error());
    if ((*init)->status != ProcessStatus::running)
      return rpc_error(Code::failed_precondition, "exec: task " + req->id() + " is not running");
    auto& execs = tasks_[req->id()].execs;
    if (execs.contains(req->exec_id()))
      return rpc_error(Code::already_exists, "exec " + req->exec_id() + " of task " + req->id() + " already exists");
    p->starting = true;  // reserved while the backend works
    execs[req->exec_id()] = p;
  }
  ExecSpec spec{req->id(), req->exec_id(), p->stdio, req->spec().value()};
  auto st = backend_.exec(spec);
  std::lock_guard lock(mu_);
  p->starting = false;
  if (!st) {
    if (auto t = tasks_.find(req->id()); t != tasks_.end()) t->second.execs.erase(req->exec_id());
    return backend_error("exec " + req->exec_id() + " in task " + req->id(), st.error());
  }
  ev::TaskExecAdded e;
  e.set_container_id(req->id());
  e.set_exec_id(req->exec_id());
  send(events_, "/tasks/exec-added", e);
  return empty();
}

Reply TaskService::resize_pty(const ttrpc::Call& c) {
  auto req = decode<v2::ResizePtyRequest>(c);
  if (!req) return std::unexpected(req.error());
  {
    std::lock_guard lock(mu_);
    if (auto found = find(req->id(), req->exec_id()); !found) return std::unexpected(found.error());
  }
  if (auto st = backend_.resize_pty(req->id(), req->exec_id(), req->width(), req->height()); !st)
    return backend_error("resize pty of " + name_of(req->id(), req->exec_id()), st.error());
  return empty();
}

Reply TaskService::close_io(const ttrpc::Call& c) {
  auto req = decode<v2::CloseIORequest>(c);
  if (!req) return std::unexpected(req.error());
  {
    std::lock_guard lock(mu_);
    if (auto found = find(req->id(), req->exec_id()); !found) return std::unexpected(found.error());
  }
  if (req->stdin()) {
    if (auto st = backend_.close_stdin(req->id(), req->exec_id()); !st)
      return backend_error("close stdin of " + name_of(req->id(), req->exec_id()), st.error());
  }
  return empty();
}

Reply TaskService::connect(const ttrpc::Call& c) {
  auto req = decode<v2::ConnectRequest>(c);
  if (!req) return std::unexpected(req.error());
  v2::ConnectResponse resp;
  resp.set_shim_pid(uint32_t(::getpid()));
  std::lock_guard lock(mu_);
  if (auto t = tasks_.find(req->id()); t != tasks_.end()) resp.set_task_pid(t->second.init->pid);
  resp.set_version("kata-sentry");
  return encode(resp);
}

Reply TaskService::shutdown(const ttrpc::Call& c) {
  auto req = decode<v2::ShutdownRequest>(c);
  if (!req) return std::unexpected(req.error());
  {
    std::lock_guard lock(mu_);
    // One shim serves the whole pod: containerd sends Shutdown after each task's delete, and
    // the shim may only go once the last one is gone.
    if (!tasks_.empty()) return empty();
  }
  logger("shim")->info("shutdown requested and no task left; exiting");
  if (request_exit_) request_exit_();
  return empty();
}

Reply TaskService::stats(const ttrpc::Call& c) {
  auto req = decode<v2::StatsRequest>(c);
  if (!req) return std::unexpected(req.error());
  {
    std::lock_guard lock(mu_);
    if (auto found = find(req->id(), ""); !found) return std::unexpected(found.error());
  }
  auto s = backend_.stats(req->id());
  if (!s) return backend_error("stats of task " + req->id(), s.error());
  // containerd and ctr decode cgroup v1 metrics from a Linux shim, whatever the guest uses.
  ::io::containerd::cgroups::v1::Metrics m;
  m.mutable_cpu()->mutable_usage()->set_total(s->cpu_usage_ns);
  m.mutable_memory()->mutable_usage()->set_usage(s->memory_usage_bytes);
  m.mutable_pids()->set_current(s->pids_current);
  v2::StatsResponse resp;
  resp.mutable_stats()->set_type_url(m.GetDescriptor()->full_name());
  resp.mutable_stats()->set_value(m.SerializeAsString());
  return encode(resp);
}

Reply TaskService::pause(const ttrpc::Call& c) {
  auto req = decode<v2::PauseRequest>(c);
  if (!req) return std::unexpected(req.error());
  {
    std::lock_guard lock(mu_);
    auto found = find(req->id(), "");
    if (!found) return std::unexpected(found.error());
    if ((*found)->status != ProcessStatus::running)
      return rpc_error(Code::failed_precondition, "pause: task " + req->id() + " is not running");
  }
  if (auto st = backend_.pause(req->id()); !st) return backend_error("pause task " + req->id(), st.error());
  std::lock_guard lock(mu_);
  if (auto found = find(req->id(), ""); found && (*found)->status == ProcessStatus::running) {
    (*found)->status = ProcessStatus::paused;
    ev::TaskPaused e;
    e.set_container_id(req->id());
    send(events_, "/tasks/paused", e);
  }
  return empty();
}

Reply TaskService::resume(const ttrpc::Call& c) {
  auto req = decode<v2::ResumeRequest>(c);
  if (!req) return std::unexpected(req.error());
  {
    std::lock_guard lock(mu_);
    auto found = find(req->id(), "");
    if (!found) return std::unexpected(found.error());
    if ((*found)->status != ProcessStatus::paused)
      return rpc_error(Code::failed_precondition, "resume: task " + req->id() + " is not paused");
  }
  if (auto st = backend_.resume(req->id()); !st) return backend_error("resume task " + req->id(), st.error());
  std::lock_guard lock(mu_);
  if (auto found = find(req->id(), ""); found && (*found)->status == ProcessStatus::paused) {
    (*found)->status = ProcessStatus::running;
    ev::TaskResumed e;
    e.set_container_id(req->id());
    send(events_, "/tasks/resumed", e);
  }
  return empty();
}

Reply TaskService::update(const ttrpc::Call& c) {
  auto req = decode<v2::UpdateTaskRequest>(c);
  if (!req) return std::unexpected(req.error());
  {
    std::lock_guard lock(mu_);
    if (auto found = find(req->id(), ""); !found) return std::unexpected(found.error());
  }
  if (auto st = backend_.update(req->id(), req->resources().value()); !st)
    return backend_error("update task " + req->id(), st.error());
  return empty();
}

}  // namespace kata_sentry::shim
