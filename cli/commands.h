// The `kata-sentry` subcommands. Each takes the full argv with argv[1] being the
// subcommand name, and returns the process exit status. They may throw UsageError
// (exit 2) or HelpShown (exit 0); main() handles both.
#pragma once

namespace kata_sentry::cli {

int cmd_trace(int argc, char** argv);   // host-probes: live host tracing
int cmd_check(int argc, char** argv);   // what this host offers
int cmd_rules(int argc, char** argv);   // rules validate | list | fields
int cmd_replay(int argc, char** argv);  // evaluate recorded events offline
int cmd_run(int argc, char** argv);     // one-shot sandboxed container
int cmd_audit(int argc, char** argv);   // audit verify | show | tail
int cmd_cri(int argc, char** argv);     // a pod through containerd's CRI plugin

}  // namespace kata_sentry::cli
