#include "core/capability_names.h"

#include <charconv>

namespace kata_sentry {

const std::vector<std::string_view>& all_capability_names() {
  // Indexed by capability number (linux/capability.h).
  static const std::vector<std::string_view> names = {
      "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
      "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
      "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE","CAP_NET_BIND_SERVICE","CAP_NET_BROADCAST",
      "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
      "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
      "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
      "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
      "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
      "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
      "CAP_CHECKPOINT_RESTORE",
  };
  return names;
}

std::optional<int> capability_from_name(std::string_view name) {
  const auto& names = all_capability_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return int(i);
  // The rendering of a bit beyond the table.
  if (name.starts_with("CAP_")) {
    int n = 0;
    auto digits = name.substr(4);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc() && end == digits.data() + digits.size() && n >= 0 && n < 64) return n;
  }
  return std::nullopt;
}

std::string capability_set_text(uint64_t bits) {
  const auto& names = all_capability_names();
  std::string out;
  for (int i = 0; i < 64; ++i) {
    if (!(bits & (uint64_t{1} << i))) continue;
    if (!out.empty()) out += ' ';
    if (size_t(i) < names.size()) out += names[size_t(i)];
    else out += "CAP_" + std::to_string(i);
  }
  return out;
}

std::optional<uint64_t> capability_set_from_text(std::string_view text) {
  uint64_t bits = 0;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ') ++j;
    if (j > i) {
      auto n = capability_from_name(text.substr(i, j - i));
      if (!n) return std::nullopt;
      bits |= uint64_t{1} << *n;
    }
    i = j;
  }
  return bits;
}

}  // namespace kata_sentry
