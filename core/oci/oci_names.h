// Name tables shared by the spec parser (validation) and the launcher (translation):
// capabilities, rlimits, namespace types. Pure lookups; none of these fail other than by
// returning std::nullopt for an unknown name.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/capability_names.h"  // capability_from_name, all_capability_names

namespace kata_sentry {

// "RLIMIT_NOFILE" → RLIMIT_NOFILE.
std::optional<int> rlimit_from_name(std::string_view name);

// "pid" → CLONE_NEWPID, "network" → CLONE_NEWNET, ...
std::optional<int> namespace_clone_flag(std::string_view type);

// True for the SCMP_ACT_* / SCMP_CMP_* names we translate.
bool is_seccomp_action(std::string_view name);
bool is_seccomp_operator(std::string_view name);

}  // namespace kata_sentry
