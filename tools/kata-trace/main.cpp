// kata-trace: live inspection of the sandboxes kata-sentryd watches. Parses flags (CLI11) and
// calls commands.h; bad flags exit 2 with one line.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "core/event.h"
#include "tools/kata-trace/commands.h"

namespace kata_sentry::trace {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

constexpr const char* kDefaultSocket = "/run/kata-sentry/sentryd.sock";

constexpr const char* kMainFooter = R"(
kata-trace talks to kata-sentryd's root-only API socket (run it as root). The daemon filters
server-side; each client has a bounded queue there, so a slow kata-trace never slows
detection: what it misses is counted and reported to it.

Examples:
  kata-trace sandboxes
  kata-trace events -f --filter 'proc.name = cat'
  kata-trace events -f --sandbox web-7f9c --view guest --type execve,openat
  kata-trace alerts -f --priority warning
  kata-trace tree web-7f9c
  kata-trace events -f -o json | jq 'select(."evt.type" == "connect")')";

constexpr const char* kSandboxesFooter = R"(
Columns: SENSOR is the guest sensor (lsm: tracing and enforcing in-kernel; tracing: no BPF
LSM; starting: no heartbeat yet; detached: no relay), HEARTBEAT its last heartbeat's age,
EVENTS/S measured over one second, DROPS(H/G) events lost on the host side / the guest side.
-o wide adds per-reason drop counters and the stream subscribers with their own drop counts.

Examples:
  kata-trace sandboxes
  kata-trace sandboxes -o wide
  kata-trace sandboxes -o json --no-rate | jq '.[].info.sandbox_id')";

constexpr const char* kEventsFooter = R"(
The filter is Falco's condition language (the fields and operators rules use; no macros),
compiled by kata-sentryd's policy engine; a bad filter is refused with its position
(filter:1:COL) and exit status 2. -o json prints the lines `kata-sentry trace --format json`
prints. Without -f, kata-trace stops after --count events (default 20).

Examples:
  kata-trace events -f --filter 'proc.name = cat'
  kata-trace events -f --pod web -n shop --type execve
  kata-trace events -f --view host --filter 'evt.type = connect and fd.sport != 0'
  kata-trace events -f --filter 'fd.name startswith /etc/' -o wide
  kata-trace events -f --reconnect -o json >> events.jsonl)";

constexpr const char* kAlertsFooter = R"(
The same alerts and audit records the sinks receive, live. --priority keeps that priority and
the more severe ones (audit records always pass); --rule may be given several times.

Examples:
  kata-trace alerts -f
  kata-trace alerts -f --priority critical --sandbox web-7f9c
  kata-trace alerts -f --rule 'Guest kernel module load' -o json)";

constexpr const char* kPsFooter = R"(
One sandbox's processes on both sides of the VM boundary: on the host the shim, the VMM
(QEMU) and its helpers (virtiofsd), read by kata-sentryd from /proc; in the guest the agent
and every container's processes, from the guest sensor's process table. PIDs are each view's
own. LAST-ALERT is the last rule the process raised. If the guest cannot answer, the host
part is printed and the reason goes to stderr.

Examples:
  kata-trace ps web-7f9c
  kata-trace ps web-7f9c -o wide
  kata-trace ps web-7f9c -o json | jq '.[] | select(.view == "VIEW_GUEST") | .pid')";

constexpr const char* kTreeFooter = R"footer(
The processes of `kata-trace ps` as a tree per view: host: shim -> qemu, virtiofsd;
guest: agent -> each container's first process (init) -> its children. A process's last
alert is marked with "!".

Examples:
  kata-trace tree web-7f9c
  kata-trace tree "$(kata-trace sandboxes --no-headers --no-rate | awk 'NR==1 {print $1}')")footer";

// Lower-case names are accepted for priorities, as Falco's -o priority= does.
std::string priority_flag(std::string p) {
  if (!p.empty()) p[0] = char(std::toupper(static_cast<unsigned char>(p[0])));
  return p;
}

void add_stream_flags(CLI::App& sub, StreamOptions& o, std::string& view) {
  sub.add_flag("-f,--follow", o.follow, "keep streaming until interrupted");
  sub.add_option("--sandbox", o.request.sandbox_id, "only this sandbox (id as `sandboxes` lists it)");
  sub.add_option("--container", o.request.container_id, "only this container (containerd's id)");
  sub.add_option("--pod", o.request.pod_name, "only the sandbox of this pod (k8s.pod.name)");
  sub.add_option("-n,--namespace", o.request.pod_namespace, "only pods of this namespace (k8s.ns.name)");
  sub.add_option("--view", view, "host or guest (default: both)")->check(CLI::IsMember({"host", "guest"}));
  sub.add_option("--count", o.count, "stop after this many (default: 20 without -f, no limit with -f)");
  sub.add_flag("--reconnect", o.reconnect, "keep the stream across a kata-sentryd restart");
}

}  // namespace

int main_impl(int argc, char** argv) {
  CLI::App app{"kata-trace: live view of the sandboxes kata-sentryd watches (events, alerts, health).", "kata-trace"};
  app.footer(kMainFooter);
  app.require_subcommand(1);
  app.fallthrough();  // --socket and --color also after the subcommand
  std::string socket = std::getenv("KATA_SENTRYD_SOCKET") ? std::getenv("KATA_SENTRYD_SOCKET") : kDefaultSocket;
  std::string color = "auto";
  app.add_option("--socket", socket, "kata-sentryd's API socket (env KATA_SENTRYD_SOCKET)")->capture_default_str();
  app.add_option("--color", color, "auto: only on a terminal")->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();

  SandboxesOptions sb;
  std::string sb_format = "table";
  bool no_headers = false, no_rate = false;
  auto* sandboxes = app.add_subcommand("sandboxes", "list the sandboxes: pod, mode, guest sensor health, rates, drops, alerts");
  sandboxes->footer(kSandboxesFooter);
  sandboxes->add_option("-o,--output", sb_format, "table, wide or json")->check(CLI::IsMember({"table", "wide", "json"}));
  sandboxes->add_flag("--no-headers", no_headers, "omit the header line");
  sandboxes->add_flag("--no-rate", no_rate, "do not measure EVENTS/S (answers at once instead of after one second)");

  ProcessesOptions ps_opts;
  std::string ps_format = "table";
  bool ps_no_headers = false;
  auto* ps = app.add_subcommand("ps", "list one sandbox's processes, host (shim, qemu, virtiofsd) and guest (per container)");
  ps->footer(kPsFooter);
  ps->add_option("SANDBOX", ps_opts.sandbox_id, "the sandbox id (as `sandboxes` lists it)")->required();
  ps->add_option("-o,--output", ps_format, "table, wide or json")->check(CLI::IsMember({"table", "wide", "json"}));
  ps->add_flag("--no-headers", ps_no_headers, "omit the header line");

  ProcessesOptions tree_opts;
  auto* tree = app.add_subcommand("tree", "one sandbox's processes as a tree: host shim -> qemu, guest agent -> containers");
  tree->footer(kTreeFooter);
  tree->add_option("SANDBOX", tree_opts.sandbox_id, "the sandbox id (as `sandboxes` lists it)")->required();

  StreamOptions ev;
  std::string ev_format = "compact", ev_view, types;
  auto* events = app.add_subcommand("events", "stream events as the policy engine sees them, filtered in the daemon");
  events->footer(kEventsFooter);
  add_stream_flags(*events, ev, ev_view);
  events->add_option("--type", ev.request.event_types, "only these evt.type values (comma-separated)")->delimiter(',');
  events->add_option("--filter", ev.request.condition, "a Falco condition, e.g. 'proc.name = cat and fd.name startswith /etc'");
  events->add_option("-o,--output", ev_format, "compact, wide or json")->check(CLI::IsMember({"compact", "wide", "json"}));

  StreamOptions al;
  std::string al_format = "compact", al_view, priority;
  auto* alerts = app.add_subcommand("alerts", "stream alerts and audit records as the sinks receive them");
  alerts->footer(kAlertsFooter);
  add_stream_flags(*alerts, al, al_view);
  alerts->add_option("--priority", priority, "this priority and the more severe ones (e.g. warning)");
  alerts->add_option("--rule", al.request.rules, "only this rule (repeatable)");
  alerts->add_option("-o,--output", al_format, "compact or json")->check(CLI::IsMember({"compact", "json"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (what.empty()) what = e.get_name();
    std::fprintf(stderr, "kata-trace: %s (see kata-trace --help)\n", what.c_str());
    return 2;
  }

  CommonOptions common;
  common.socket = socket;
  common.color = color == "always" || (color == "auto" && ::isatty(STDOUT_FILENO));
  common.stop = &g_stop;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto line_format = [](const std::string& f) {
    return f == "json" ? LineFormat::json : f == "wide" ? LineFormat::wide : LineFormat::compact;
  };
  auto client_name = [](const char* what) { return std::string("kata-trace ") + what + " (pid " + std::to_string(::getpid()) + ")"; };

  if (*sandboxes) {
    sb.format = sb_format == "json" ? TableFormat::json : sb_format == "wide" ? TableFormat::wide : TableFormat::table;
    sb.headers = !no_headers;
    if (no_rate) sb.rate_window_s = 0;
    return run_sandboxes(common, sb, stdout, stderr);
  }
  if (*ps) {
    ps_opts.format = ps_format == "json" ? TableFormat::json : ps_format == "wide" ? TableFormat::wide : TableFormat::table;
    ps_opts.headers = !ps_no_headers;
    return run_ps(common, ps_opts, stdout, stderr);
  }
  if (*tree) return run_tree(common, tree_opts, stdout, stderr);
  if (*events) {
    for (const auto& t : ev.request.event_types)
      if (!event_type_from_name(t)) {
        std::fprintf(stderr, "kata-trace: --type: unknown event type '%s' (see kata-sentry rules --fields)\n", t.c_str());
        return 2;
      }
    if (!ev_view.empty()) ev.request.view = *view_from_name(ev_view);
    ev.format = line_format(ev_format);
    ev.request.client = client_name("events");
    return run_events(common, ev, stdout, stderr);
  }
  if (!al_view.empty()) al.request.view = *view_from_name(al_view);
  al.format = line_format(al_format);
  al.request.min_priority = priority_flag(priority);
  al.request.client = client_name("alerts");
  return run_alerts(common, al, stdout, stderr);
}

}  // namespace kata_sentry::trace

int main(int argc, char** argv) { return kata_sentry::trace::main_impl(argc, argv); }
