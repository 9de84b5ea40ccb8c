// How `kata-trace ps` and `kata-trace tree` print one sandbox's processes (Sentryd.ListProcesses):
// a table (or JSON), and an indented tree per view: host: shim → qemu, virtiofsd; guest: agent →
// each container's first process → its children. Every string goes through terminal_safe().
#pragma once

#include <string>

#include "sentryd.pb.h"
#include "tools/kata-trace/trace_format.h"

namespace kata_sentry::trace {

// table: VIEW PID PPID CONTAINER ROLE COMMAND LAST-ALERT (the container id cut to 12, the
// command to 60 characters); wide: the whole id, EXE and the whole command; json: an array of
// ProcessInfo objects.
std::string processes_table(const v1::ListProcessesResponse& resp, TableFormat format, bool headers);

// "host" and "guest" headings, one process a line under its parent; a process whose parent is
// not listed starts a tree of its own. Alerts are marked "! <rule> (<priority>)".
std::string processes_tree(const v1::ListProcessesResponse& resp, bool color);

// What is missing, for stderr ("" when nothing): the guest's error, truncation, refusals.
std::string processes_notes(const v1::ListProcessesResponse& resp);

}  // namespace kata_sentry::trace
