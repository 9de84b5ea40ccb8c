// kata-sentry: thin dispatcher over the subcommands in commands.h.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

#include "cli/commands.h"
#include "core/flags.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"run", kata_sentry::cli::cmd_run, "boot a sandbox VM, run one container in it, and tear it all down"},
    {"trace", kata_sentry::cli::cmd_trace, "print live host events (exec, files, network, ...) from eBPF probes"},
    {"check", kata_sentry::cli::cmd_check, "report what this host offers: BPF program types, LSM, KVM, vsock, cgroup v2"},
    {"rules", kata_sentry::cli::cmd_rules, "validate, list and describe rules files (Falco's format)"},
    {"replay", kata_sentry::cli::cmd_replay, "evaluate rules on recorded events (JSON lines) and print alerts"},
    {"audit", kata_sentry::cli::cmd_audit, "verify, show or tail an audit log (hash chain, signed checkpoints)"},
    {"cri", kata_sentry::cli::cmd_cri, "start and inspect pods through containerd's CRI plugin, as kubelet does"},
};

void print_usage(FILE* out) {
  std::fprintf(out,
               "Usage: kata-sentry COMMAND [flags]\n\n"
               "kata-sentry runs containers inside lightweight VMs and watches them from both sides of\n"
               "the hypervisor with eBPF.\n\nCommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-8s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'kata-sentry COMMAND --help' for a command's flags.\n"
                    "First steps: 'kata-sentry check', then 'kata-sentry run -- echo hello'.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(argc, argv);
    } catch (const kata_sentry::cli::UsageError& e) {
      std::fprintf(stderr, "kata-sentry %s: %s\n", c.name, e.message.c_str());
      return 2;
    } catch (const kata_sentry::cli::HelpShown&) {
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kata-sentry %s: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "kata-sentry: unknown command \"%s\" (see kata-sentry --help)\n", argv[1]);
  return 2;
}
