// kata-sentryd as a process, driven through its API the way a shim drives it: the real
// binary, the real host probes (root), a child process standing in for the sandbox's VMM, and
// guest batches sent over the relay. Checks what a platform engineer relies on: root-only
// socket, host-side sandbox tagging, alerts in the file and on the stream, the deny set pushed
// through the relay in enforce mode, host-view detection of the VMM's scope, and clear errors.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "event_convert.h"
#include "sentryd.grpc.pb.h"
#include "tests/support/event_builder.h"

namespace kata_sentry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::EventBuilder;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// JSON lines of the alerts file that satisfy `pred`, waiting up to `timeout` for one.
std::vector<nlohmann::json> wait_lines(const fs::path& file, const std::function<bool(const nlohmann::json&)>& pred,
                                       std::chrono::milliseconds timeout = 15s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<nlohmann::json> out;
    std::istringstream lines(read_text(file));
    for (std::string l; std::getline(lines, l);) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (!j.is_discarded() && pred(j)) out.push_back(j);
    }
    if (!out.empty() || std::chrono::steady_clock::now() > end) return out;
    std::this_thread::sleep_for(100ms);
  }
}

// A child that stands in for a sandbox's VMM: it waits on a pipe, then runs what it is told.
class FakeVmm {
 public:
  FakeVmm() {
    if (::pipe2(go_, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      char c = 0;
      if (::read(go_[0], &c, 1) == 1 && c == 's') ::execl("/bin/sh", "sh", "-c", "true", nullptr);
      _exit(0);
    }
    ::close(go_[0]);
  }
  ~FakeVmm() {
    ::close(go_[1]);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  void run_shell() { (void)!::write(go_[1], "s", 1); }

 private:
  int go_[2] = {-1, -1};
  pid_t pid_ = -1;
};

class Sentryd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (host BPF probes, root-only socket)";
    char tmpl[] = "/tmp/ks-sentryd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    stop();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  fs::path socket() const { return dir_ / "run" / "sentryd.sock"; }
  fs::path alerts() const { return dir_ / "alerts.jsonl"; }
  fs::path log() const { return dir_ / "sentryd.log"; }

  void write_config(const std::string& mode, const std::string& extra = "") {
    std::ofstream(dir_ / "sentryd.yaml") << "socket: " << socket().string() << "\nalerts_file: " << alerts().string()
                                         << "\nmode: " << mode << "\n"
                                         << extra;
  }

  // Runs kata-sentryd with `args`; returns its exit status (for runs that end by themselves).
  int run_to_end(const std::vector<std::string>& args) {
    pid_t pid = spawn(args);
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

  void start(const std::string& mode) {
    write_config(mode);
    pid_ = spawn({"--config", (dir_ / "sentryd.yaml").string()});
    for (int i = 0; i < 300; i++) {
      if (read_text(log()).find("serving on") != std::string::npos) break;
      ASSERT_EQ(::waitpid(pid_, nullptr, WNOHANG), 0) << "kata-sentryd exited: " << read_text(log());
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_NE(read_text(log()).find("serving on " + socket().string()), std::string::npos) << read_text(log());
    stub_ = v1::Sentryd::NewStub(grpc::CreateChannel("unix:" + socket().string(), grpc::InsecureChannelCredentials()));
  }

  // SIGTERM; the daemon must exit 0 and remove its socket.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 200 && ::waitpid(pid_, &st, WNOHANG) == 0; i++) std::this_thread::sleep_for(50ms);
    if (::kill(pid_, 0) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      ADD_FAILURE() << "kata-sentryd did not stop on SIGTERM within 10 s";
    } else {
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << read_text(log());
      EXPECT_FALSE(fs::exists(socket()));
    }
    pid_ = -1;
  }

  pid_t spawn(const std::vector<std::string>& args) {
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(log().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv{const_cast<char*>(KS_SENTRYD_BINARY)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(KS_SENTRYD_BINARY, argv.data());
      _exit(127);
    }
    return pid;
  }

  grpc::Status register_sandbox(const std::string& id, uint32_t vmm_pid) {
    v1::RegisterSandboxRequest req;
    auto* s = req.mutable_sandbox();
    s->set_sandbox_id(id);
    s->set_pod_name("web");
    s->set_pod_namespace("shop");
    s->set_vmm_pid(vmm_pid);
    s->add_container_ids("c1");
    v1::RegisterSandboxResponse resp;
    grpc::ClientContext ctx;
    return stub_->RegisterSandbox(&ctx, req, &resp);
  }

  // A shim's relay: attaches, answers commands (recording them) and sends batches; a thread
  // sends a heartbeat every 500 ms as the guest agent does.
  struct Relay {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<v1::RelayMessage, v1::RelayCommand>> stream;
    std::mutex mu;
    uint64_t next_seq = 0;
    std::vector<v1::RelayCommand> commands;
    std::optional<std::string> monitor_error;
    std::atomic<bool> done{false};
    std::thread reader, heartbeats;
    bool send(std::vector<Event> events, bool heartbeat) {
      v1::RelayMessage m;
      std::lock_guard lock(mu);
      auto* b = m.mutable_batch();
      b->set_first_seq(next_seq);
      b->set_heartbeat(heartbeat);
      for (const auto& e : events) event_to_proto(e, *b->add_events());
      next_seq += events.size();
      return stream->Write(m);
    }
    ~Relay() {
      done = true;
      ctx.TryCancel();
      if (reader.joinable()) reader.join();
      if (heartbeats.joinable()) heartbeats.join();
    }
  };

  std::unique_ptr<Relay> attach(const std::string& id) {
    auto r = std::make_unique<Relay>();
    r->stream = stub_->RelayGuest(&r->ctx);
    v1::RelayMessage hello;
    hello.set_attach_sandbox_id(id);
    r->stream->Write(hello);
    Relay* p = r.get();
    r->reader = std::thread([p] {
      v1::RelayCommand c;
      while (p->stream->Read(&c)) {
        std::lock_guard lock(p->mu);
        p->commands.push_back(c);
        if (c.has_monitor_started()) {
          p->monitor_error = c.monitor_started().error();
          continue;
        }
        v1::RelayMessage m;
        m.mutable_result()->set_id(c.id());
        p->stream->Write(m);
      }
    });
    for (int i = 0; i < 300; i++) {
      {
        std::lock_guard lock(r->mu);
        if (r->monitor_error) break;
      }
      std::this_thread::sleep_for(100ms);
    }
    r->heartbeats = std::thread([p] {
      while (!p->done.load()) {
        p->send({}, true);
        std::this_thread::sleep_for(500ms);
      }
    });
    return r;
  }

  v1::ListSandboxesResponse list() {
    grpc::ClientContext ctx;
    v1::Empty req;
    v1::ListSandboxesResponse resp;
    EXPECT_TRUE(stub_->ListSandboxes(&ctx, req, &resp).ok());
    return resp;
  }

  grpc::Status unregister(const std::string& id) {
    grpc::ClientContext ctx;
    v1::UnregisterSandboxRequest req;
    req.set_sandbox_id(id);
    v1::Empty resp;
    return stub_->UnregisterSandbox(&ctx, req, &resp);
  }

  fs::path dir_;
  pid_t pid_ = -1;
  std::unique_ptr<v1::Sentryd::Stub> stub_;
};

TEST_F(Sentryd, SocketIsRootOnlyEvenWhenItsModeIsLoosened) {
  start("monitor");
  struct stat st {};
  ASSERT_EQ(::stat(socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(socket().parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // Loosen the modes as a careless operator might: the peer-credential check still refuses.
  ::chmod(dir_.c_str(), 0755);
  ::chmod(socket().parent_path().c_str(), 0755);
  ::chmod(socket().c_str(), 0666);
  pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(10);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, socket().c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) _exit(11);
    // The HTTP/2 preface; a served connection would answer with a SETTINGS frame.
    const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    (void)!::write(fd, preface, sizeof preface - 1);
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof buf);
    // Closed without a word: EOF, or a reset because our preface was left unread.
    _exit(n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : 12);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10/11: setup, 12: the daemon answered a non-root peer";
  EXPECT_NE(read_text(log()).find("uid 65534: only root may use kata-sentryd"), std::string::npos) << read_text(log());
  // Root still gets through.
  EXPECT_EQ(list().sandboxes_size(), 0);
}

TEST_F(Sentryd, GuestEventsAreTaggedWithTheRegisteredSandboxAndRaiseAlerts) {
  start("monitor");
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-api", uint32_t(vmm.pid())).ok());
  grpc::ClientContext alerts_ctx;
  v1::StreamFilter filter;
  filter.set_sandbox_id("sb-api");
  filter.set_any_view(true);
  auto alerts_stream = stub_->StreamAlerts(&alerts_ctx, filter);
  grpc::ClientContext events_ctx;
  v1::StreamFilter event_filter;
  event_filter.set_view(v1::VIEW_GUEST);
  event_filter.add_event_types("finit_module");
  auto events_stream = stub_->StreamEvents(&events_ctx, event_filter);
  auto relay = attach("sb-api");
  ASSERT_EQ(relay->monitor_error.value_or("<none>"), "");

  // The guest claims to be another sandbox; the host's name for it wins.
  Event ev = EventBuilder().type(EventType::finit_module).name("insmod").guest().container("c1").sandbox("forged").res(0).build();
  ASSERT_TRUE(relay->send({ev}, false));
  auto lines = wait_lines(alerts(), [](const nlohmann::json& j) { return j.value("rule", "") == "Guest kernel module load"; });
  ASSERT_EQ(lines.size(), 1u) << read_text(alerts());
  EXPECT_EQ(lines[0]["sandbox"], "sb-api");
  EXPECT_EQ(lines[0]["view"], "guest");
  EXPECT_EQ(lines[0]["output_fields"]["container.id"], "c1");
  EXPECT_EQ(lines[0]["output_fields"]["sandbox.id"], "sb-api");

  v1::AlertRecord rec;
  ASSERT_TRUE(alerts_stream->Read(&rec));
  EXPECT_EQ(rec.rule(), "Guest kernel module load");
  EXPECT_EQ(rec.sandbox_id(), "sb-api");
  EXPECT_EQ(rec.container_id(), "c1");
  EXPECT_EQ(rec.priority(), "Critical");
  alerts_ctx.TryCancel();

  v1::Event streamed;
  ASSERT_TRUE(events_stream->Read(&streamed));
  EXPECT_EQ(streamed.sandbox_id(), "sb-api") << "tagged by the host, not the guest";
  EXPECT_EQ(streamed.view(), v1::VIEW_GUEST);
  EXPECT_EQ(streamed.type(), uint32_t(EventType::finit_module));
  events_ctx.TryCancel();

  auto l = list();
  ASSERT_EQ(l.sandboxes_size(), 1);
  EXPECT_EQ(l.sandboxes(0).info().pod_name(), "web");
  EXPECT_TRUE(l.sandboxes(0).guest_attached());
  EXPECT_EQ(l.sandboxes(0).guest_events(), 1u);

  ASSERT_TRUE(unregister("sb-api").ok());
  EXPECT_EQ(list().sandboxes_size(), 0);
}

TEST_F(Sentryd, HostProbesWatchTheRegisteredVmmScope) {
  start("monitor");
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-host", uint32_t(vmm.pid())).ok());
  auto relay = attach("sb-host");
  ASSERT_EQ(relay->monitor_error.value_or("<none>"), "");
  vmm.run_shell();  // the "VMM" execs /bin/sh: stage 2 of an escape
  auto lines = wait_lines(alerts(), [](const nlohmann::json& j) { return j.value("rule", "") == "Sandbox VMM execve"; });
  ASSERT_FALSE(lines.empty()) << read_text(alerts()) << read_text(log());
  EXPECT_EQ(lines[0]["sandbox"], "sb-host");
  EXPECT_EQ(lines[0]["view"], "host");
  EXPECT_EQ(lines[0]["enforced"], false) << "monitor mode kills nothing";
  ASSERT_TRUE(unregister("sb-host").ok());
}

// One probe set serves every sandbox; each record goes to the sandbox whose VMM scope it is in.
TEST_F(Sentryd, HostRecordsGoToTheirOwnSandboxOnly) {
  start("monitor");
  FakeVmm vmm_a, vmm_b;
  ASSERT_TRUE(register_sandbox("sb-a", uint32_t(vmm_a.pid())).ok());
  ASSERT_TRUE(register_sandbox("sb-b", uint32_t(vmm_b.pid())).ok());
  auto relay_a = attach("sb-a");
  auto relay_b = attach("sb-b");
  ASSERT_EQ(relay_a->monitor_error.value_or("<none>"), "");
  ASSERT_EQ(relay_b->monitor_error.value_or("<none>"), "");
  vmm_b.run_shell();
  auto lines = wait_lines(alerts(), [](const nlohmann::json& j) { return j.value("rule", "") == "Sandbox VMM execve"; });
  ASSERT_FALSE(lines.empty()) << read_text(alerts()) << read_text(log());
  for (const auto& l : lines) EXPECT_EQ(l["sandbox"], "sb-b");
  uint64_t records_a = 0, records_b = 0;
  auto listed = list();
  for (const auto& s : listed.sandboxes()) (s.info().sandbox_id() == "sb-a" ? records_a : records_b) = s.host_records();
  EXPECT_EQ(records_a, 0u) << "sb-a's VMM did nothing";
  EXPECT_GT(records_b, 0u);
  ASSERT_TRUE(unregister("sb-a").ok());
  ASSERT_TRUE(unregister("sb-b").ok());
}

TEST_F(Sentryd, EnforceModePushesTheDenySetThroughTheRelayBeforeMonitoringStarts) {
  start("enforce");
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-enf", uint32_t(vmm.pid())).ok());
  auto relay = attach("sb-enf");
  std::lock_guard lock(relay->mu);
  ASSERT_EQ(relay->monitor_error.value_or("<none>"), "");
  ASSERT_GE(relay->commands.size(), 2u);
  ASSERT_TRUE(relay->commands[0].has_set_enforcement());
  EXPECT_GT(relay->commands[0].set_enforcement().rules_size(), 0);
  EXPECT_TRUE(relay->commands.back().has_monitor_started());
  auto audit = wait_lines(alerts(), [](const nlohmann::json& j) {
    return j.value("audit", false) && j.value("detail", "").find("installed") != std::string::npos;
  });
  ASSERT_EQ(audit.size(), 1u) << read_text(alerts());
  EXPECT_EQ(audit[0]["sandbox"], "sb-enf");
}

TEST_F(Sentryd, BadRequestsGetErrorsThatSayWhatIsWrong) {
  start("monitor");
  {
    grpc::ClientContext ctx;
    v1::StreamFilter f;
    f.add_event_types("no_such_syscall");
    auto stream = stub_->StreamEvents(&ctx, f);
    v1::Event e;
    EXPECT_FALSE(stream->Read(&e));
    auto st = stream->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("unknown event type 'no_such_syscall'"), std::string::npos) << st.error_message();
  }
  FakeVmm vmm;
  auto s = register_sandbox("../etc", uint32_t(vmm.pid()));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("sandbox_id '../etc'"), std::string::npos) << s.error_message();
  s = register_sandbox("sb-x", 0);
  EXPECT_NE(s.error_message().find("vmm_pid 0 is not a running process"), std::string::npos) << s.error_message();
  ASSERT_TRUE(register_sandbox("sb-x", uint32_t(vmm.pid())).ok());
  s = register_sandbox("sb-x", uint32_t(vmm.pid()));
  EXPECT_NE(s.error_message().find("already registered"), std::string::npos) << s.error_message();
  EXPECT_EQ(unregister("nope").error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext ctx;
  auto stream = stub_->RelayGuest(&ctx);
  v1::RelayMessage hello;
  hello.set_attach_sandbox_id("nope");
  stream->Write(hello);
  stream->WritesDone();
  auto fin = stream->Finish();
  EXPECT_EQ(fin.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(fin.error_message().find("relay for sandbox nope: not registered"), std::string::npos) << fin.error_message();
  ASSERT_TRUE(unregister("sb-x").ok());
}

TEST_F(Sentryd, ABadConfigStopsItBeforeItServesAndCheckValidates) {
  write_config("monitor", "host_probe: true\n");
  EXPECT_EQ(run_to_end({"--config", (dir_ / "sentryd.yaml").string()}), 2);
  EXPECT_NE(read_text(log()).find("sentryd.yaml:4:1: unknown key 'host_probe'"), std::string::npos) << read_text(log());
  EXPECT_FALSE(fs::exists(socket()));
  write_config("monitor");
  EXPECT_EQ(run_to_end({"--check", "--config", (dir_ / "sentryd.yaml").string()}), 0) << read_text(log());
}

}  // namespace
}  // namespace kata_sentry
