#include "exporters/syslog_format.h"

#include <ctime>

namespace kata_sentry::exporters {

int syslog_facility(std::string_view n) {
  static const std::pair<std::string_view, int> kNames[] = {{"kern", 0},    {"user", 1},    {"daemon", 3},  {"auth", 4},    {"authpriv", 10},
                                                            {"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19}, {"local4", 20},
                                                            {"local5", 21}, {"local6", 22}, {"local7", 23}};
  for (const auto& [name, v] : kNames)
    if (name == n) return v;
  return -1;
}

std::string syslog_header_field(std::string_view t, size_t max_len) {
  std::string out;
  for (char c : t.substr(0, max_len)) out.push_back(c >= 33 && c <= 126 ? c : '_');
  return out.empty() ? "-" : out;
}

std::string syslog_sd_value(std::string_view t) {
  std::string out;
  for (char c : t) {
    if (c == '"' || c == '\\' || c == ']') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string rfc5424(const ExportRecord& r, int facility, std::string_view hostname, std::string_view app_name, int pid,
                    std::string_view message) {
  int severity = record_rank(r);
  time_t secs = static_cast<time_t>(r.host_time_ns / 1'000'000'000ull);
  tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[80];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                utc.tm_min, utc.tm_sec, static_cast<unsigned>((r.host_time_ns % 1'000'000'000ull) / 1000));
  std::string out = "<" + std::to_string(facility * 8 + severity) + ">1 " + stamp + " " + syslog_header_field(hostname, 255) + " " +
                    syslog_header_field(app_name, 48) + " " + std::to_string(pid) + " " +
                    syslog_header_field(kind_name(r.kind), 32) + " [ks@32473 seq=\"" + std::to_string(r.seq) + "\" id=\"" +
                    syslog_sd_value(r.id) + "\"] ";
  out += message;
  return out;
}

std::string octet_counted(std::string_view m) { return std::to_string(m.size()) + " " + std::string(m); }

}  // namespace kata_sentry::exporters
