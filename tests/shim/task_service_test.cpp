// The Task service over real ttrpc with a scripted backend: state machine, exit status,
// waits that do not block other calls, event order, and error codes containerd relies on.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <future>

#include <google/protobuf/empty.pb.h>

#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/api/types/task/task.pb.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"
#include "runtime/shim/task_service.h"
#include "runtime/shim/ttrpc/client.h"
#include "runtime/shim/unavailable_backend.h"

namespace kata_sentry::shim {
namespace {

namespace v2 = ::containerd::task::v2;
using namespace std::chrono_literals;
using ttrpc::Code;

// Runs nothing; the test decides when processes exit.
class FakeBackend : public TaskBackend {
 public:
  void set_observer(BackendObserver o) override {
    std::lock_guard l(mu);
    observer = std::move(o);
  }
  Result<uint32_t> create(const ContainerSpec& spec) override {
    std::lock_guard l(mu);
    created.push_back(spec);
    return 100 + uint32_t(created.size());
  }
  Result<uint32_t> start(const std::string& id, const std::string& exec_id) override {
    if (exit_during_start) exit(id, exec_id, 7);  // the process is gone before start returns
    return exec_id.empty() ? 4242 : 4343;
  }
  Status exec(const ExecSpec& spec) override {
    std::lock_guard l(mu);
    execs.push_back(spec);
    return {};
  }
  Status remove(const std::string& id, const std::string& exec_id) override {
    std::lock_guard l(mu);
    removed.push_back(id + "/" + exec_id);
    return {};
  }
  Status kill(const std::string& id, const std::string& exec_id, uint32_t signal, bool) override {
    exit(id, exec_id, 128 + signal);
    return {};
  }
  Result<std::vector<ProcessInfo>> pids(const std::string&) override { return std::vector<ProcessInfo>{{1}, {7}}; }
  Status resize_pty(const std::string&, const std::string&, uint32_t, uint32_t) override { return {}; }
  Status close_stdin(const std::string&, const std::string&) override { return {}; }
  Status pause(const std::string&) override { return {}; }
  Status resume(const std::string&) override { return {}; }
  Status update(const std::string&, const std::string& json) override {
    std::lock_guard l(mu);
    last_update = json;
    return {};
  }
  Result<TaskStats> stats(const std::string&) override { return TaskStats{1500, 4096, 3}; }
  void shutdown() override {}

  void exit(const std::string& id, const std::string& exec_id, uint32_t status) {
    BackendObserver o;
    {
      std::lock_guard l(mu);
      o = observer;
    }
    o.on_exit(id, exec_id, ExitInfo{0, status, Clock::now()});
  }

  std::mutex mu;
  BackendObserver observer;
  std::vector<ContainerSpec> created;
  std::vector<ExecSpec> execs;
  std::vector<std::string> removed;
  std::string last_update;
  std::atomic<bool> exit_during_start{false};
};

std::string unique_address() {
  static std::atomic<int> n{0};
  return "ks-task-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

class TaskServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { init(backend_); }
  void init(TaskBackend& backend) {
    service_ = std::make_unique<TaskService>(backend, events_, [this] { exit_requested_++; });
    service_->register_methods(server_);
    auto l = ttrpc::listen_unix(address_);
    ASSERT_TRUE(l);
    ASSERT_TRUE(server_.serve(std::move(*l)));
    auto c = ttrpc::Client::connect(address_);
    ASSERT_TRUE(c);
    client_ = std::move(*c);
  }
  void TearDown() override {
    client_.reset();
    service_->fail_all(137);  // release any Wait a failed test left behind
    server_.shutdown();
  }

  template <typename Resp = google::protobuf::Empty>
  std::expected<Resp, ttrpc::RpcStatus> call(const std::string& method, const google::protobuf::Message& req) {
    auto r = client_->call(kTaskService, method, req.SerializeAsString());
    if (!r) return std::unexpected(r.error());
    Resp resp;
    EXPECT_TRUE(resp.ParseFromString(*r));
    return resp;
  }
  void create(const std::string& id) {
    v2::CreateTaskRequest req;
    req.set_id(id);
    req.set_bundle("/run/bundle/" + id);
    req.set_stdout("/run/fifo/" + id + "-stdout");
    auto* m = req.add_rootfs();
    m->set_type("overlay");
    m->set_source("overlay");
    m->add_options("lowerdir=/a");
    auto r = call<v2::CreateTaskResponse>("Create", req);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_GT(r->pid(), 100u);
  }
  std::expected<v2::StateResponse, ttrpc::RpcStatus> state(const std::string& id, const std::string& exec = "") {
    v2::StateRequest req;
    req.set_id(id);
    req.set_exec_id(exec);
    return call<v2::StateResponse>("State", req);
  }
  std::expected<v2::StartResponse, ttrpc::RpcStatus> start(const std::string& id, const std::string& exec = "") {
    v2::StartRequest req;
    req.set_id(id);
    req.set_exec_id(exec);
    return call<v2::StartResponse>("Start", req);
  }
  std::expected<v2::DeleteResponse, ttrpc::RpcStatus> remove(const std::string& id, const std::string& exec = "") {
    v2::DeleteRequest req;
    req.set_id(id);
    req.set_exec_id(exec);
    return call<v2::DeleteResponse>("Delete", req);
  }
  std::future<std::expected<v2::WaitResponse, ttrpc::RpcStatus>> wait_async(const std::string& id, const std::string& exec = "") {
    return std::async(std::launch::async, [this, id, exec] {
      v2::WaitRequest req;
      req.set_id(id);
      req.set_exec_id(exec);
      return call<v2::WaitResponse>("Wait", req);
    });
  }

  std::string address_ = unique_address();
  FakeBackend backend_;
  RecordingPublisher events_;
  ttrpc::Server server_;
  std::unique_ptr<TaskService> service_;
  std::unique_ptr<ttrpc::Client> client_;
  std::atomic<int> exit_requested_{0};
};

TEST_F(TaskServiceTest, LifecycleWithExactExitStatusAndEvents) {
  create("t1");
  ASSERT_EQ(backend_.created.size(), 1u);
  EXPECT_EQ(backend_.created[0].bundle, "/run/bundle/t1");
  EXPECT_EQ(backend_.created[0].stdio.stdout_path, "/run/fifo/t1-stdout");
  ASSERT_EQ(backend_.created[0].rootfs.size(), 1u);
  EXPECT_EQ(backend_.created[0].rootfs[0].options, std::vector<std::string>{"lowerdir=/a"});

  auto s = state("t1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status(), ::containerd::v1::types::CREATED);
  EXPECT_EQ(s->bundle(), "/run/bundle/t1");
  EXPECT_EQ(s->stdout(), "/run/fifo/t1-stdout");

  auto st = start("t1");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->pid(), 4242u);
  EXPECT_EQ(state("t1")->status(), ::containerd::v1::types::RUNNING);

  auto waiter = wait_async("t1");
  // A blocked Wait leaves State, Pids and Connect answering.
  for (int i = 0; i < 5; i++) ASSERT_TRUE(state("t1"));
  v2::PidsRequest preq;
  preq.set_id("t1");
  auto pids = call<v2::PidsResponse>("Pids", preq);
  ASSERT_TRUE(pids);
  EXPECT_EQ(pids->processes_size(), 2);
  EXPECT_EQ(waiter.wait_for(50ms), std::future_status::timeout);

  backend_.exit("t1", "", 3);
  auto w = waiter.get();
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(w->exit_status(), 3u);
  EXPECT_GT(w->exited_at().seconds(), 0);

  s = state("t1");
  EXPECT_EQ(s->status(), ::containerd::v1::types::STOPPED);
  EXPECT_EQ(s->exit_status(), 3u);

  auto d = remove("t1");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->exit_status(), 3u);
  EXPECT_EQ(d->pid(), 4242u);
  EXPECT_EQ(state("t1").error().code, Code::not_found);

  EXPECT_EQ(events_.topics(), (std::vector<std::string>{"/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"}));
  auto evs = events_.events();
  EXPECT_EQ(evs[2].type_url, "containerd.events.TaskExit");
  ::containerd::events::TaskExit exit;
  ASSERT_TRUE(exit.ParseFromString(evs[2].value));
  EXPECT_EQ(exit.container_id(), "t1");
  EXPECT_EQ(exit.id(), "t1");
  EXPECT_EQ(exit.exit_status(), 3u);
  EXPECT_EQ(exit.pid(), 4242u);
}

TEST_F(TaskServiceTest, StateErrorsUseContainerdCodes) {
  EXPECT_EQ(state("nope").error().code, Code::not_found);
  EXPECT_EQ(start("nope").error().code, Code::not_found);
  create("t1");
  v2::CreateTaskRequest dup;
  dup.set_id("t1");
  EXPECT_EQ(call<v2::CreateTaskResponse>("Create", dup).error().code, Code::already_exists);
  ASSERT_TRUE(start("t1"));
  EXPECT_EQ(start("t1").error().code, Code::failed_precondition);
  EXPECT_EQ(remove("t1").error().code, Code::failed_precondition);
  EXPECT_EQ(state("t1", "e1").error().code, Code::not_found);
  v2::CheckpointTaskRequest cp;
  cp.set_id("t1");
  EXPECT_EQ(call("Checkpoint", cp).error().code, Code::unimplemented);
  auto bad = client_->call(kTaskService, "State", "\xff\xff");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::invalid_argument);
}

TEST_F(TaskServiceTest, KillReportsSignalExitAndKillingAFinishedProcessIsNotFound) {
  create("t1");
  ASSERT_TRUE(start("t1"));
  auto waiter = wait_async("t1");
  v2::KillRequest k;
  k.set_id("t1");
  k.set_signal(SIGKILL);
  ASSERT_TRUE(call("Kill", k));
  auto w = waiter.get();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->exit_status(), 137u);
  EXPECT_EQ(call("Kill", k).error().code, Code::not_found);
}

TEST_F(TaskServiceTest, ExecLifecycle) {
  create("t1");
  v2::ExecProcessRequest ex;
  ex.set_id("t1");
  ex.set_exec_id("e1");
  ex.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
  ex.mutable_spec()->set_value(R"({"args":["ps"],"cwd":"/"})");
  EXPECT_EQ(call("Exec", ex).error().code, Code::failed_precondition);  // task not running yet
  ASSERT_TRUE(start("t1"));
  ASSERT_TRUE(call("Exec", ex));
  EXPECT_EQ(call("Exec", ex).error().code, Code::already_exists);
  ASSERT_EQ(backend_.execs.size(), 1u);
  EXPECT_EQ(backend_.execs[0].process_json, R"({"args":["ps"],"cwd":"/"})");
  EXPECT_EQ(state("t1", "e1")->status(), ::containerd::v1::types::CREATED);
  auto st = start("t1", "e1");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->pid(), 4343u);
  auto waiter = wait_async("t1", "e1");
  backend_.exit("t1", "e1", 0);
  ASSERT_EQ(waiter.get()->exit_status(), 0u);
  EXPECT_EQ(remove("t1").error().code, Code::failed_precondition);  // still running, exec left
  ASSERT_TRUE(remove("t1", "e1"));
  EXPECT_EQ(state("t1", "e1").error().code, Code::not_found);
  EXPECT_EQ(events_.topics(), (std::vector<std::string>{"/tasks/create", "/tasks/start", "/tasks/exec-added",
                                                        "/tasks/exec-started", "/tasks/exit"}));
  ::containerd::events::TaskExit exit;
  ASSERT_TRUE(exit.ParseFromString(events_.events().back().value));
  EXPECT_EQ(exit.id(), "e1");
}

TEST_F(TaskServiceTest, ExitDuringStartIsPublishedAfterStart) {
  create("t1");
  backend_.exit_during_start = true;
  ASSERT_TRUE(start("t1"));
  auto w = wait_async("t1").get();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->exit_status(), 7u);
  EXPECT_EQ(events_.topics(), (std::vector<std::string>{"/tasks/create", "/tasks/start", "/tasks/exit"}));
}

TEST_F(TaskServiceTest, ShutdownExitsOnlyWhenNoTaskIsLeft) {
  create("t1");
  v2::ShutdownRequest sd;
  sd.set_id("t1");
  ASSERT_TRUE(call("Shutdown", sd));
  EXPECT_EQ(exit_requested_.load(), 0);
  ASSERT_TRUE(remove("t1"));  // created, never started: deletable
  ASSERT_TRUE(call("Shutdown", sd));
  EXPECT_EQ(exit_requested_.load(), 1);
}

TEST_F(TaskServiceTest, PauseResumeUpdateConnect) {
  create("t1");
  v2::PauseRequest p;
  p.set_id("t1");
  EXPECT_EQ(call("Pause", p).error().code, Code::failed_precondition);
  ASSERT_TRUE(start("t1"));
  ASSERT_TRUE(call("Pause", p));
  EXPECT_EQ(state("t1")->status(), ::containerd::v1::types::PAUSED);
  v2::ResumeRequest r;
  r.set_id("t1");
  ASSERT_TRUE(call("Resume", r));
  EXPECT_EQ(state("t1")->status(), ::containerd::v1::types::RUNNING);
  v2::UpdateTaskRequest u;
  u.set_id("t1");
  u.mutable_resources()->set_value(R"({"memory":{"limit":1048576}})");
  ASSERT_TRUE(call("Update", u));
  EXPECT_EQ(backend_.last_update, R"({"memory":{"limit":1048576}})");
  v2::ConnectRequest c;
  c.set_id("t1");
  auto cr = call<v2::ConnectResponse>("Connect", c);
  ASSERT_TRUE(cr);
  EXPECT_EQ(cr->shim_pid(), uint32_t(::getpid()));
  EXPECT_EQ(cr->task_pid(), 4242u);
}

TEST_F(TaskServiceTest, StatsAreCgroupV1MetricsAsCtrDecodesThem) {
  create("t1");
  v2::StatsRequest req;
  req.set_id("t1");
  auto r = call<v2::StatsResponse>("Stats", req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->stats().type_url(), "io.containerd.cgroups.v1.Metrics");
  ::io::containerd::cgroups::v1::Metrics m;
  ASSERT_TRUE(m.ParseFromString(r->stats().value()));
  EXPECT_EQ(m.cpu().usage().total(), 1500u);
  EXPECT_EQ(m.memory().usage().usage(), 4096u);
  EXPECT_EQ(m.pids().current(), 3u);
  req.set_id("nope");
  EXPECT_EQ(call<v2::StatsResponse>("Stats", req).error().code, Code::not_found);
}

TEST_F(TaskServiceTest, FailAllReleasesWaiters) {
  create("t1");
  ASSERT_TRUE(start("t1"));
  auto waiter = wait_async("t1");
  EXPECT_EQ(waiter.wait_for(50ms), std::future_status::timeout);
  service_->fail_all(137);
  auto w = waiter.get();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->exit_status(), 137u);
}

TEST(TaskServiceUnavailable, CreateSaysWhyThereIsNoVm) {
  UnavailableBackend backend;
  RecordingPublisher events;
  ttrpc::Server server;
  TaskService service(backend, events, {});
  service.register_methods(server);
  std::string address = unique_address();
  auto l = ttrpc::listen_unix(address);
  ASSERT_TRUE(l);
  ASSERT_TRUE(server.serve(std::move(*l)));
  auto c = ttrpc::Client::connect(address);
  ASSERT_TRUE(c);
  v2::CreateTaskRequest req;
  req.set_id("t1");
  auto r = (*c)->call(kTaskService, "Create", req.SerializeAsString());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::unavailable);
  EXPECT_NE(r.error().message.find("Sandbox runtime"), std::string::npos) << r.error().message;
  EXPECT_EQ(service.task_count(), 0u);
  EXPECT_TRUE(events.events().empty());
}

}  // namespace
}  // namespace kata_sentry::shim
