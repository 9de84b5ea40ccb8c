#include "tests/support/private_containerd.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "syscall-probes/proc_table.h"

extern char** environ;

namespace kata_sentry::test_support {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// "KEY=VALUE" strings: this process's environment with `overrides` applied. Built before fork
// because the child of a (possibly threaded) test must not allocate.
std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; e++) {
    std::string kv = *e;
    if (!overrides.contains(kv.substr(0, kv.find('=')))) env.push_back(std::move(kv));
  }
  for (const auto& [k, v] : overrides) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

CmdResult run(const std::vector<std::string>& args, const std::string& cwd, bool merge_stderr,
              std::chrono::seconds timeout) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {};
  std::vector<std::string> argv_s = args;
  std::vector<char*> argv = c_strings(argv_s);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) _exit(126);
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(merge_stderr ? out[1] : devnull, 2);
    ::execvp(argv[0], argv.data());
    _exit(127);
  }
  ::close(out[1]);
  CmdResult r;
  if (pid < 0) {
    ::close(out[0]);
    return r;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) continue;
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    r.out.append(buf, size_t(n));
  }
  ::close(out[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<pid_t> processes_with(const std::string& needle) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/proc", ec)) {
    pid_t pid = std::atoi(e.path().filename().c_str());
    if (pid <= 0 || pid == ::getpid()) continue;
    std::string cmd = read_text(e.path() / "cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(needle) != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    // Shims are re-parented away from us, so a zombie one is as good as gone.
    std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    if (stat.find(") Z") != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::string path_with(const fs::path& dir) {
  const char* path = ::getenv("PATH");
  return dir.string() + ":" + (path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
}

// ---- TempDir ----

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "XXXXXX";
  if (::mkdtemp(tmpl.data())) path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

fs::path TempDir::write(const std::string& name, const std::string& text) const {
  fs::path p = path_ / name;
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  std::ofstream(p) << text;
  return p;
}

// ---- Background ----

Status Background::start(const std::vector<std::string>& args, const fs::path& log,
                         const std::map<std::string, std::string>& env) {
  if (pid_ > 0) return fail(ErrorCode::invalid_argument, "background process already started: " + args.at(0));
  log_ = log;
  std::vector<std::string> argv_s = args;
  std::vector<char*> argv = c_strings(argv_s);
  std::vector<std::string> env_s = environment_with(env);
  std::vector<char*> envp = c_strings(env_s);
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail_errno("open " + log.string());
  pid_ = ::fork();
  if (pid_ == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::setsid();  // keep terminal signals of the test runner away from it
    ::execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  ::close(fd);
  if (pid_ < 0) return fail_errno("fork for " + args.at(0));
  return {};
}

bool Background::running() const {
  if (pid_ <= 0) return false;
  siginfo_t info{};
  // WNOWAIT: look without reaping, so stop() still gets the exit status.
  return ::waitid(P_PID, id_t(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

bool Background::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (read_text(log_).find(text) != std::string::npos) return true;
    if (!running() || std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(50ms);
  }
}

int Background::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int st = 0;
  auto end = std::chrono::steady_clock::now() + grace;
  pid_t r = 0;
  while ((r = ::waitpid(pid_, &st, WNOHANG)) == 0 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(20ms);
  if (r == 0) {
    ::kill(pid_, SIGKILL);
    r = ::waitpid(pid_, &st, 0);
  }
  pid_ = -1;
  return r > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// ---- PrivateContainerd ----

Status PrivateContainerd::start(const PrivateContainerdOptions& options) {
  if (pid_ > 0) return fail(ErrorCode::invalid_argument, "private containerd already started in " + dir_.string());
  char tmpl[] = "/tmp/ks-cd-XXXXXX";
  if (!::mkdtemp(tmpl)) return fail_errno("mkdtemp /tmp/ks-cd-XXXXXX");
  dir_ = tmpl;
  ns_ = options.namespace_prefix + "-" + std::to_string(::getpid()) + "-" + dir_.filename().string().substr(6);
  // `version` and the other top-level keys must precede the first table.
  std::ofstream(dir_ / "config.toml") << "version = 2\nroot = \"" << (dir_ / "root").string() << "\"\nstate = \""
                                      << (dir_ / "state").string() << "\"\n"
                                      << (options.cri ? "" : "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n")
                                      << "[grpc]\n  address = \"" << socket().string() << "\"\n"
                                      << options.extra_config << "\n";
  std::vector<std::string> argv_s = {"containerd", "--config", (dir_ / "config.toml").string()};
  std::vector<char*> argv = c_strings(argv_s);
  std::vector<std::string> env_s = environment_with(options.env);
  std::vector<char*> envp = c_strings(env_s);
  std::string log_path = log().string();
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::setsid();
    ::execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  if (pid_ < 0) return fail_errno("fork for containerd");
  for (int i = 0; i < 200; i++) {
    if (fs::exists(socket())) return import_images(options.import_images);
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return fail(ErrorCode::unavailable, "containerd exited at start; log: " + read_text(log()));
    }
    std::this_thread::sleep_for(50ms);
  }
  return fail(ErrorCode::timeout, "containerd socket did not appear; log: " + read_text(log()));
}

Status PrivateContainerd::import_images(const std::vector<std::string>& tarballs) const {
  for (const auto& t : tarballs) {
    auto r = run(ctr({"images", "import", t}));
    if (r.status != 0) return fail(ErrorCode::io, "ctr images import " + t + ": " + r.out);
  }
  return {};
}

PrivateContainerd::~PrivateContainerd() {
  if (ns_.empty()) return;
  // Shims of our namespace first (a failed test may leave one): SIGTERM lets a shim tear its
  // VM down and unmount; SIGKILL whatever is still there after that.
  auto shims = processes_with(shim_marker());
  for (pid_t p : shims) ::kill(p, SIGTERM);
  for (pid_t p : shims)
    if (!wait_gone(p, 15s)) ::kill(p, SIGKILL);
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && ::waitpid(pid_, nullptr, WNOHANG) == 0; i++) std::this_thread::sleep_for(50ms);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  // runc (the reference runtime) leaves empty <ns> cgroup directories in every hierarchy.
  std::error_code cec;
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", cec)) {
    fs::path d = h.path() / ns_;
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    for (const auto& sub : fs::directory_iterator(d, ec))
      if (sub.is_directory(ec)) ::rmdir(sub.path().c_str());
    ::rmdir(d.c_str());
  }
  if (!dir_.empty()) {
    // Snapshot mounts under our root must go before the directory can.
    std::istringstream mounts(read_text("/proc/self/mountinfo"));
    std::vector<std::string> ours;
    for (std::string line; std::getline(mounts, line);) {
      std::istringstream f(line);
      std::string a, b, c, d, mnt;
      f >> a >> b >> c >> d >> mnt;
      if (mnt.starts_with(dir_.string())) ours.push_back(mnt);
    }
    for (auto it = ours.rbegin(); it != ours.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string PrivateContainerd::log_tail(size_t max_bytes) const {
  std::string text = read_text(log());
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

std::string PrivateContainerd::shim_marker() const {
  // " -address <socket> ": every shim containerd starts gets it, whatever its namespace (the CRI
  // plugin's is always k8s.io); `containerd --address` (publish) has two dashes and never matches.
  return " -address " + socket().string() + " ";
}

std::vector<std::string> PrivateContainerd::ctr(const std::vector<std::string>& args) const {
  std::vector<std::string> v = {"ctr", "--address", socket().string(), "--namespace", ns_};
  v.insert(v.end(), args.begin(), args.end());
  return v;
}

namespace {
// 0 when the process is gone.
pid_t parent_of(pid_t pid) {
  auto head = probes::parse_proc_stat(read_text("/proc/" + std::to_string(pid) + "/stat"));
  return head && head->ppid ? pid_t(*head->ppid) : 0;
}
}  // namespace

std::vector<pid_t> PrivateContainerd::shim_processes(const std::string& binary_name) const {
  std::vector<pid_t> matching;
  for (pid_t p : processes_with(shim_marker())) {
    std::string cmd = read_text("/proc/" + std::to_string(p) + "/cmdline");
    if (cmd.find(binary_name) != std::string::npos) matching.push_back(p);
  }
  // A shim's child between posix_spawn and exec (the `containerd publish` of an event) still
  // shows the shim's command line; it is not a second shim.
  std::vector<pid_t> out;
  for (pid_t p : matching)
    if (std::find(matching.begin(), matching.end(), parent_of(p)) == matching.end()) out.push_back(p);
  return out;
}

std::map<std::string, std::string> PrivateContainerd::task_states() const {
  // TASK  PID  STATUS — one header line, then one line per task.
  std::map<std::string, std::string> states;
  auto r = run(ctr({"task", "ls"}));
  if (r.status != 0) return states;
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, pid, status;
    if (f >> id >> pid >> status) states[id] = status;
  }
  return states;
}

}  // namespace kata_sentry::test_support
