// The agent protocol without containers (no privileges): the real serve_agent() and the real
// AgentClient over a socketpair, plus a deliberately misbehaving "guest" for the client's
// defences.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <chrono>
#include <fstream>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>

#include "agent.grpc.pb.h"
#include "core/guest_text.h"
#include "runtime/agent_client/agent_errors.h"
#include "tests/agent_rpc/agent_harness.h"

namespace kata_sentry::testing {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

agent::AgentServerOptions server_options() {
  agent::AgentServerOptions o;
  o.shared_dir = fs::temp_directory_path() / ("ks-agent-rpc-unit-" + std::to_string(::getpid()));
  o.cgroup_parent = "/nonexistent/ks-agent-rpc/cg";  // no container is started in this tier
  return o;
}

std::string describe(const Status& s) { return s ? "ok" : s.error().describe(); }

TEST(AgentRpc, HealthCheckAnswers) {
  InProcessAgent agent(server_options());
  ASSERT_NE(agent.client(), nullptr);
  auto s = agent.client()->wait_ready(5s);
  EXPECT_TRUE(s) << describe(s);
  EXPECT_TRUE(agent.stop());
}

TEST(AgentRpc, GuestDetailsDescribeThisKernel) {
  InProcessAgent agent(server_options());
  auto d = agent.client()->guest_details();
  ASSERT_TRUE(d) << d.error().describe();
  struct utsname u{};
  ::uname(&u);
  EXPECT_EQ(d->kernel_release, u.release);
  EXPECT_FALSE(d->agent_version.empty());
  std::ifstream lsm("/sys/kernel/security/lsm");
  std::string line;
  if (std::getline(lsm, line)) {
    EXPECT_FALSE(d->lsms.empty());
    EXPECT_EQ(d->bpf_lsm_active, line.find("bpf") != std::string::npos);
  }
}

TEST(AgentRpc, DestroySandboxEndsServing) {
  InProcessAgent agent(server_options());
  ASSERT_TRUE(agent.client()->create_sandbox({.hostname = "sb1"}));
  auto s = agent.client()->destroy_sandbox();
  EXPECT_TRUE(s) << describe(s);
  auto served = agent.join();  // returns without the host closing anything
  EXPECT_TRUE(served) << describe(served);
  auto after = agent.client()->guest_details();
  ASSERT_FALSE(after);
  EXPECT_THAT(after.error().message, HasSubstr("connection lost"));
}

TEST(AgentRpc, PeerHangUpEndsServing) {
  InProcessAgent agent(server_options());
  ASSERT_TRUE(agent.client()->wait_ready(5s));
  auto served = agent.stop();
  EXPECT_TRUE(served) << describe(served);
}

TEST(AgentRpc, ContainerBeforeSandboxIsRefused) {
  InProcessAgent agent(server_options());
  auto s = agent.client()->create_container("c1", "{}");
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, HasSubstr("CreateSandbox must come first"));
  EXPECT_THAT(s.error().message, HasSubstr("agent CreateContainer c1"));
}

TEST(AgentRpc, MalformedSpecNamesTheField) {
  InProcessAgent agent(server_options());
  ASSERT_TRUE(agent.client()->create_sandbox({}));
  auto s = agent.client()->create_container(
      "c1", R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":"sh","cwd":"/"}})");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::invalid_argument);
  EXPECT_THAT(s.error().message, HasSubstr("process.args"));
  auto bad_json = agent.client()->create_container("c2", "{not json");
  ASSERT_FALSE(bad_json);
  EXPECT_EQ(bad_json.error().code, ErrorCode::invalid_argument);
}

constexpr const char* kValidSpec =
    R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["true"],"cwd":"/"}})";

TEST(AgentRpc, RecordsAreBounded) {
  auto opts = server_options();
  opts.max_containers = 2;
  InProcessAgent agent(opts);
  auto* c = agent.client();
  ASSERT_TRUE(c->create_sandbox({}));
  ASSERT_TRUE(c->create_container("c1", kValidSpec));
  ASSERT_TRUE(c->create_container("c2", kValidSpec));
  auto third = c->create_container("c3", kValidSpec);
  ASSERT_FALSE(third);
  EXPECT_THAT(third.error().message, HasSubstr("too many containers"));
  ASSERT_TRUE(c->remove_container("c1"));  // never started: just forgotten
  EXPECT_TRUE(c->create_container("c3", kValidSpec));
  auto exec = c->exec_process("c2", "e1", {.args = {"true"}});
  ASSERT_FALSE(exec);
  EXPECT_THAT(exec.error().message, HasSubstr("not started"));
}

TEST(AgentRpc, SpecIsReadFromTheBundleWhenNotSent) {
  auto opts = server_options();
  struct RemoveAll {
    fs::path p;
    ~RemoveAll() { fs::remove_all(p); }
  } cleanup{opts.shared_dir};
  fs::create_directories(opts.shared_dir / "c1");
  fs::create_directories(opts.shared_dir / "c2");
  std::ofstream(opts.shared_dir / "c1" / "config.json") << kValidSpec;
  std::ofstream(opts.shared_dir / "c2" / "config.json") << R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":[],"cwd":"/"}})";
  InProcessAgent agent(opts);
  auto* c = agent.client();
  ASSERT_TRUE(c->create_sandbox({}));
  auto ok = c->create_container("c1", "");
  EXPECT_TRUE(ok) << describe(ok);
  auto bad = c->create_container("c2", "");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("process.args"));
  auto missing = c->create_container("c3", "");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("config.json"));
}

TEST(AgentRpc, InvalidIdsAreRefusedByTheClient) {
  InProcessAgent agent(server_options());
  for (std::string id : std::vector<std::string>{"", "a/b", "..", std::string(65, 'x'), "a b", "c\n1"}) {
    auto s = agent.client()->create_container(id, "{}");
    ASSERT_FALSE(s) << id;
    EXPECT_EQ(s.error().code, ErrorCode::invalid_argument);
    EXPECT_THAT(s.error().message, HasSubstr("container_id"));
  }
  auto e = agent.client()->signal_process("c1", "../x", 9);
  ASSERT_FALSE(e);
  EXPECT_THAT(e.error().message, HasSubstr("exec_id"));
}

// A host that skips the client's checks (raw stub) still cannot get past the agent.
TEST(AgentRpc, InvalidIdsAndPathsAreRefusedByTheAgent) {
  SocketPair sp;
  auto opts = server_options();
  std::thread server([&] { (void)agent::serve_agent(sp.guest, opts); });
  auto channel = grpc::CreateInsecureChannelFromFd("t", sp.host);
  auto stub = v1::Agent::NewStub(channel);
  auto call = [&](auto&& rpc) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    return rpc(&ctx);
  };
  v1::Empty empty;
  v1::CreateSandboxRequest sb;
  EXPECT_TRUE(call([&](auto* c) { return stub->CreateSandbox(c, sb, &empty); }).ok());

  v1::CreateContainerRequest cc;
  cc.set_container_id("../../etc");
  cc.set_oci_spec_json("{}");
  auto s = call([&](auto* c) { return stub->CreateContainer(c, cc, &empty); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("container_id"));

  cc.set_container_id("c1");
  cc.set_bundle("../../../etc");
  s = call([&](auto* c) { return stub->CreateContainer(c, cc, &empty); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("bundle"));

  cc.set_bundle("");
  cc.set_oci_spec_json(R"({"ociVersion":"1.0.2","root":{"path":"../../.."},"process":{"args":["true"],"cwd":"/"}})");
  s = call([&](auto* c) { return stub->CreateContainer(c, cc, &empty); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("root.path"));

  cc.set_oci_spec_json(R"({"ociVersion":"1.0.2","root":{"path":"/etc"},"process":{"args":["true"],"cwd":"/"}})");
  s = call([&](auto* c) { return stub->CreateContainer(c, cc, &empty); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("root.path"));

  v1::SignalProcessRequest sig;
  sig.set_container_id("c1");
  sig.set_signal(0);
  s = call([&](auto* c) { return stub->SignalProcess(c, sig, &empty); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("signal"));

  v1::CreateSandboxRequest bad_sb;
  bad_sb.set_shared_dir("relative/dir");
  s = call([&](auto* c) { return stub->CreateSandbox(c, bad_sb, &empty); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::ProcessRequest wait;
  wait.set_container_id("nosuch");
  v1::WaitProcessResponse wr;
  s = call([&](auto* c) { return stub->WaitProcess(c, wait, &wr); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  stub.reset();
  channel.reset();  // closes the host end: serve_agent returns
  server.join();
}

TEST(AgentRpc, OversizedRequestIsRefusedByTheAgent) {
  auto opts = server_options();
  opts.max_message_bytes = 64 * 1024;
  InProcessAgent agent(opts, {.max_message_bytes = 8 << 20});
  ASSERT_TRUE(agent.client()->create_sandbox({}));
  auto s = agent.client()->create_container("c1", std::string(256 * 1024, ' '));
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, HasSubstr("refused"));
  // The channel survives a refused message.
  EXPECT_TRUE(agent.client()->guest_details());
}

TEST(AgentRpc, OversizedRequestIsNotSentByTheClient) {
  InProcessAgent agent(server_options(), {.max_message_bytes = 16 * 1024});
  auto s = agent.client()->create_container("c1", std::string(64 * 1024, ' '));
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, HasSubstr("refused"));
}

TEST(AgentRpc, SilentGuestHitsTheDeadline) {
  SocketPair sp;  // nobody serves the guest end
  auto c = runtime::AgentClient::connect(sp.host, {.call_deadline = 300ms});
  ASSERT_TRUE(c);
  auto start = std::chrono::steady_clock::now();
  auto s = (*c)->create_container("c1", "{}");
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::timeout);
  EXPECT_EQ(s.error().message, "agent CreateContainer c1: deadline exceeded after 300 ms");
  EXPECT_LT(took, 3s);
  auto r = (*c)->wait_ready(500ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::timeout);
  ::close(sp.guest);
}

TEST(AgentRpc, DeadGuestGivesConnectionLost) {
  SocketPair sp;
  ::close(sp.guest);  // the guest end is gone before the first call
  auto c = runtime::AgentClient::connect(sp.host);
  ASSERT_TRUE(c);
  auto start = std::chrono::steady_clock::now();
  auto r = (*c)->wait_ready(10s);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("connection lost (guest died?)"));
  auto w = (*c)->wait_process("c1", "");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message, "agent WaitProcess c1: connection lost (guest died?)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(AgentRpc, KilledAgentProcessGivesConnectionLost) {
  auto opts = server_options();
  AgentProcess agent(AGENT_RPC_SERVER_HELPER, opts.shared_dir, opts.cgroup_parent);
  ASSERT_GT(agent.pid(), 0);
  ASSERT_TRUE(agent.client()->wait_ready(10s));
  agent.kill();
  auto d = agent.client()->guest_details();
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message, "agent GetGuestDetails: connection lost (guest died?)");
}

// A hung guest (stopped, socket still open) is noticed by keepalive even in a call that has no
// deadline, instead of hanging the host forever.
TEST(AgentRpc, HungGuestIsNoticedWithoutADeadline) {
  auto opts = server_options();
  AgentProcess agent(AGENT_RPC_SERVER_HELPER, opts.shared_dir, opts.cgroup_parent,
                     {.keepalive_interval = 500ms, .keepalive_timeout = 1000ms});
  ASSERT_GT(agent.pid(), 0);
  ASSERT_TRUE(agent.client()->wait_ready(10s));
  ::kill(agent.pid(), SIGSTOP);
  int st = 0;  // SIGSTOP is asynchronous: make sure it stopped before the call goes out
  ASSERT_EQ(::waitpid(agent.pid(), &st, WUNTRACED), agent.pid());
  ASSERT_TRUE(WIFSTOPPED(st));
  auto start = std::chrono::steady_clock::now();
  auto w = agent.client()->wait_process("c1", "");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message, "agent WaitProcess c1: connection lost (guest died?)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
}

// The host's one grpc::Status -> Error table.
TEST(AgentRpc, StatusesMapToErrors) {
  struct Case {
    grpc::StatusCode code;
    ErrorCode want;
    const char* text;
  } cases[] = {
      {grpc::StatusCode::DEADLINE_EXCEEDED, ErrorCode::timeout, "agent X c1: deadline exceeded after 10 s"},
      {grpc::StatusCode::UNAVAILABLE, ErrorCode::unavailable, "agent X c1: connection lost (guest died?)"},
      {grpc::StatusCode::INVALID_ARGUMENT, ErrorCode::invalid_argument, "agent X c1: said"},
      {grpc::StatusCode::NOT_FOUND, ErrorCode::not_found, "agent X c1: said"},
      {grpc::StatusCode::PERMISSION_DENIED, ErrorCode::permission_denied, "agent X c1: said"},
      {grpc::StatusCode::FAILED_PRECONDITION, ErrorCode::unavailable, "agent X c1: said"},
      {grpc::StatusCode::INTERNAL, ErrorCode::io, "agent X c1: said"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, ErrorCode::protocol, "agent X c1: refused: said"},
      {grpc::StatusCode::UNIMPLEMENTED, ErrorCode::protocol, "agent X c1: the agent does not implement it"},
      {grpc::StatusCode::DATA_LOSS, ErrorCode::protocol, "agent X c1: status 15: said"},
  };
  for (const auto& c : cases) {
    Error e = runtime::agent_error(grpc::Status(c.code, "said"), "X", "c1", 10s);
    EXPECT_EQ(e.code, c.want) << c.text;
    EXPECT_EQ(e.message, c.text);
  }
  EXPECT_EQ(runtime::agent_error(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, ""), "Check", "", 1500ms).message,
            "agent Check: deadline exceeded after 1500 ms");
  EXPECT_EQ(sanitize_guest_text(std::string("a\x1b[2J\nb\xff", 8)), "a?[2J?b?");
  EXPECT_EQ(sanitize_guest_text(std::string(600, 'x')).size(), 515u);
}

// A guest that lies: huge replies, impossible statuses, unknown streams.
class LyingAgent final : public v1::Agent::Service {
  grpc::Status GetGuestDetails(grpc::ServerContext*, const v1::GuestDetailsRequest*,
                               v1::GuestDetailsResponse* r) override {
    r->set_kernel_release(std::string(1 << 20, 'A'));
    return grpc::Status::OK;
  }
  grpc::Status Check(grpc::ServerContext*, const v1::CheckRequest*, v1::CheckResponse* r) override {
    r->set_serving(true);
    return grpc::Status::OK;
  }
  grpc::Status WaitProcess(grpc::ServerContext*, const v1::ProcessRequest*,
                           v1::WaitProcessResponse* r) override {
    r->set_wait_status(0x137f);  // "stopped by SIGSTOP": not an exit
    r->set_exited(true);
    return grpc::Status::OK;
  }
  grpc::Status ReadOutput(grpc::ServerContext*, const v1::ProcessRequest*,
                          grpc::ServerWriter<v1::OutputChunk>* w) override {
    v1::OutputChunk c;
    c.set_stream(v1::OutputChunk::STREAM_STDOUT);
    c.set_data("fine\n");
    w->Write(c);
    c.set_stream(static_cast<v1::OutputChunk::Stream>(42));
    w->Write(c);
    return grpc::Status::OK;
  }
  grpc::Status StartContainer(grpc::ServerContext*, const v1::ContainerRequest*,
                              v1::Empty*) override {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string("evil\x1b[2J\n", 8) + std::string(4000, 'x'));
  }
};

TEST(AgentRpc, UntrustedRepliesAreChecked) {
  SocketPair sp;
  LyingAgent service;
  grpc::ServerBuilder b;
  b.RegisterService(&service);
  auto server = b.BuildAndStart();
  ASSERT_TRUE(server);
  ::fcntl(sp.guest, F_SETFL, O_NONBLOCK);  // gRPC's server side needs it (serve_agent does this)
  grpc::AddInsecureChannelFromFd(server.get(), sp.guest);
  auto c = runtime::AgentClient::connect(sp.host, {.max_message_bytes = 64 * 1024});
  ASSERT_TRUE(c);
  ASSERT_TRUE((*c)->wait_ready(5s));

  auto d = (*c)->guest_details();
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, ErrorCode::protocol);
  EXPECT_THAT(d.error().message, HasSubstr("refused"));

  auto w = (*c)->wait_process("c1", "");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, ErrorCode::protocol);

  std::string out;
  auto r = (*c)->read_output("c1", "", [&](std::string_view s) { out += s; }, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::protocol);
  EXPECT_EQ(out, "fine\n");

  auto st = (*c)->start_container("c1");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message.find('\x1b'), std::string::npos);
  EXPECT_LT(st.error().message.size(), 700u);

  c->reset();
  server->Shutdown(std::chrono::system_clock::now() + 1s);
}

}  // namespace
}  // namespace kata_sentry::testing
