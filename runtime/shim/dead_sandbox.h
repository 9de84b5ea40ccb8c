// Cleaning up after a shim that died without tearing its pod VM down (SIGKILL, OOM kill):
// QEMU and virtiofsd die with the shim (PR_SET_PDEATHSIG), but the sandbox directory and its
// mounts stay. `delete` calls this once no live shim answers for the pod.
#pragma once

#include <filesystem>
#include <string>

#include "core/result.h"

namespace kata_sentry::shim {

// Kills any process still running from <root>/<sandbox_id>/ (a VMM whose parent-death signal
// was lost) or in the sandbox's host cgroup, removes that cgroup, detaches every mount under
// the directory, deepest first, and removes it. Missing is fine.
// Refuses an id that is not a plain name (no '/', not "." or ".."). Never throws.
Status cleanup_dead_sandbox(const std::filesystem::path& root, const std::string& sandbox_id);

}  // namespace kata_sentry::shim
