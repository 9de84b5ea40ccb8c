// Test support for the e2e tier: a containerd of the test's own (recipe R7b in MACHINE.md), a
// command runner with a deadline, and helpers to find and wait for processes. Shared by every
// e2e test file that drives containerd (shim_e2e_test, sentryd_e2e_test, …).
//
// Everything here is for tests: failures are reported as values (CmdResult.status, Status) and
// never throw; cleanup happens in destructors so a failed assertion leaks nothing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace kata_sentry::test_support {

struct CmdResult {
  int status = -1;  // exit code; -1 when killed (deadline) or not started
  std::string out;  // stdout (and stderr when merged)
};

// Runs `args` (argv[0] looked up on PATH) with stdin on /dev/null, like Go's
// exec.Cmd.CombinedOutput when merge_stderr is set (else stderr is discarded). On the deadline the
// command is SIGKILLed and status is -1. `cwd` empty means the caller's.
CmdResult run(const std::vector<std::string>& args, const std::string& cwd = "", bool merge_stderr = true,
              std::chrono::seconds timeout = std::chrono::seconds(60));

// The whole file, or "" when it cannot be read (a process that has gone, a missing log).
std::string read_text(const std::filesystem::path& p);

// Pids of processes (other than ours) whose command line, NULs read as spaces, contains `needle`.
std::vector<pid_t> processes_with(const std::string& needle);

// True once `pid` no longer exists or is a zombie (shims are re-parented, so we cannot reap them).
bool wait_gone(pid_t pid, std::chrono::milliseconds timeout);

// `dir` followed by this process's PATH: what to hand containerd so that it finds
// containerd-shim-kata-sentry-v2 in build/bin before anything installed.
std::string path_with(const std::filesystem::path& dir);

// A fresh directory under /tmp (`<prefix>XXXXXX`), removed with everything in it on destruction;
// for files a test hands to containerd or a daemon before they start (e.g. shim.yaml). path() is
// empty when mkdtemp failed.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "ks-test-");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to path()/name (creating parent directories) and returns the file's path.
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

// A child process started in its own session with stdout+stderr into a log file; SIGTERM, then
// SIGKILL, when it is stopped or destroyed. Not copyable or movable: it owns the pid.
class Background {
 public:
  Background() = default;
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background() { stop(); }

  // `env` entries are set (or override) on top of this process's environment.
  Status start(const std::vector<std::string>& args, const std::filesystem::path& log,
               const std::map<std::string, std::string>& env = {});
  // Waits until the log contains `text`; false on the deadline or when the child has exited.
  bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const;
  // SIGTERM, SIGKILL after `grace`; returns the exit status (-1 for a signal or no child).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  bool running() const;
  pid_t pid() const { return pid_; }
  const std::filesystem::path& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

struct PrivateContainerdOptions {
  // Set (or override) in containerd's environment, which containerd passes on to the shims it
  // starts, e.g. {"PATH", path_with(build/bin)} and {"KATA_SENTRY_SHIM_CONFIG", file}.
  std::map<std::string, std::string> env;
  // Names the containerd namespace: "<prefix>-<pid>-<random>"; unique per instance.
  std::string namespace_prefix = "ks-shim";
  // Load the CRI plugin (off by default: it needs CNI to run pods and logs errors without it).
  bool cri = false;
  // TOML appended to the generated config (after [grpc]), e.g. a CRI runtime handler table.
  std::string extra_config;
  // OCI image tarballs imported (`ctr images import`) once containerd serves.
  std::vector<std::string> import_images;
};

// A containerd of our own: its own root, state, socket and namespace under a fresh /tmp
// directory, CRI disabled unless asked for. The destructor stops its shims (SIGTERM
// so a shim can take its VM down, then SIGKILL), stops containerd, removes the cgroup directories runc leaves,
// unmounts snapshots and deletes the directory, even when the test failed.
class PrivateContainerd {
 public:
  PrivateContainerd() = default;
  PrivateContainerd(const PrivateContainerd&) = delete;
  PrivateContainerd& operator=(const PrivateContainerd&) = delete;
  ~PrivateContainerd();

  // Fails when containerd does not create its socket within 10 s (the error carries its log),
  // or when an image does not import (the error carries ctr's output).
  Status start(const PrivateContainerdOptions& options = {});

  std::filesystem::path socket() const { return dir_ / "c.sock"; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::string& ns() const { return ns_; }
  std::filesystem::path log() const { return dir_ / "containerd.log"; }
  // The last `max_bytes` of containerd's log, for failure messages.
  std::string log_tail(size_t max_bytes = 4000) const;

  // argv of `ctr` talking to this containerd in its namespace, followed by `args`.
  std::vector<std::string> ctr(const std::vector<std::string>& args) const;
  // Shim processes of this containerd, in any namespace (CRI pods live in k8s.io), not the
  // short-lived `containerd publish` runs, found by their command line.
  std::vector<pid_t> shim_processes(const std::string& binary_name = "containerd-shim-kata-sentry-v2") const;
  // `ctr task ls` as task id -> STATUS (RUNNING, STOPPED, CREATED, …); empty when ctr failed.
  std::map<std::string, std::string> task_states() const;

 private:
  Status import_images(const std::vector<std::string>& tarballs) const;
  std::string shim_marker() const;

  std::filesystem::path dir_;
  std::string ns_;
  pid_t pid_ = -1;
};

}  // namespace kata_sentry::test_support
