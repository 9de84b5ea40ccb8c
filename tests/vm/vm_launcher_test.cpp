// unit tier for the VM launcher pieces that need no VM: the typed QEMU command line, supervised
// children, the QMP client (against a fake QMP server) and OCI image unpacking.
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/sandbox/oci_image.h"
#include "runtime/vm/child_process.h"
#include "runtime/vm/qemu_config.h"
#include "runtime/vm/qmp_client.h"
#include "runtime/vm/vm.h"

namespace kata_sentry::vm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path scratch(const std::string& name) {
  auto p = fs::temp_directory_path() / ("ks-vm-unit-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(p);
  return p;
}

bool has_pair(const std::vector<std::string>& argv, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1] == value) return true;
  }
  return false;
}

TEST(QemuArgv, TcgConfigSpellsEveryDevice) {
  QemuConfig c;
  c.accel = Accelerator::tcg;
  c.cpus = 2;
  c.memory_mb = 384;
  c.kernel = "/k";
  c.initrd = "/i";
  c.kernel_cmdline = "console=ttyS0";
  c.console_log = "/d/console.log";
  c.qmp_socket = "/d/qmp.sock";
  c.agent_socket = "/d/agent.sock";
  c.share = VirtioFsShare{"kshared", "/d/vfs.sock"};
  auto a = qemu_argv(c);
  EXPECT_EQ(a[0], "/usr/bin/qemu-system-x86_64");
  EXPECT_TRUE(has_pair(a, "-accel", "tcg,tb-size=16"));  // TCG's cache bounded: its RSS is per sandbox
  EXPECT_TRUE(has_pair(a, "-cpu", "max"));
  EXPECT_TRUE(has_pair(a, "-smp", "2"));
  EXPECT_TRUE(has_pair(a, "-m", "384M"));
  // vhost-user-fs needs shared guest memory of exactly -m.
  EXPECT_TRUE(has_pair(a, "-object", "memory-backend-memfd,id=mem,share=on,size=384M"));
  EXPECT_TRUE(has_pair(a, "-device", "vhost-user-fs-pci,chardev=vfs,tag=kshared"));
  EXPECT_TRUE(has_pair(a, "-chardev", "socket,id=agent,path=/d/agent.sock,server=on,wait=off"));
  EXPECT_TRUE(has_pair(a, "-device", "virtserialport,bus=vser0.0,chardev=agent,name=agent.0"));
  EXPECT_TRUE(has_pair(a, "-mon", "chardev=qmp,mode=control"));
  EXPECT_TRUE(has_pair(a, "-device", "virtio-balloon-pci,id=balloon0,free-page-reporting=on"));
  EXPECT_TRUE(has_pair(a, "-chardev", "file,id=console,path=/d/console.log"));
  EXPECT_TRUE(has_pair(a, "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
  EXPECT_NE(std::find(a.begin(), a.end(), "-no-reboot"), a.end());
}

TEST(QemuArgv, KvmUsesHostCpuAndNoShareMeansNoMemfd) {
  QemuConfig c;
  c.accel = Accelerator::kvm;
  auto a = qemu_argv(c);
  EXPECT_TRUE(has_pair(a, "-accel", "kvm"));
  EXPECT_TRUE(has_pair(a, "-cpu", "host"));
  for (const auto& w : a) EXPECT_EQ(w.find("memory-backend-memfd"), std::string::npos);
}

TEST(ChildProcess, ExitStatusAndOutputLog) {
  auto log = scratch("child.log");
  auto child = ChildProcess::spawn({"/bin/sh", "-c", "echo to-log; exit 3"}, log);
  ASSERT_TRUE(child) << child.error().describe();
  auto st = child->wait_exit(5000ms);
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 3);
  EXPECT_EQ(child->describe_exit(), "exited 3");
  EXPECT_EQ(last_log_line(log), "to-log");
  fs::remove(log);
}

TEST(ChildProcess, TerminateAndDestructorLeaveNoProcess) {
  auto log = scratch("sleep.log");
  pid_t pid;
  {
    auto child = ChildProcess::spawn({"/bin/sleep", "60"}, log);
    ASSERT_TRUE(child);
    pid = child->pid();
    EXPECT_TRUE(child->running());
    EXPECT_FALSE(child->wait_exit(50ms));
    child->terminate(1000ms);
    EXPECT_FALSE(child->running());
    EXPECT_EQ(child->describe_exit(), "killed by signal 15 (Terminated)");
    auto again = ChildProcess::spawn({"/bin/sleep", "60"}, log);
    ASSERT_TRUE(again);
    pid = again->pid();
  }  // the destructor kills and reaps
  EXPECT_NE(::kill(pid, 0), 0);
  fs::remove(log);
}

TEST(ChildProcess, MissingBinaryIsNamed) {
  auto child = ChildProcess::spawn({"/nonexistent/qemu"}, scratch("x.log"));
  ASSERT_FALSE(child);
  EXPECT_NE(child.error().describe().find("start /nonexistent/qemu"), std::string::npos);
}

// A fake QEMU: greets, acknowledges qmp_capabilities, answers query-status after an event, and
// rejects anything else with a QMP error.
class FakeQmp {
 public:
  explicit FakeQmp(fs::path path) : path_(std::move(path)) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listen_fd_, 1), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeQmp() {
    thread_.join();
    ::close(listen_fd_);
    fs::remove(path_);
  }

 private:
  void send(int fd, const std::string& s) { (void)!::write(fd, s.data(), s.size()); }
  void serve() {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    send(fd, R"({"QMP": {"version": {}, "capabilities": []}})" "\n");
    std::string buf;
    char c;
    while (::read(fd, &c, 1) == 1) {
      if (c != '\n') {
        buf += c;
        continue;
      }
      if (buf.find("qmp_capabilities") != std::string::npos) {
        send(fd, "{\"return\": {}}\n");
      } else if (buf.find("query-status") != std::string::npos) {
        send(fd, R"({"event": "RESUME", "timestamp": {}})" "\n" R"({"return": {"status": "running", "running": true}})" "\n");
      } else {
        send(fd, R"({"error": {"class": "CommandNotFound", "desc": "The command nosuch has not been found"}})" "\n");
        break;
      }
      buf.clear();
    }
    ::close(fd);
  }
  fs::path path_;
  int listen_fd_ = -1;
  std::thread thread_;
};

TEST(QmpClient, NegotiatesSkipsEventsAndReportsErrors) {
  auto sock = scratch("qmp.sock");
  FakeQmp server(sock);
  auto qmp = QmpClient::connect(sock, 2000ms);
  ASSERT_TRUE(qmp) << qmp.error().describe();
  auto status = qmp->query_status();
  ASSERT_TRUE(status) << status.error().describe();
  EXPECT_EQ(*status, "running");
  auto bad = qmp->execute("nosuch");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::protocol);
  EXPECT_NE(bad.error().message.find("has not been found"), std::string::npos);
  // The fake closed the connection: the next call says so instead of hanging.
  auto gone = qmp->query_status();
  ASSERT_FALSE(gone);
}

TEST(OciImage, UnpacksBusyboxLayoutWithItsConfig) {
  auto tar = scratch("bb.tar");
  ASSERT_EQ(std::system((std::string(KS_SOURCE_DIR) + "/scripts/mkimage-busybox.sh " + tar.string() + " >/dev/null").c_str()), 0);
  auto work = scratch("image");
  {
    auto image = runtime::UnpackedImage::unpack(tar, work);
    ASSERT_TRUE(image) << image.error().describe();
    EXPECT_TRUE(fs::exists(image->rootfs() / "bin/busybox"));
    EXPECT_TRUE(fs::is_symlink(image->rootfs() / "bin/sh"));
    EXPECT_EQ(image->config().cmd, std::vector<std::string>{"/bin/sh"});
    EXPECT_EQ(image->config().env, std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"});
  }
  EXPECT_FALSE(fs::exists(work)) << "the unpacked image must be removed with its owner";
  fs::remove(tar);
}

TEST(OciImage, NotATarballIsAClearError) {
  auto bogus = scratch("bogus.tar");
  std::ofstream(bogus) << "not a tar";
  auto work = scratch("bogus-image");
  auto image = runtime::UnpackedImage::unpack(bogus, work);
  ASSERT_FALSE(image);
  EXPECT_NE(image.error().message.find("image " + bogus.string()), std::string::npos) << image.error().message;
  EXPECT_FALSE(fs::exists(work)) << "a failed unpack must not leave its directory";
  fs::remove(bogus);
}

}  // namespace
}  // namespace kata_sentry::vm
