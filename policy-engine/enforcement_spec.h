// What a `deny` rule compiles to: a plain description of the operations to refuse, that
// the in-kernel enforcement programs (guest LSM, host cgroup programs) can decide on at
// the moment of the syscall. Another component turns it into BPF map entries. Every
// list is an OR of its entries; the lists are ANDed; an empty list means "any".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/event.h"
#include "core/result.h"

namespace kata_sentry::policy {

struct Ast;

// One argument of the hook's record compared as a number: equal, or any of the bits set.
struct ArgTest {
  std::string name;      // evt.arg.NAME / evt.rawarg.NAME, looked up in the hook's record
  uint64_t value = 0;
  bool any_bit = false;  // true: (arg & value) != 0 (contains FLAG); false: arg == value

  bool operator==(const ArgTest&) const = default;
};

struct EnforcementSpec {
  std::string rule;
  std::vector<EventType> event_types;     // never empty
  std::vector<std::string> exact_paths;   // fd.name = / in
  std::vector<std::string> path_prefixes; // fd.name startswith / pmatch, fd.directory =
  std::vector<std::string> binaries;      // proc.exepath / proc.exe = / in
  std::vector<std::string> comms;         // proc.name = / in
  std::optional<uint32_t> uid;            // user.uid =
  bool any_container = false;             // container.id != host
  std::vector<std::string> container_ids; // container.id = / in
  std::vector<uint64_t> cgroup_ids;       // proc.cgroup_id = / in
  std::vector<std::string> sandbox_ids;   // sandbox.id = / in
  std::optional<View> view;               // view = guest|host
  // Network destination (connect/sendto): only host cgroup programs can match these.
  std::vector<uint16_t> socket_families;  // fd.typechar / fd.type / fd.sockfamily: AF_INET, AF_INET6
  std::vector<uint16_t> ports;            // fd.sport / fd.rport = / in (the destination's)
  std::vector<std::string> ip_nets;       // fd.sip / fd.rip (address), fd.snet / fd.rnet (CIDR)
  // Guest LSM only:
  std::vector<std::string> exe_prefixes;  // proc.exepath startswith (exec: the file being run)
  std::vector<std::string> fstypes;       // mount: evt.arg.type = / in
  // mount: the paths are the source (evt.arg.dev) or the target (evt.arg.dir) only; fd.name
  // on a mount matches either.
  char mount_side = 0;                    // 0 either, 's' source, 't' target
  std::optional<ArgTest> arg;             // evt.arg.NAME contains FLAG / = VALUE, evt.is_open_write = true
  std::optional<int32_t> syscall;         // evt.syscall_nr =
  std::optional<uint32_t> rdev_major;     // fd.rdev.major = (the object is that device, whatever its name)
  std::vector<uint32_t> rdev_minors;      // fd.rdev.minor = / in
  char device_kind = 0;                   // 'c' fd.is_char_device = true, 'b' fd.is_block_device = true
  bool unlinked = false;                  // proc.is_exe_deleted = true: the file has no link left
  std::optional<uint32_t> fs_magic;       // fd.fs_type = NAME (the file system holding the object)
  // `and not (...)`: operations this spec leaves alone (a rule's opt-out list, Falco
  // exceptions). Each is a spec without event types; the guest LSM checks them first.
  std::vector<EnforcementSpec> exceptions;

  // Whether anything only the guest LSM can check is set.
  bool has_guest_only_parts() const;
  nlohmann::json to_json() const;
};

// What a deny rule's condition compiles to: one spec per alternative of its top-level 'or'
// (a rule refuses an operation when any alternative matches). Fails with a message that
// quotes the part of the condition that has no in-kernel equivalent ("'proc.pname = nginx'
// cannot be enforced in-kernel: ...").
Result<std::vector<EnforcementSpec>> build_enforcement_specs(const std::string& rule, const Ast& condition);

// fd.fs_type's names and the file system magic numbers they stand for.
std::optional<uint32_t> fs_magic_of(std::string_view fs_type);
std::string_view fs_type_of(uint32_t magic);  // "" when not in the table

}  // namespace kata_sentry::policy
