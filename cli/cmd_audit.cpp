// kata-sentry audit verify|show|tail DIR: reads an audit log (exporters/) without the daemon.
// verify exits 0 when the whole log checks out and 1 naming the first bad record.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/event_json.h"
#include "core/flags.h"
#include "exporters/log_reader.h"
#include "exporters/verify.h"

namespace kata_sentry::cli {
namespace {

using exporters::LogReader;
using exporters::Record;

// One JSON line per record: the log's own fields, then the record as it was written.
std::string record_line(const Record& r) {
  nlohmann::ordered_json j;
  j["seq"] = r.seq;
  j["id"] = exporters::uuid_text(r.id);
  j["kind"] = exporters::kind_name(r.kind);
  j["host_time"] = format_rfc3339_ns(r.host_time_ns);
  auto payload = nlohmann::ordered_json::parse(r.payload, nullptr, false);
  if (payload.is_discarded()) {
    j["payload_text"] = r.payload;
  } else {
    j["record"] = std::move(payload);
  }
  // dump() escapes control characters, so a hostile guest string cannot drive the terminal.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int verify(int argc, char** argv) {
  std::string key_path;
  bool json = false;
  FlagParser p("kata-sentry audit verify [flags] DIR",
               "Checks an audit log: segment headers, CRCs, sequence, the SHA-256 chain and every checkpoint's Ed25519 "
               "signature; names the first bad record (file, offset, sequence). Exit 0: verified; 1: a problem.");
  p.add_string("key", '\0', "FILE", "the node's public key (64 hex digits) from outside the node (default: DIR/node.pub)", &key_path);
  p.add_bool("json", '\0', "print the report as one JSON object", &json);
  auto rest = p.parse(argc, argv, 3);
  if (rest.size() != 1) throw UsageError{"expected one DIR (usage: kata-sentry audit verify [flags] DIR)"};
  std::optional<exporters::PublicKey> key;
  if (!key_path.empty()) {
    auto k = exporters::read_public_key(key_path);
    if (!k) {
      std::fprintf(stderr, "kata-sentry audit verify: %s\n", k.error().describe().c_str());
      return 2;
    }
    key = *k;
  }
  auto r = exporters::verify_log(rest[0], key);
  if (json) {
    nlohmann::ordered_json j;
    j["ok"] = !r.problem;
    if (r.problem) j["problem"] = {{"file", r.problem->file}, {"offset", r.problem->offset}, {"seq", r.problem->seq}, {"what", r.problem->what}};
    j["segments"] = r.segments;
    j["records"] = r.records;
    j["first_seq"] = r.first_seq;
    j["last_seq"] = r.last_seq;
    j["checkpoints"] = r.checkpoints;
    j["last_checkpoint_covers"] = r.last_checkpoint_covers;
    j["key"] = r.key;
    j["notes"] = r.notes;
    std::printf("%s\n", j.dump().c_str());
    return r.problem ? 1 : 0;
  }
  if (r.problem) {
    std::printf("FAILED: %s\n", exporters::describe(*r.problem).c_str());
    std::printf("verified before it: %llu record(s) in %llu segment(s), %llu valid checkpoint(s)\n",
                static_cast<unsigned long long>(r.records), static_cast<unsigned long long>(r.segments),
                static_cast<unsigned long long>(r.checkpoints));
    return 1;
  }
  std::printf("OK: %llu record(s), seq %llu..%llu, %llu segment(s), %llu signed checkpoint(s) valid (last covers seq %llu), key %s\n",
              static_cast<unsigned long long>(r.records), static_cast<unsigned long long>(r.first_seq),
              static_cast<unsigned long long>(r.last_seq), static_cast<unsigned long long>(r.segments),
              static_cast<unsigned long long>(r.checkpoints), static_cast<unsigned long long>(r.last_checkpoint_covers), r.key.c_str());
  for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
  return 0;
}

int show(int argc, char** argv, bool tail) {
  int64_t from = 1, count = 0, last_n = 10;
  bool follow = false;
  std::string kind;
  FlagParser p(tail ? "kata-sentry audit tail [flags] DIR" : "kata-sentry audit show [flags] DIR",
               tail ? "Prints the last records of an audit log as JSON lines, and with -f the new ones as they are written."
                    : "Prints an audit log's records as JSON lines: seq, id, kind, host receive time and the record.");
  if (tail) {
    p.add_int("lines", 'n', "N", "how many of the last records to print first (default 10)", &last_n);
    p.add_bool("follow", 'f', "keep printing records as they are written (Ctrl-C stops)", &follow);
  } else {
    p.add_int("from", '\0', "SEQ", "first sequence to print (default 1)", &from);
    p.add_int("count", '\0', "N", "print at most N records (default: all)", &count);
  }
  p.add_choice("kind", {"alert", "audit", "event", "checkpoint"}, "only records of this kind", &kind);
  auto rest = p.parse(argc, argv, 3);
  if (rest.size() != 1) throw UsageError{"expected one DIR"};
  LogReader reader(rest[0]);
  if (tail) {
    auto last = LogReader::last_seq(rest[0]);
    if (!last) {
      std::fprintf(stderr, "kata-sentry audit tail: %s\n", last.error().describe().c_str());
      return 1;
    }
    from = *last > static_cast<uint64_t>(std::max<int64_t>(last_n, 0)) ? static_cast<int64_t>(*last - last_n + 1) : 1;
  }
  reader.seek(static_cast<uint64_t>(std::max<int64_t>(from, 1)));
  int64_t printed = 0;
  for (;;) {
    auto rec = reader.next();
    if (!rec) {
      std::fprintf(stderr, "kata-sentry audit: %s\n", rec.error().describe().c_str());
      return 1;
    }
    if (!*rec) {
      if (!follow) break;
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (!kind.empty() && exporters::kind_name((*rec)->kind) != kind) continue;
    std::printf("%s\n", record_line(**rec).c_str());
    if (follow) std::fflush(stdout);
    if (count > 0 && ++printed >= count) break;
  }
  if (reader.skipped())
    std::fprintf(stderr, "kata-sentry audit: %llu record(s) before seq %llu were deleted by retention\n",
                 static_cast<unsigned long long>(reader.skipped()), static_cast<unsigned long long>(from + reader.skipped()));
  return 0;
}

}  // namespace

int cmd_audit(int argc, char** argv) {
  const std::string usage =
      "usage: kata-sentry audit verify|show|tail [flags] DIR\n"
      "  verify  check the hash chain and the signed checkpoints; name the first bad record\n"
      "  show    print records as JSON lines (--from SEQ, --count N, --kind K)\n"
      "  tail    print the last records (-n N), and follow new ones with -f\n";
  if (argc < 3) throw UsageError{"missing subcommand\n" + usage};
  std::string sub = argv[2];
  if (sub == "--help" || sub == "-h") {
    std::printf("%s", usage.c_str());
    return 0;
  }
  if (sub == "verify") return verify(argc, argv);
  if (sub == "show") return show(argc, argv, false);
  if (sub == "tail") return show(argc, argv, true);
  throw UsageError{"unknown subcommand '" + sub + "'\n" + usage};
}

}  // namespace kata_sentry::cli
