// OCI seccomp profile → classic BPF program, compiled with libseccomp in the agent process so
// the container child only has to hand it to seccomp(2) (no allocation after clone).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "core/oci/oci_spec.h"
#include "core/result.h"

namespace kata_sentry::agent {

// Fails with invalid_argument for an unknown architecture or a rule libseccomp refuses (the
// message names linux.seccomp.syscalls[i] and the syscall). Syscall names this libseccomp does
// not know are skipped, as runc does, so one profile serves several kernels.
Result<std::vector<sock_filter>> compile_seccomp(const OciSeccomp& profile);

}  // namespace kata_sentry::agent
