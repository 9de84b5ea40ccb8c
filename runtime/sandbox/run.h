// `kata-sentry run` as a library call: a fresh sandbox, one container in it, stdio streamed to
// this process, the exit status returned, and everything torn down before returning.
#pragma once

#include <atomic>
#include <filesystem>
#include <string>

#include "core/oci/oci_spec.h"
#include "core/result.h"
#include "runtime/sandbox/sandbox.h"

namespace kata_sentry::runtime {

// Watches the sandbox while the container runs (the joined-view monitor, monitor/).
// run_container() calls attach() once the VM is up, before the container is created, and
// detach() after the container exited (or the run failed), before teardown.
class SandboxObserver {
 public:
  virtual ~SandboxObserver() = default;
  // `container_id`: the one container that will run. Failing aborts the run (the sandbox is
  // torn down).
  virtual Status attach(Sandbox& sandbox, const std::string& container_id) = 0;
  // Delivers what is still in flight and stops watching; the sandbox is still up.
  virtual void detach(bool container_ran) noexcept = 0;
};

struct RunRequest {
  SandboxOptions sandbox;
  OciSpec spec;
  std::filesystem::path rootfs;  // empty: the guest image's busybox rootfs
  std::string container_id = "main";
  bool interactive = false;      // stream this process's stdin to the container
  bool verbose = false;          // print each phase's time on stderr
  int stdout_fd = 1;
  int stderr_fd = 2;
  int stdin_fd = 0;
  SandboxObserver* observer = nullptr;  // not owned; may be null
};

// Returns the container's shell-convention status (exit code, or 128 + signal). When `interrupt`
// becomes non-zero (a signal number, set by the caller's signal handling), the container is
// killed and the sandbox torn down; the result is then 128 + that signal. Fails naming the step
// (boot, agent, container) when the container could not run to completion; the sandbox is gone
// either way.
Result<int> run_container(const RunRequest& request, const std::atomic<int>& interrupt);

}  // namespace kata_sentry::runtime
