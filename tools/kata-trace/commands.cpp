#include "tools/kata-trace/commands.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <thread>

#include "tools/kata-trace/process_view.h"

namespace kata_sentry::trace {
namespace {

constexpr uint64_t kDefaultCount = 20;

int exit_code_for(const Error& e) { return e.code == ErrorCode::invalid_argument ? 2 : 1; }

// One line per problem, each prefixed, so a multi-error filter stays readable.
void print_error(FILE* err, const Error& e) {
  std::string text = e.describe();
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    std::fprintf(err, "kata-trace: %s\n", line.c_str());
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}

// Writes one line; false once stdout is gone (a closed pipe: `kata-trace events -f | head`).
bool emit(FILE* out, const std::string& line) {
  std::fputs(line.c_str(), out);
  std::fputc('\n', out);
  return std::fflush(out) == 0 && !std::ferror(out);
}

FollowOptions follow_options(const CommonOptions& common, const StreamOptions& options, FILE* err, const char* what) {
  FollowOptions f;
  f.reconnect = options.reconnect;
  f.stop = common.stop;
  // A positive marker on stderr: scripts and tests wait for it before they act.
  f.on_subscribed = [err, what, socket = common.socket] {
    std::fprintf(err, "kata-trace: following %s from %s\n", what, socket.c_str());
    std::fflush(err);
  };
  f.on_lost = [err](const std::string& why) {
    std::fprintf(err, "kata-trace: %s; reconnecting\n", why.c_str());
    std::fflush(err);
  };
  return f;
}

uint64_t limit_of(const StreamOptions& o) { return o.count ? o.count : (o.follow ? 0 : kDefaultCount); }

// Lists the sandbox's processes and prints them with `render`; the notes go to stderr.
int run_processes(const CommonOptions& common, const ProcessesOptions& options, FILE* out, FILE* err,
                  const std::function<std::string(const v1::ListProcessesResponse&)>& render) {
  TraceClient client(common.socket);
  auto resp = client.processes(options.sandbox_id);
  if (!resp) {
    print_error(err, resp.error());
    return exit_code_for(resp.error());
  }
  std::fputs(render(*resp).c_str(), out);
  std::string notes = processes_notes(*resp);
  for (size_t start = 0; start < notes.size();) {
    size_t nl = notes.find('\n', start);
    std::fprintf(err, "kata-trace: %s\n", notes.substr(start, nl - start).c_str());
    start = nl + 1;
  }
  return 0;
}

}  // namespace

int run_sandboxes(const CommonOptions& common, const SandboxesOptions& options, FILE* out, FILE* err) {
  TraceClient client(common.socket);
  auto first = client.list();
  if (!first) {
    print_error(err, first.error());
    return 1;
  }
  v1::ListSandboxesResponse resp = *first;
  std::vector<double> rates(resp.sandboxes_size(), -1);
  // Events per second: the difference of two listings, so the number is now, not a lifetime average.
  if (options.rate_window_s > 0 && resp.sandboxes_size() > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(options.rate_window_s));
    auto second = client.list();
    if (!second) {
      print_error(err, second.error());
      return 1;
    }
    std::map<std::string, uint64_t> before;
    for (const auto& s : first->sandboxes()) before[s.info().sandbox_id()] = s.guest_events() + s.host_records();
    double dt = double(second->now_ns() - first->now_ns()) / 1e9;
    rates.assign(second->sandboxes_size(), -1);
    for (int i = 0; i < second->sandboxes_size(); ++i) {
      const auto& s = second->sandboxes(i);
      auto it = before.find(s.info().sandbox_id());
      if (it != before.end() && dt > 0) rates[i] = double(s.guest_events() + s.host_records() - it->second) / dt;
    }
    resp = std::move(*second);
  }
  std::vector<SandboxRow> rows;
  for (int i = 0; i < resp.sandboxes_size(); ++i) rows.push_back({&resp.sandboxes(i), rates[i], 0});
  std::fputs(sandboxes_table(rows, resp, options.format, options.headers).c_str(), out);
  return 0;
}

int run_ps(const CommonOptions& common, const ProcessesOptions& options, FILE* out, FILE* err) {
  return run_processes(common, options, out, err, [&](const v1::ListProcessesResponse& r) {
    return processes_table(r, options.format, options.headers);
  });
}

int run_tree(const CommonOptions& common, const ProcessesOptions& options, FILE* out, FILE* err) {
  return run_processes(common, options, out, err,
                       [&](const v1::ListProcessesResponse& r) { return processes_tree(r, common.color); });
}

int run_events(const CommonOptions& common, const StreamOptions& options, FILE* out, FILE* err) {
  TraceClient client(common.socket);
  const uint64_t limit = limit_of(options);
  uint64_t shown = 0, undecodable = 0;
  auto sum = client.follow_events(
      options.request, follow_options(common, options, err, "events"),
      [&](const Event& e) {
        if (!emit(out, event_line(e, options.format, common.color))) return false;
        ++shown;
        return !(limit && shown >= limit);
      },
      [&](const Error&) {
        ++undecodable;
        return true;
      });
  if (!sum) {
    print_error(err, sum.error());
    return exit_code_for(sum.error());
  }
  std::fprintf(err, "kata-trace: %llu event(s) shown; %llu dropped by kata-sentryd for this client (its queue was full)%s\n",
               (unsigned long long)shown, (unsigned long long)sum->dropped,
               undecodable ? (", " + std::to_string(undecodable) + " not decodable").c_str() : "");
  return 0;
}

int run_alerts(const CommonOptions& common, const StreamOptions& options, FILE* out, FILE* err) {
  TraceClient client(common.socket);
  const uint64_t limit = limit_of(options);
  uint64_t shown = 0;
  auto sum = client.follow_alerts(options.request, follow_options(common, options, err, "alerts"), [&](const AlertItem& a) {
    if (!emit(out, alert_line(a, options.format, common.color))) return false;
    ++shown;
    return !(limit && shown >= limit);
  });
  if (!sum) {
    print_error(err, sum.error());
    return exit_code_for(sum.error());
  }
  std::fprintf(err, "kata-trace: %llu alert(s) shown; %llu dropped by kata-sentryd for this client (its queue was full)\n",
               (unsigned long long)shown, (unsigned long long)sum->dropped);
  return 0;
}

}  // namespace kata_sentry::trace
