// The field catalogue: every field a condition or an output may name, resolved once at
// load time to a typed accessor. Nothing is looked up by name while evaluating.
//
// Values the probe record does not carry (a container's image, a process's tty, its
// capabilities...) come from `Enrichment`, which the runtime fills from what it knows
// (OCI spec, process table). A field with no value is *absent*: every comparison on it is
// false, so `not (field = x)` is true — exactly Falco's behaviour for a field it cannot
// extract. The catalogue says, per field, what happens when it is absent.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/result.h"

namespace kata_sentry::policy {

// One mount of a container, as its runtime spec gave it (container.mount* fields).
struct ContainerMount {
  std::string source;
  std::string dest;
  std::string mode;         // SELinux relabel option (z/Z) when given
  bool rw = true;
  std::string propagation;  // rprivate, shared, ... ("" when the spec names none)

  bool operator==(const ContainerMount&) const = default;
};

// What the runtime knows about the process or container beyond the probe record.
// Every member is optional: unset means absent for the fields it feeds.
struct Enrichment {
  std::optional<std::string> image_repository;  // container.image.repository
  std::optional<std::string> image_tag;         // container.image.tag
  std::optional<bool> privileged;               // container.privileged
  std::optional<uint64_t> container_start_ns;   // container.start_ts
  std::optional<int64_t> tty;                   // proc.tty
  std::optional<uint64_t> proc_start_ns;        // proc.duration = evt.time - start
  std::optional<bool> exe_upper_layer;          // proc.is_exe_upper_layer
  std::optional<std::string> sname;             // proc.sname (session leader)
  std::optional<std::string> user_name;         // user.name
  std::optional<std::string> login_name;        // user.loginname
  std::optional<std::string> group_name;        // group.name
  std::optional<std::string> l4proto;           // fd.l4proto: tcp|udp|...
  std::optional<std::string> sip_name;          // fd.sip.name (resolved server name)
  std::optional<std::string> cip_name;          // fd.cip.name
  std::optional<std::string> rip_name;          // fd.rip.name
  std::optional<std::string> lip_name;          // fd.lip.name
  std::optional<std::vector<ContainerMount>> mounts;  // container.mounts, container.mount*[...]
  std::optional<bool> fd_connected;             // fd.connected
  std::optional<std::string> hostname;          // evt.hostname
};

// What the engine evaluates: the event and, optionally, what the runtime adds to it.
class CheckMemo;
struct EvalInput {
  const Event* event = nullptr;
  const Enrichment* extra = nullptr;  // may be null
  CheckMemo* memo = nullptr;          // the engine's answers to shared checks for this event; may be null
};

enum class FieldType : uint8_t {
  string,
  number,   // signed 64-bit
  boolean,  // compared with true/false
  ipnet,    // an address compared against CIDR literals (fd.net, fd.snet, ...)
  evttype,  // evt.type: compiled to a set of event types
};
std::string_view field_type_name(FieldType type);

// The accessor's output. Strings that the event owns are returned as views; computed
// strings (cmdline, rendered arguments) are built in `scratch`.
struct Value {
  std::string_view str;
  int64_t num = 0;
  std::string scratch;
};

// How a field uses its bracket/name argument.
enum class ArgKind : uint8_t {
  none,
  index,           // proc.aname[N]; without [N] the field means "any ancestor"
  event_arg,       // evt.arg.NAME / evt.arg[N] / evt.rawarg.NAME
  key,             // proc.env[NAME], container.mount.dest[/src*]: optional text in brackets
};

struct FieldRef;
// Returns false when the value is absent for this event. `index` is the [N] to use (the
// ref's own, or each ancestor in turn for an "any ancestor" comparison).
using Accessor = bool (*)(const EvalInput& in, const FieldRef& ref, int index, Value& out);

struct FieldInfo {
  std::string_view name;
  FieldType type;
  ArgKind arg;
  Accessor get;
  std::string_view desc;
  std::string_view absent;  // when the value is absent ("" = always present)
};

// A field reference as resolved at load time.
struct FieldRef {
  const FieldInfo* info = nullptr;
  std::string text;      // as written: "proc.aname[2]", "evt.arg.flags"
  int index = -1;        // [N]; -1 = not given (any ancestor for ArgKind::index)
  std::string arg_name;  // evt.arg.NAME; the bracket text of an ArgKind::key field
  bool raw = false;      // evt.rawarg.*: numeric
  // evt.arg.NAME: per event type, how to get it (computed once at resolve time).
  std::array<int8_t, kEventTypeSlots> arg_slot{};  // -1 none, 0..7 arg[i], 100 path, 101 path2, 102 fstype
  std::array<uint8_t, kEventTypeSlots> arg_fmt{};  // how to render it (ArgFormat in fields.cpp)

  FieldType type() const { return raw ? FieldType::number : info->type; }
  bool any_ancestor() const { return info->arg == ArgKind::index && index < 0; }
};

// Resolves "proc.aname[2]", "evt.arg.flags", "evt.arg[0]", "user.uid". Fails with a
// message naming the field when it is unknown or its argument is malformed.
Result<FieldRef> resolve_field(std::string_view text);

std::span<const FieldInfo> field_catalogue();

// Whether fd.name (and fd.directory, fd.filename) of an event of this type is the record's
// path (a file event); for sockets it is the peer address, and other types have none.
bool fd_name_is_path(EventType type);
// evt.arg.NAME's value for this type is the record's path (the first string argument).
bool event_arg_is_path(const FieldRef& ref, EventType type);

// Extracts a field's value as text for outputs; nullopt when absent.
std::optional<std::string> field_text(const FieldRef& ref, const EvalInput& in);

// Falco renders the priority of an alert; these are shared by loader and alerts.
std::string_view errno_name(int64_t err);  // "ENOENT"; "" when unknown

// The value of an argument symbol as rules name it (AF_VSOCK, CLONE_NEWUSER, O_WRONLY,
// PTRACE_MODE_ATTACH, PTRACE_ATTACH, SOCK_RAW), or of a number (decimal, 0x hex); nullopt
// for anything else. For deny rules, whose arguments are compared as numbers in the kernel.
std::optional<uint64_t> arg_symbol_value(std::string_view name);

}  // namespace kata_sentry::policy
