// Which event type each syscall program of the probe set builds, read off its section name
// ("tp/syscalls/sys_enter_openat" -> openat). It lets the probes attach only the programs some
// consumer wants: attaching is cheap, but every tracepoint detached later waits for RCU grace
// periods (~25 ms each on these hosts, one after another), which a one-shot `kata-sentry run`
// pays at exit for each program it attached.
#pragma once

#include <optional>
#include <string_view>

#include "core/event.h"

namespace kata_sentry::probes {

// The type a syscall's enter program builds (its exit is the one shared exit program, attached
// with it); nullopt for every other program (scheduler tracepoints, LSM hooks) and for the exec
// programs, which feed the process table and are always attached, as is any program missing
// from the table (never a lost event).
std::optional<EventType> syscall_program_type(std::string_view section);

}  // namespace kata_sentry::probes
