// Checks on host-supplied names before they reach the filesystem or a cgroup path. The host is
// the agent's only client, but a confused or compromised shim must not make the agent touch
// files outside the sandbox's share.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/result.h"

namespace kata_sentry::agent {

// [A-Za-z0-9_.-]{1,64}, and not "." or "..". `what` names the field in the error
// ("container_id \"a/b\": must match [A-Za-z0-9_.-]{1,64}").
Status check_id(std::string_view what, std::string_view id);

// Like check_id, but empty is allowed (it addresses a container's init process).
Status check_exec_id(std::string_view id);

// <base>/<relative>, where relative has no "..", is not absolute and is non-empty.
Result<std::filesystem::path> confined_path(const std::filesystem::path& base,
                                            std::string_view relative, std::string_view what);

// An absolute path without ".." components.
Status check_absolute_path(std::string_view what, std::string_view path);

// 1..64.
Status check_signal(int sig);

}  // namespace kata_sentry::agent
