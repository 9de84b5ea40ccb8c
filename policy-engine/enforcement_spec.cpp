#include "policy-engine/enforcement_spec.h"

#include <sys/socket.h>

#include <algorithm>
#include <charconv>

#include "policy-engine/condition.h"
#include "policy-engine/fields.h"

namespace kata_sentry::policy {
namespace {

// Types an in-kernel program can refuse (guest LSM hooks; host cgroup programs for connect).
bool enforceable_type(EventType t) {
  switch (t) {
    case EventType::open: case EventType::openat: case EventType::openat2: case EventType::lsm_file_open:
    case EventType::execve: case EventType::execveat: case EventType::lsm_bprm_check:
    case EventType::connect: case EventType::lsm_socket_connect: case EventType::sendto:
    case EventType::mknodat: case EventType::lsm_inode_mknod:
    case EventType::mount: case EventType::lsm_sb_mount:
    case EventType::ptrace: case EventType::lsm_ptrace_access:
    case EventType::bpf: case EventType::lsm_bpf:
    case EventType::init_module: case EventType::finit_module: case EventType::lsm_kernel_read_file:
    case EventType::lsm_module_request:
    case EventType::kill: case EventType::lsm_task_kill:
    // Guest LSM hooks of issue 11 (guest-probes/deny_compiler maps each syscall to its hook).
    case EventType::kexec_load: case EventType::kexec_file_load: case EventType::lsm_kernel_load_data:
    case EventType::io_uring_setup: case EventType::userfaultfd: case EventType::lsm_anon_inode:
    case EventType::perf_event_open: case EventType::lsm_perf_event_open:
    case EventType::unshare: case EventType::lsm_userns_create:
    case EventType::socket: case EventType::lsm_socket_create:
    case EventType::pivot_root: case EventType::lsm_sb_pivotroot:
    case EventType::open_by_handle_at:
    case EventType::process_vm_readv: case EventType::process_vm_writev:
      return true;
    default:
      return false;
  }
}

std::string describe(const Ast& a) {
  switch (a.kind) {
    case Ast::Kind::constant: return a.constant ? "true" : "false";
    case Ast::Kind::not_: return "not " + describe(*a.kids[0]);
    case Ast::Kind::and_: case Ast::Kind::or_: {
      std::string s = "(";
      for (size_t i = 0; i < a.kids.size(); ++i) {
        if (i) s += a.kind == Ast::Kind::and_ ? " and " : " or ";
        s += describe(*a.kids[i]);
      }
      return s + ")";
    }
    case Ast::Kind::check: break;
  }
  std::string s = a.lhs.field.text + " " + std::string(op_name(a.op));
  if (a.op == Op::exists) return s;
  if (a.rhs_field) return s + " val(" + a.rhs_field->field.text + ")";
  if (a.op == Op::in || a.op == Op::intersects || a.op == Op::pmatch) {
    s += " (";
    for (size_t i = 0; i < a.values.size() && i < 6; ++i) s += (i ? ", " : "") + a.values[i];
    if (a.values.size() > 6) s += ", ...";
    return s + ")";
  }
  return s + " " + (a.values.empty() ? "" : a.values[0]);
}

const char* kWhy = "in-kernel enforcement matches only evt.type, fd.name (exact or prefix), proc.exepath/proc.name, "
                   "user.uid, container.id, proc.cgroup_id, sandbox.id, view, for connections fd.typechar, "
                   "fd.sip/fd.snet and fd.sport, and in the guest one evt.arg (= value or contains flag), "
                   "evt.is_open_write, evt.syscall_nr, fd.rdev.major/minor, fd.is_char_device/fd.is_block_device, "
                   "fd.fs_type and proc.is_exe_deleted";

// Fields that say the same thing to an in-kernel program, for an 'or' over one field.
std::string field_group(const std::string& f) {
  if (f == "proc.exe") return "proc.exepath";
  if (f == "fd.directory") return "fd.name";
  if (f == "fd.typechar" || f == "fd.type" || f == "fd.sockfamily") return "family";
  // Only the destination: the programs see where a connect goes, not the local end, so the
  // either-side fields (fd.ip, fd.net, fd.port) are not enforceable.
  if (f == "fd.sport" || f == "fd.rport") return "port";
  if (f == "fd.sip" || f == "fd.rip" || f == "fd.snet" || f == "fd.rnet") return "ip";
  return f;
}

class Builder {
 public:
  explicit Builder(EnforcementSpec& s) : s_(s) {}

  Status add(const Ast& a) {
    if (a.kind == Ast::Kind::and_) {
      for (const auto& k : a.kids)
        if (auto st = add(*k); !st) return st;
      return {};
    }
    if (a.kind == Ast::Kind::or_) return add_or(a);
    if (a.kind == Ast::Kind::constant && a.constant) return {};
    if (a.kind == Ast::Kind::not_) {
      const Ast& k = *a.kids[0];
      if (k.kind == Ast::Kind::check && k.lhs.field.text == "container.id" && k.op == Op::eq && k.values.size() == 1 &&
          k.values[0] == "host") {
        s_.any_container = true;
        return {};
      }
      return add_exception(a, k);
    }
    if (a.kind != Ast::Kind::check) return bad(a, "");
    // Every event an in-kernel program sees belongs to a sandbox (the guest's own, or the
    // host cgroup the programs are attached to), so this check holds by construction.
    if (a.op == Op::exists && a.lhs.field.text == "sandbox.id" && a.lhs.transformers.empty()) return {};
    return add_check(a);
  }

 private:
  Status bad(const Ast& a, std::string extra) {
    return fail(ErrorCode::invalid_argument, "'" + describe(a) + "' cannot be enforced in-kernel: " +
                                                 (extra.empty() ? std::string(kWhy) : extra + "; " + kWhy));
  }

  // `not X`: X (its alternatives) becomes exceptions the enforcer checks before refusing, as
  // long as X names no operation of its own: an opt-out list (not container.id in (...)),
  // Falco's exceptions. An empty list is an exception that never holds.
  Status add_exception(const Ast& whole, const Ast& x);

  // An OR is enforceable when every branch constrains the same one field (the lists
  // are ORs): (fd.name startswith /a or fd.name = /b).
  Status add_or(const Ast& a) {
    std::string field;
    for (const auto& k : a.kids) {
      if (k->kind != Ast::Kind::check || !k->lhs.transformers.empty()) return bad(a, "an 'or' must constrain one field");
      std::string f = field_group(k->lhs.field.text);
      if (!field.empty() && f != field) return bad(a, "an 'or' must constrain one field");
      field = f;
    }
    for (const auto& k : a.kids)
      if (auto st = add_check(*k); !st) return st;
    return {};
  }

  Status add_check(const Ast& a) {
    const std::string& f = a.lhs.field.text;
    if (!a.lhs.transformers.empty() || a.rhs_field) return bad(a, "transformers and val() cannot be enforced");
    bool eq = a.op == Op::eq || a.op == Op::in;
    if (f == "evt.type") {
      if (!eq) return bad(a, "");
      for (const auto& v : a.values) {
        auto t = event_type_for_falco_name(v);
        if (!t || !enforceable_type(*t)) return bad(a, "evt.type '" + v + "' has no in-kernel enforcement hook");
        s_.event_types.push_back(*t);
      }
      return {};
    }
    if (f == "fd.name" || f == "fd.nameraw") {
      if (eq) return append(s_.exact_paths, a.values);
      if (a.op == Op::startswith || a.op == Op::pmatch) return append(s_.path_prefixes, a.values);
      return bad(a, "paths match exactly or by prefix");
    }
    if (f == "fd.directory" && eq) {
      for (auto v : a.values) s_.path_prefixes.push_back(v.ends_with('/') ? v : v + "/");
      return {};
    }
    if ((f == "proc.exepath" || f == "proc.exe") && eq) return append(s_.binaries, a.values);
    if (f == "proc.name" && eq) return append(s_.comms, a.values);
    if (f == "user.uid" && a.op == Op::eq) {
      uint32_t uid = 0;
      const auto& v = a.values[0];
      std::from_chars(v.data(), v.data() + v.size(), uid);
      s_.uid = uid;
      return {};
    }
    if (f == "container.id") {
      if (a.op == Op::ne && a.values.size() == 1 && a.values[0] == "host") {
        s_.any_container = true;
        return {};
      }
      if (eq) return append(s_.container_ids, a.values);
    }
    if (f == "proc.cgroup_id" && eq) {
      for (const auto& v : a.values) {
        uint64_t id = 0;
        std::from_chars(v.data(), v.data() + v.size(), id);
        s_.cgroup_ids.push_back(id);
      }
      return {};
    }
    if (f == "sandbox.id" && eq) return append(s_.sandbox_ids, a.values);
    if (field_group(f) == "family" && eq) {
      for (const auto& v : a.values) {
        if (v == "4" || v == "ipv4") s_.socket_families.push_back(AF_INET);
        else if (v == "6" || v == "ipv6") s_.socket_families.push_back(AF_INET6);
        else if (v == "ip") s_.socket_families.insert(s_.socket_families.end(), {AF_INET, AF_INET6});
        else return bad(a, "only INET destinations (fd.typechar 4 or 6) can be matched in-kernel");
      }
      return {};
    }
    if (field_group(f) == "port" && eq) {
      for (const auto& v : a.values) {
        uint32_t port = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
        if (ec != std::errc() || p != v.data() + v.size() || port > 65535) return bad(a, "'" + v + "' is not a port");
        s_.ports.push_back(static_cast<uint16_t>(port));
      }
      return {};
    }
    if (field_group(f) == "ip" && eq) return append(s_.ip_nets, a.values);
    if (f == "proc.exepath" && a.op == Op::startswith) return append(s_.exe_prefixes, a.values);
    if (a.lhs.field.info && a.lhs.field.info->arg == ArgKind::event_arg) {
      // Resolved once the event types are known (finish()): a mount's type is a string.
      arg_checks_.push_back(&a);
      return {};
    }
    if (f == "evt.is_open_write" && is_true(a)) return set_arg(a, ArgTest{"flags", 3 /* O_WRONLY | O_RDWR */, true});
    if (f == "evt.syscall_nr" && a.op == Op::eq) {
      auto n = number(a.values[0]);
      if (!n || *n > 1000) return bad(a, "'" + a.values[0] + "' is not a syscall number");
      s_.syscall = static_cast<int32_t>(*n);
      return {};
    }
    if (f == "fd.rdev.major" && a.op == Op::eq) {
      auto n = number(a.values[0]);
      if (!n || *n >= (1u << 12)) return bad(a, "'" + a.values[0] + "' is not a device major");
      s_.rdev_major = static_cast<uint32_t>(*n);
      return {};
    }
    if (f == "fd.rdev.minor" && eq) {
      for (const auto& v : a.values) {
        auto n = number(v);
        if (!n || *n >= (1u << 20)) return bad(a, "'" + v + "' is not a device minor");
        s_.rdev_minors.push_back(static_cast<uint32_t>(*n));
      }
      return {};
    }
    if ((f == "fd.is_char_device" || f == "fd.is_block_device") && is_true(a)) {
      s_.device_kind = f == "fd.is_char_device" ? 'c' : 'b';
      return {};
    }
    if (f == "proc.is_exe_deleted" && is_true(a)) {
      s_.unlinked = true;
      return {};
    }
    if (f == "fd.fs_type" && a.op == Op::eq) {
      auto m = fs_magic_of(a.values[0]);
      if (!m) return bad(a, "'" + a.values[0] + "' is not a file system kata-sentry knows");
      s_.fs_magic = *m;
      return {};
    }
    if (f == "view" && a.op == Op::eq) {
      s_.view = view_from_name(a.values[0]);
      if (!s_.view) return bad(a, "view is host or guest");
      return {};
    }
    return bad(a, "");
  }

  Status append(std::vector<std::string>& to, const std::vector<std::string>& v) {
    to.insert(to.end(), v.begin(), v.end());
    return {};
  }

 public:
  // Resolves what needs the event types: argument checks. Then checks what must come with
  // what (unshare needs CLONE_NEWUSER: only a user namespace has a hook).
  Status finish() {
    const bool mounts = !s_.event_types.empty() && std::all_of(s_.event_types.begin(), s_.event_types.end(), [](EventType t) {
      return t == EventType::mount || t == EventType::lsm_sb_mount;
    });
    for (const Ast* a : arg_checks_) {
      const std::string& name = a->lhs.field.arg_name;
      bool eq = a->op == Op::eq || a->op == Op::in;
      if (mounts && !a->lhs.field.raw) {
        if (name == "type" && eq) {
          append(s_.fstypes, a->values);
          continue;
        }
        if (name == "dev" || name == "dir") {  // the mount source or target: the hook's paths
          char side = name == "dev" ? 's' : 't';
          if (s_.mount_side && s_.mount_side != side) return bad(*a, "a mount is matched by its source or its target, not both");
          s_.mount_side = side;
          if (eq) append(s_.exact_paths, a->values);
          else if (a->op == Op::startswith) append(s_.path_prefixes, a->values);
          else return bad(*a, "mount paths match exactly or by prefix");
          continue;
        }
      }
      if (name.empty()) return bad(*a, "an argument is named (evt.arg.NAME), not numbered");
      if (a->values.size() != 1 || (a->op != Op::eq && a->op != Op::in && a->op != Op::contains))
        return bad(*a, "an argument compares with one value (=) or one flag (contains)");
      auto v = arg_symbol_value(a->values[0]);
      if (!v) return bad(*a, "'" + a->values[0] + "' is neither a number nor a flag or constant name kata-sentry knows");
      if (auto st = set_arg(*a, ArgTest{name, *v, a->op == Op::contains}); !st) return st;
    }
    for (EventType t : s_.event_types)
      if (t == EventType::unshare && !(s_.arg && s_.arg->name == "flags" && s_.arg->any_bit && s_.arg->value == 0x10000000))
        return fail(ErrorCode::invalid_argument,
                    "evt.type 'unshare': only the creation of a user namespace has an in-kernel hook; "
                    "add evt.arg.flags contains CLONE_NEWUSER");
    return {};
  }

 private:
  static bool is_true(const Ast& a) { return a.op == Op::eq && a.values.size() == 1 && a.values[0] == "true"; }
  static std::optional<uint64_t> number(const std::string& v) {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || v.empty()) return std::nullopt;
    return n;
  }
  Status set_arg(const Ast& a, ArgTest t) {
    if (s_.arg) return bad(a, "one argument test per alternative");
    s_.arg = std::move(t);
    return {};
  }

  EnforcementSpec& s_;
  std::vector<const Ast*> arg_checks_;
};

// The alternatives of a condition: a list of conjunctions (disjunctive normal form), each a
// list of nodes the Builder takes (checks, negations, and 'or's over one field, which are lists
// in one spec). Fails when the expansion would be larger than a deny set should be.
constexpr size_t kMaxAlternatives = 16;
using Conjunction = std::vector<const Ast*>;

bool one_field_or(const Ast& a) {
  std::string field;
  for (const auto& k : a.kids) {
    if (k->kind != Ast::Kind::check || !k->lhs.transformers.empty()) return false;
    std::string f = field_group(k->lhs.field.text);
    if (!field.empty() && f != field) return false;
    field = f;
  }
  return true;
}

Result<std::vector<Conjunction>> alternatives(const Ast& a) {
  if (a.kind == Ast::Kind::and_) {
    std::vector<Conjunction> acc{{}};
    for (const auto& k : a.kids) {
      auto kid = alternatives(*k);
      if (!kid) return kid;
      std::vector<Conjunction> next;
      for (const auto& left : acc)
        for (const auto& right : *kid) {
          Conjunction c = left;
          c.insert(c.end(), right.begin(), right.end());
          next.push_back(std::move(c));
        }
      if (next.size() > kMaxAlternatives) return fail(ErrorCode::invalid_argument, "");
      acc = std::move(next);
    }
    return acc;
  }
  if (a.kind == Ast::Kind::or_ && !one_field_or(a)) {
    std::vector<Conjunction> out;
    for (const auto& k : a.kids) {
      auto kid = alternatives(*k);
      if (!kid) return kid;
      out.insert(out.end(), kid->begin(), kid->end());
    }
    if (out.size() > kMaxAlternatives) return fail(ErrorCode::invalid_argument, "");
    return out;
  }
  return std::vector<Conjunction>{{&a}};
}

}  // namespace

Status Builder::add_exception(const Ast& whole, const Ast& x) {
  auto alts = alternatives(x);
  if (!alts) return bad(whole, "too many alternatives in a negation");
  for (const auto& conj : *alts) {
    EnforcementSpec e;
    e.rule = s_.rule;
    Builder b(e);
    for (const Ast* a : conj)
      if (auto st = b.add(*a); !st) return bad(whole, "a negation is enforced only as an exception of checks that can be "
                                                      "enforced themselves (" + st.error().message + ")");
    if (auto st = b.finish(); !st) return st;
    if (!e.event_types.empty() || e.view || !e.sandbox_ids.empty() || !e.socket_families.empty() || !e.ports.empty() ||
        !e.ip_nets.empty() || !e.exceptions.empty())
      return bad(whole, "an exception (not ...) may not name event types, views, sandboxes or connections, nor nest");
    bool never = false;  // an empty list (`in ()`) holds for nothing
    for (const Ast* a : conj) never |= a->kind == Ast::Kind::check && (a->op == Op::in || a->op == Op::pmatch) && a->values.empty();
    if (!never) s_.exceptions.push_back(std::move(e));
  }
  return {};
}

Result<std::vector<EnforcementSpec>> build_enforcement_specs(const std::string& rule, const Ast& condition) {
  auto alts = alternatives(condition);
  if (!alts)
    return fail(ErrorCode::invalid_argument, "the condition has more than " + std::to_string(kMaxAlternatives) +
                                                 " alternatives ('or' of different fields) for in-kernel enforcement");
  std::vector<EnforcementSpec> out;
  for (const auto& conj : *alts) {
    EnforcementSpec spec;
    spec.rule = rule;
    Builder b(spec);
    for (const Ast* a : conj)
      if (auto st = b.add(*a); !st) return std::unexpected(st.error());
    if (auto st = b.finish(); !st) return std::unexpected(st.error());
    if (spec.event_types.empty())
      return fail(ErrorCode::invalid_argument,
                  "a deny rule must name its operation with evt.type = / in (open, execve, connect, mknodat, mount, ...)" +
                      std::string(alts->size() > 1 ? " in each alternative of its 'or'" : ""));
    out.push_back(std::move(spec));
  }
  return out;
}

namespace {
struct FsName {
  std::string_view name;
  uint32_t magic;
};
// statfs(2) f_type values (include/uapi/linux/magic.h).
constexpr FsName kFsTypes[] = {
    {"nsfs", 0x6e736673},     {"proc", 0x9fa0},          {"sysfs", 0x62656572},     {"tmpfs", 0x01021994},
    {"overlay", 0x794c7630},  {"ext4", 0xef53},          {"cgroup", 0x27e0eb},      {"cgroup2", 0x63677270},
    {"debugfs", 0x64626720},  {"tracefs", 0x74726163},   {"securityfs", 0x73636673}, {"bpf", 0xcafe4a11},
    {"devpts", 0x1cd1},       {"anon_inode", 0x09041934}, {"pipefs", 0x50495045},   {"sockfs", 0x534f434b},
    {"fuse", 0x65735546},     {"ramfs", 0x858458f6},     {"configfs", 0x62656570},  {"hugetlbfs", 0x958458f6},
};
}  // namespace

std::optional<uint32_t> fs_magic_of(std::string_view fs_type) {
  for (const auto& f : kFsTypes)
    if (f.name == fs_type) return f.magic;
  return std::nullopt;
}

std::string_view fs_type_of(uint32_t magic) {
  for (const auto& f : kFsTypes)
    if (f.magic == magic) return f.name;
  return {};
}

bool EnforcementSpec::has_guest_only_parts() const {
  return !exe_prefixes.empty() || !fstypes.empty() || arg || syscall || rdev_major || !rdev_minors.empty() ||
         device_kind || unlinked || fs_magic || mount_side || !exceptions.empty();
}

nlohmann::json EnforcementSpec::to_json() const {
  nlohmann::json types = nlohmann::json::array();
  for (auto t : event_types) types.push_back(event_type_name(t));
  nlohmann::json j = {{"rule", rule}, {"event_types", types}, {"exact_paths", exact_paths},
                      {"path_prefixes", path_prefixes}, {"binaries", binaries}, {"comms", comms},
                      {"any_container", any_container}, {"container_ids", container_ids},
                      {"cgroup_ids", cgroup_ids}, {"sandbox_ids", sandbox_ids},
                      {"socket_families", socket_families}, {"ports", ports}, {"ip_nets", ip_nets}};
  j["uid"] = uid ? nlohmann::json(*uid) : nlohmann::json(nullptr);
  j["view"] = view ? nlohmann::json(view_name(*view)) : nlohmann::json(nullptr);
  if (!exe_prefixes.empty()) j["exe_prefixes"] = exe_prefixes;
  if (!fstypes.empty()) j["fstypes"] = fstypes;
  if (arg) j["arg"] = {{"name", arg->name}, {"value", arg->value}, {"any_bit", arg->any_bit}};
  if (syscall) j["syscall"] = *syscall;
  if (rdev_major) j["rdev_major"] = *rdev_major;
  if (!rdev_minors.empty()) j["rdev_minors"] = rdev_minors;
  if (device_kind) j["device_kind"] = std::string(1, device_kind);
  if (mount_side) j["mount_side"] = mount_side == 's' ? "source" : "target";
  if (unlinked) j["unlinked"] = true;
  if (fs_magic) j["fs_type"] = fs_type_of(*fs_magic);
  if (!exceptions.empty()) {
    nlohmann::json ex = nlohmann::json::array();
    for (const auto& e : exceptions) ex.push_back(e.to_json());
    j["exceptions"] = ex;
  }
  return j;
}

}  // namespace kata_sentry::policy
