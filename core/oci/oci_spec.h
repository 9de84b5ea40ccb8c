// The OCI runtime spec (config.json) as typed C++: the subset the agent's container launcher
// honours. Parsing is strict: a field of the wrong type, an unknown capability, namespace,
// rlimit, seccomp action or operator is an error naming its JSON path. Unknown *keys* are
// ignored (the spec allows extensions, annotations, hooks we do not run).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

// GNU dialects (-std=gnu++) predefine `linux` as 1; the project builds with extensions off,
// and the spec's own key name is worth keeping.
#ifdef linux
#undef linux
#endif

namespace kata_sentry {

struct OciUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::optional<uint32_t> umask;  // absent: 0022, like runc
};

// Capability names as in the spec ("CAP_CHOWN"), validated at parse time.
struct OciCapabilities {
  std::vector<std::string> bounding, effective, permitted, inheritable, ambient;
};

struct OciRlimit {
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t hard = 0;
  uint64_t soft = 0;
};

struct OciProcess {
  bool terminal = false;  // parsed; a pty is not supported yet: create_container fails if true
  std::vector<std::string> args;
  std::vector<std::string> env;  // "KEY=VALUE"
  std::string cwd = "/";
  OciUser user;
  std::optional<OciCapabilities> capabilities;  // absent: the launcher drops every capability
  std::vector<OciRlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;  // -1000..1000
};

struct OciRoot {
  std::string path = "rootfs";  // relative paths resolve against LaunchOptions::bundle_dir
  bool readonly = false;
};

struct OciMount {
  std::string destination;  // absolute path inside the container
  std::string type;         // "proc", "tmpfs", "bind", ... ("" with a bind option = bind)
  std::string source;
  std::vector<std::string> options;
};

struct OciNamespace {
  std::string type;  // pid, network, mount, ipc, uts, user, cgroup
  std::string path;  // empty: a new namespace; else join the one at this path
};

struct OciIdMapping {
  uint32_t container_id = 0, host_id = 0, size = 0;
};

// linux.resources.devices: like writes to cgroup v1 devices.allow/deny, applied in order.
struct OciDeviceRule {
  bool allow = false;
  std::string type = "a";           // "a" (all), "c", "b"
  std::optional<int64_t> major;     // absent or -1: any
  std::optional<int64_t> minor;
  std::string access = "rwm";       // subset of "rwm"
};

struct OciResources {
  std::optional<int64_t> memory_limit;  // bytes; -1 = unlimited
  std::optional<int64_t> pids_limit;    // -1 or 0 = unlimited
  std::optional<uint64_t> cpu_shares;   // cgroup v1 shares, converted to cpu.weight
  std::optional<int64_t> cpu_quota;     // usec per period; -1 = unlimited
  std::optional<uint64_t> cpu_period;   // usec
  // Enforced with a cgroup BPF device program. Empty: no program, every device usable.
  std::vector<OciDeviceRule> devices;
};

struct OciSeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_GT, SCMP_CMP_GE, SCMP_CMP_MASKED_EQ
};

struct OciSeccompSyscall {
  std::vector<std::string> names;
  std::string action;                // SCMP_ACT_*
  std::optional<uint32_t> errno_ret; // for SCMP_ACT_ERRNO / SCMP_ACT_TRACE; default EPERM
  std::vector<OciSeccompArg> args;
};

struct OciSeccomp {
  std::string default_action = "SCMP_ACT_ALLOW";
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_X86_64, ...
  std::vector<OciSeccompSyscall> syscalls;
};

struct OciLinux {
  std::vector<OciNamespace> namespaces;
  std::vector<OciIdMapping> uid_mappings, gid_mappings;  // with a user namespace
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  OciResources resources;
  std::optional<OciSeccomp> seccomp;
  std::string cgroups_path;  // parsed and kept; placement is decided by LaunchOptions
  std::map<std::string, std::string> sysctl;
};

struct OciSpec {
  std::string oci_version = "1.0.2";
  OciProcess process;
  OciRoot root;
  std::string hostname;
  std::vector<OciMount> mounts;
  OciLinux linux;
};

// Parses config.json text. Fails with ErrorCode::invalid_argument; the message starts with
// source_name and lists *every* problem found, each naming its JSON path, e.g.
// "config.json: process.args: must be a non-empty array; linux.namespaces[2].type: unknown
// namespace \"foo\"". Never throws.
Result<OciSpec> parse_oci_spec(std::string_view json_text, std::string_view source_name);

// Reads and parses a file. Fails with not_found / io (read) or invalid_argument (content).
Result<OciSpec> load_oci_spec(const std::filesystem::path& config_json);

// A default spec for `kata-sentry run`: root "rootfs" (writable), the given args, PATH/TERM env,
// cwd "/", hostname "kata-sentry", the standard mounts (proc; /dev tmpfs, devpts, shm, mqueue;
// sysfs ro), new pid/mount/uts/ipc/network/cgroup namespaces, RLIMIT_NOFILE 1024,
// noNewPrivileges.
// privileged=false: containerd's default capability set, runc's masked and readonly paths and
// device rules (only null, zero, full, random, urandom, tty, console, ptmx, pts, tun may be
// opened), and a deny-list seccomp profile (kernel modules, kexec, bpf, perf, mount, ptrace,
// keyring, ... → EPERM).
// privileged=true: every capability and device, no masked/readonly paths, no seccomp, sysfs rw.
OciSpec default_oci_spec(std::vector<std::string> args, bool privileged);

// Serialises to config.json text that parse_oci_spec() reads back to an equal spec. Never fails.
std::string oci_spec_to_json(const OciSpec& spec);

}  // namespace kata_sentry
