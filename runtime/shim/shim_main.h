// containerd-shim-kata-sentry-v2's command line, as containerd 1.6 drives it:
//   <shim> -namespace NS -address A -publish-binary B -id ID [-debug] start
//   <shim> -namespace NS -address A -publish-binary B -id ID -bundle DIR delete
// `start` runs in the bundle directory, prints the ttrpc address on stdout (containerd reads
// stdout *and* stderr as the address, so nothing else may be printed there) and exits after
// starting the detached server; `delete` cleans up after a dead shim and writes a
// DeleteResponse on stdout.
#pragma once

#include <string>

#include "core/result.h"

namespace kata_sentry::shim {

struct ShimOptions {
  std::string ns;
  std::string address;         // containerd's gRPC socket
  std::string publish_binary;  // containerd itself, run as `publish`
  std::string id;
  std::string bundle;          // given to delete; start runs with the bundle as cwd
  bool debug = false;
  int64_t socket_fd = -1;      // internal: the listening socket handed to `serve`
  std::string action;          // start | delete | serve
};

// Parses Go-style flags (-name value, -name=value, --name value). Throws cli::UsageError.
ShimOptions parse_shim_args(int argc, char** argv);

// The ttrpc address for a shim serving `group` (the pod's sandbox id, or the task id): a
// filesystem socket under /run/containerd/s/ named by a hash of containerd's address, the
// namespace and the group, so that private containerds never collide.
std::string shim_socket_address(const std::string& containerd_address, const std::string& ns, const std::string& group);

// The pod a container belongs to, from the CRI annotations in <bundle>/config.json: the
// sandbox id for a CRI "container", else the task's own id (a sandbox or a plain ctr run).
std::string grouping_id(const std::string& bundle, const std::string& id);

int run_start(const ShimOptions& o);
int run_delete(const ShimOptions& o);
int run_serve(const ShimOptions& o);

// Dispatches on the action; returns the process exit status.
int shim_main(int argc, char** argv);

}  // namespace kata_sentry::shim
