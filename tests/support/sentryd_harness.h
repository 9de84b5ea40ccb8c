// kata-sentryd as a process, for tests that drive it the way a shim does: the real binary
// (KS_SENTRYD_BINARY) with a private config, socket and alerts file, a child process standing
// in for a sandbox's VMM, and a fake shim relay (control path + event path). Header-only: the
// test binaries that include it link gRPC, ks_proto and nlohmann-json already.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "core/guest_batch.h"
#include "guest_wire.h"
#include "sentryd.grpc.pb.h"

namespace kata_sentry::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// JSON lines of the alerts file that satisfy `pred`, waiting up to `timeout` for one.
inline std::vector<nlohmann::json> wait_lines(const fs::path& file, const std::function<bool(const nlohmann::json&)>& pred,
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

class SentrydFixture : public ::testing::Test {
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

  fs::path audit_dir() const { return dir_ / "audit"; }

  // The audit log and its key stay in the test's directory (after `extra`, so that line numbers
  // of `extra` keys stay 4, 5, ...). Metrics on a free loopback port unless `extra` says
  // otherwise: daemons of tests that run at the same time must not fight over the default port.
  // `audit_extra`: more keys of the audit: section, each line indented by two spaces.
  void write_config(const std::string& mode, const std::string& extra = "", const std::string& audit_extra = "") {
    std::ofstream(dir_ / "sentryd.yaml") << "socket: " << socket().string() << "\nalerts_file: " << alerts().string()
                                         << "\nmode: " << mode << "\n"
                                         << extra
                                         << (extra.find("metrics_address:") == std::string::npos ? "metrics_address: 127.0.0.1:0\n" : "")
                                         << "audit:\n  dir: " << audit_dir().string() << "\n  key_file: "
                                         << (dir_ / "node.key").string() << "\n  min_free_bytes: 0\n" << audit_extra;
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
    start_configured();
  }

  // Starts kata-sentryd on the config write_config() wrote, and waits until it serves.
  void start_configured() {
    pid_ = spawn({"--config", (dir_ / "sentryd.yaml").string()});
    for (int i = 0; i < 300; i++) {
      if (read_text(log()).find("serving on") != std::string::npos) break;
      ASSERT_EQ(::waitpid(pid_, nullptr, WNOHANG), 0) << "kata-sentryd exited: " << read_text(log());
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_NE(read_text(log()).find("serving on " + socket().string()), std::string::npos) << read_text(log());
    stub_ = v1::Sentryd::NewStub(grpc::CreateChannel("unix:" + socket().string(), grpc::InsecureChannelCredentials()));
  }

  // SIGTERM; the daemon must exit 0 and remove its socket. Detaching the host probes' links
  // takes seconds on a loaded 2-CPU machine (measured 3.5-12 s): the bound catches a hang only.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 600 && ::waitpid(pid_, &st, WNOHANG) == 0; i++) std::this_thread::sleep_for(50ms);
    if (::kill(pid_, 0) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      ADD_FAILURE() << "kata-sentryd did not stop on SIGTERM within 30 s";
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

  grpc::Status register_sandbox(const std::string& id, uint32_t vmm_pid, const std::vector<std::string>& containers = {"c1"},
                                uint64_t boot_duration_ns = 0) {
    v1::RegisterSandboxRequest req;
    req.set_boot_duration_ns(boot_duration_ns);
    auto* s = req.mutable_sandbox();
    s->set_sandbox_id(id);
    s->set_pod_name("web");
    s->set_pod_namespace("shop");
    s->set_vmm_pid(vmm_pid);
    for (const auto& c : containers) s->add_container_ids(c);
    v1::RegisterSandboxResponse resp;
    grpc::ClientContext ctx;
    return stub_->RegisterSandbox(&ctx, req, &resp);
  }

  // A shim's relay: the control path attaches and answers commands (recording them), the
  // event path carries batches (wire bytes, as the agent sends them); a thread sends a
  // heartbeat every 500 ms as the guest agent does.
  struct Relay {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<v1::RelayMessage, v1::RelayCommand>> stream;
    grpc::ClientContext events_ctx;
    v1::Empty events_reply;
    std::unique_ptr<grpc::ClientWriter<v1::GuestEventsMessage>> events;
    std::mutex mu;
    uint64_t next_seq = 0;
    std::vector<v1::RelayCommand> commands;
    std::optional<std::string> monitor_error;
    // Fills in a command's answer (e.g. a guest process list) before it is sent; under `mu`.
    std::function<void(const v1::RelayCommand&, v1::RelayResult&)> answer;
    std::atomic<bool> done{false};
    std::thread reader, heartbeats;
    bool send(std::vector<Event> events_out, bool heartbeat) {
      GuestEventBatch b;
      std::lock_guard lock(mu);
      b.first_seq = next_seq;
      b.heartbeat = heartbeat;
      b.events = std::move(events_out);
      next_seq += b.events.size();
      return send_raw_locked(encode_guest_batch(b));
    }
    // Any bytes, as a hostile guest (through an honest shim) can make them arrive.
    bool send_raw(std::string wire) {
      std::lock_guard lock(mu);
      return send_raw_locked(std::move(wire));
    }
    bool send_raw_locked(std::string wire) {
      if (!events) return false;
      v1::GuestEventsMessage m;
      m.set_batch(std::move(wire));
      return events->Write(m);
    }
    ~Relay() {
      done = true;
      ctx.TryCancel();
      events_ctx.TryCancel();
      if (reader.joinable()) reader.join();
      if (heartbeats.joinable()) heartbeats.join();
    }
  };

  // How the fake shim treats the daemon's commands: answers them all, or hangs once the
  // monitor runs (it answers the start-up pushes, deny set and wanted types, then nothing).
  enum class Commands { answered, hang_after_start };
  std::unique_ptr<Relay> attach(const std::string& id, bool heartbeats = true, Commands commands = Commands::answered) {
    auto r = std::make_unique<Relay>();
    r->stream = stub_->RelayGuest(&r->ctx);
    v1::RelayMessage hello;
    hello.set_attach_sandbox_id(id);
    r->stream->Write(hello);
    Relay* p = r.get();
    r->reader = std::thread([p, commands] {
      v1::RelayCommand c;
      while (p->stream->Read(&c)) {
        std::lock_guard lock(p->mu);
        p->commands.push_back(c);
        if (c.has_monitor_started()) {
          p->monitor_error = c.monitor_started().error();
          continue;
        }
        const bool start_up = c.has_set_enforcement() || c.has_set_wanted_types();
        if (commands == Commands::hang_after_start && !start_up) continue;
        v1::RelayMessage m;
        m.mutable_result()->set_id(c.id());
        if (p->answer) p->answer(c, *m.mutable_result());
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
    {
      // The event path opens once the monitor runs, as the shim does.
      std::lock_guard lock(r->mu);
      if (r->monitor_error && r->monitor_error->empty()) {
        r->events = stub_->RelayGuestEvents(&r->events_ctx, &r->events_reply);
        v1::GuestEventsMessage m;
        m.set_attach_sandbox_id(id);
        r->events->Write(m);
      }
    }
    if (heartbeats) {
      r->heartbeats = std::thread([p] {
        while (!p->done.load()) {
          p->send({}, true);
          std::this_thread::sleep_for(500ms);
        }
      });
    }
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

}  // namespace kata_sentry::testing
