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
#include "tests/support/sentryd_harness.h"

namespace kata_sentry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::EventBuilder;
using testing::FakeVmm;
using testing::read_text;
using testing::wait_lines;
using Sentryd = testing::SentrydFixture;

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
    // MSG_NOSIGNAL: the daemon may have closed already, and a SIGPIPE would look like a crash.
    (void)!::send(fd, preface, sizeof preface - 1, MSG_NOSIGNAL);
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

  v1::AlertUpdate update;
  ASSERT_TRUE(alerts_stream->Read(&update));
  ASSERT_TRUE(update.has_alert());
  EXPECT_EQ(update.dropped(), 0u);
  const v1::AlertRecord& rec = update.alert();
  EXPECT_EQ(rec.rule(), "Guest kernel module load");
  EXPECT_EQ(rec.sandbox_id(), "sb-api");
  EXPECT_EQ(rec.container_id(), "c1");
  EXPECT_EQ(rec.priority(), "Critical");
  alerts_ctx.TryCancel();

  v1::EventUpdate event_update;
  ASSERT_TRUE(events_stream->Read(&event_update));
  ASSERT_TRUE(event_update.has_event());
  const v1::Event& streamed = event_update.event();
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
    v1::EventUpdate e;
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
