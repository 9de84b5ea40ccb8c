#include "runtime/shim/shim_main.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include <google/protobuf/timestamp.pb.h>
#include <openssl/evp.h>

#include "core/logging.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"
#include "core/flags.h"
#include "runtime/shim/cri_annotations.h"
#include "runtime/shim/dead_sandbox.h"
#include "runtime/shim/events.h"
#include "runtime/shim/task_service.h"
#include "runtime/shim/ttrpc/client.h"
#include "runtime/shim/ttrpc/server.h"
#include "runtime/shim/ttrpc/socket.h"
#include "runtime/shim/unavailable_backend.h"
#ifdef KS_SHIM_HAVE_SANDBOX
#include "runtime/shim/sandbox_backend.h"
#endif

extern char** environ;

namespace kata_sentry::shim {
namespace {

namespace fs = std::filesystem;

constexpr const char* kAddressFile = "address";  // in the bundle: where containerd and pods look
constexpr const char* kLogFifo = "log";          // in the bundle: containerd copies it to its log
// Where the pod VMs live: the Sandbox runtime's default root, passed to it explicitly so that
// `delete` looks where `serve` put them. A pod's sandbox is named after its grouping id.
constexpr const char* kSandboxRoot = "/run/kata-sentry/sandboxes";

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes atomically so that a reader never sees half an address.
Status write_file(const fs::path& p, const std::string& text) {
  fs::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return fail_errno("write " + tmp.string());
    out << text;
    if (!out.flush()) return fail_errno("write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) return fail(ErrorCode::io, "rename " + tmp.string() + " to " + p.string() + ": " + ec.message());
  return {};
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// True when something answers ttrpc Connect at the address: a live shim.
bool shim_alive(const std::string& address) {
  auto c = ttrpc::Client::connect(address);
  if (!c) return false;
  return bool((*c)->call(kTaskService, "Connect", ""));
}

// Turns "-name" into "--name" so that Go-style flags (containerd runs the shim with
// -namespace, -address, ...) reach the shared FlagParser: CLI11 under it takes single-dash
// names as one-letter flags only.
std::vector<std::string> go_style_args(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; i++) {
    std::string a = argv[i];
    if (i > 0 && a.size() > 2 && a[0] == '-' && a[1] != '-') a = "-" + a;
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

ShimOptions parse_shim_args(int argc, char** argv) {
  ShimOptions o;
  cli::FlagParser p("containerd-shim-kata-sentry-v2 [flags] start|delete",
                    "containerd shim v2 for kata-sentry: runs each pod in its own VM. containerd starts it.");
  p.add_string("namespace", '\0', "NS", "containerd namespace", &o.ns);
  p.add_string("address", '\0', "PATH", "containerd's gRPC address", &o.address);
  p.add_string("publish-binary", '\0', "PATH", "binary run to publish events (containerd)", &o.publish_binary);
  p.add_string("id", '\0', "ID", "task id", &o.id);
  p.add_string("bundle", '\0', "DIR", "bundle directory (delete)", &o.bundle);
  p.add_bool("debug", '\0', "log at debug level", &o.debug);
  p.add_int("socket-fd", '\0', "FD", "internal: listening socket for serve", &o.socket_fd);
  auto args = go_style_args(argc, argv);
  std::vector<char*> ptrs;
  for (auto& a : args) ptrs.push_back(a.data());
  auto rest = p.parse(int(ptrs.size()), ptrs.data());
  if (rest.size() != 1) throw cli::UsageError{"want exactly one action (start, delete), got " + std::to_string(rest.size())};
  o.action = rest[0];
  return o;
}

std::string shim_socket_address(const std::string& containerd_address, const std::string& ns, const std::string& group) {
  std::string key = containerd_address + "/" + ns + "/" + group;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(key.data(), key.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string h;
  for (unsigned i = 0; i < len; i++) {
    h += hex[md[i] >> 4];
    h += hex[md[i] & 15];
  }
  return "unix:///run/containerd/s/" + h;
}

std::string grouping_id(const std::string& bundle, const std::string& id) {
  auto cri = read_cri_annotations(bundle);
  if (cri.container_type == "container" && !cri.sandbox_id.empty()) return cri.sandbox_id;
  return id;
}

int run_start(const ShimOptions& o) {
  auto log = logger("shim");
  if (o.id.empty() || o.ns.empty()) {
    std::cerr << "start: -id and -namespace are required\n";
    return 2;
  }
  fs::path bundle = o.bundle.empty() ? fs::current_path() : fs::path(o.bundle);
  std::string group = grouping_id(bundle, o.id);
  std::string address = shim_socket_address(o.address, o.ns, group);

  auto listener = ttrpc::listen_unix(address);
  if (!listener && listener.error().sys_errno == EADDRINUSE) {
    // The pod's shim (or our own earlier start) already serves this group: share it.
    if (shim_alive(address)) {
      if (auto st = write_file(bundle / kAddressFile, address); !st) {
        std::cerr << "start: " << st.error().describe() << "\n";
        return 1;
      }
      std::cout << address << std::flush;
      return 0;
    }
    ttrpc::remove_socket(address);  // a dead shim's leftover
    listener = ttrpc::listen_unix(address);
  }
  if (!listener) {
    std::cerr << "start: " << listener.error().describe() << "\n";
    return 1;
  }

  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    std::cerr << "start: readlink /proc/self/exe: " << std::strerror(errno) << "\n";
    ttrpc::remove_socket(address);
    return 1;
  }
  self[n] = '\0';
  // Re-exec ourselves detached (new session, stdio on /dev/null, the socket as fd 3): the
  // server must not hold containerd's output pipe open, or containerd waits forever.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, listener->get(), 3);  // dup2 clears FD_CLOEXEC
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<std::string> args = {self, "-namespace", o.ns, "-address", o.address,
                                   "-publish-binary", o.publish_binary, "-id", o.id,
                                   "-bundle", bundle.string(), "-socket-fd", "3"};
  if (o.debug) args.push_back("-debug");
  args.push_back("serve");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, self, &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    ttrpc::remove_socket(address);
    std::cerr << "start: spawn shim server: " << std::strerror(rc) << "\n";
    return 1;
  }
  if (auto st = write_file(bundle / kAddressFile, address); !st) {
    ::kill(pid, SIGKILL);
    ttrpc::remove_socket(address);
    std::cerr << "start: " << st.error().describe() << "\n";
    return 1;
  }
  std::cout << address << std::flush;
  return 0;
}

int run_delete(const ShimOptions& o) {
  fs::path bundle = o.bundle.empty() ? fs::current_path() : fs::path(o.bundle);
  std::string address = trim(read_file(bundle / kAddressFile));
  // A pod's shim may still be serving the other containers; only a dead one is cleaned up.
  bool alive = !address.empty() && shim_alive(address);
  if (!address.empty() && !alive) ttrpc::remove_socket(address);
  if (!alive && !o.id.empty()) {
    if (auto st = cleanup_dead_sandbox(kSandboxRoot, grouping_id(bundle, o.id)); !st)
      std::cerr << "delete: " << st.error().describe() << "\n";  // containerd logs it as a warning
  }
  std::error_code ec;
  fs::remove(bundle / kAddressFile, ec);

  // The shim died, so the task was killed: report it the way a SIGKILL exit reads.
  ::containerd::task::v2::DeleteResponse resp;
  resp.set_exit_status(128 + SIGKILL);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  resp.mutable_exited_at()->set_seconds(ns / 1'000'000'000);
  resp.mutable_exited_at()->set_nanos(int32_t(ns % 1'000'000'000));
  std::string out = resp.SerializeAsString();
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) return 1;
  return 0;
}

int run_serve(const ShimOptions& o) {
  // containerd copies <bundle>/log into its own log: make it our stderr when it is there.
  if (!o.bundle.empty()) {
    int lf = ::open((fs::path(o.bundle) / kLogFifo).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (lf >= 0) {
      ::fcntl(lf, F_SETFL, 0);
      ::dup2(lf, 2);
      ::close(lf);
    }
  }
  set_log_level(o.debug ? "debug" : "info");
  auto log = logger("shim");
  if (o.socket_fd < 0) {
    log->error("serve: no -socket-fd (serve is started by `start`, not by hand)");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  // Block the stop signals before any thread exists, so only the signal thread takes them.
  sigset_t stop_sigs;
  sigemptyset(&stop_sigs);
  sigaddset(&stop_sigs, SIGTERM);
  sigaddset(&stop_sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_sigs, nullptr);

  std::unique_ptr<EventPublisher> events;
  if (!o.publish_binary.empty())
    events = std::make_unique<ExecPublisher>(o.publish_binary, o.address, o.ns);
  else
    events = std::make_unique<RecordingPublisher>();
#ifdef KS_SHIM_HAVE_SANDBOX
  runtime::SandboxOptions sandbox_options;
  sandbox_options.root = kSandboxRoot;
  sandbox_options.id = grouping_id(o.bundle, o.id);
  SandboxBackend backend(sandbox_options, std::make_unique<SentrydLink>(load_shim_config()));
#else
  UnavailableBackend backend;
#endif
  ttrpc::Server server;
  TaskService service(backend, *events, [&server] { server.request_stop(); });
  service.register_methods(server);
  if (auto st = server.serve(UniqueFd(int(o.socket_fd))); !st) {
    log->error("serve: {}", st.error().describe());
    return 1;
  }
  std::thread([&server, stop_sigs] {
    int sig = 0;
    sigwait(&stop_sigs, &sig);
    logger("shim")->info("signal {}: stopping", sig);
    server.request_stop();
  }).detach();
  log->info("shim for {} in namespace {} serving (pid {})", o.id, o.ns, ::getpid());

  server.wait();
  backend.shutdown();
  service.fail_all(128 + SIGKILL);  // anything the backend did not report is gone with it
  server.shutdown();
  ttrpc::remove_socket(shim_socket_address(o.address, o.ns, grouping_id(o.bundle, o.id)));
  log->info("shim for {} exiting", o.id);
  return 0;
}

int shim_main(int argc, char** argv) {
  ShimOptions o;
  try {
    o = parse_shim_args(argc, argv);
  } catch (const cli::UsageError& e) {
    std::cerr << "containerd-shim-kata-sentry-v2: " << e.message << "\n";
    return 2;
  } catch (const cli::HelpShown&) {
    return 0;
  }
  if (o.debug) set_log_level("debug");
  if (o.action == "start") return run_start(o);
  if (o.action == "delete") return run_delete(o);
  if (o.action == "serve") return run_serve(o);
  std::cerr << "containerd-shim-kata-sentry-v2: unknown action \"" << o.action << "\" (want start or delete)\n";
  return 2;
}

}  // namespace kata_sentry::shim
