#include "policy-engine/enforcement_spec.h"

#include <sys/socket.h>

#include <charconv>

#include "policy-engine/condition.h"

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
                   "user.uid, container.id, proc.cgroup_id, sandbox.id, view, and for connections fd.typechar, "
                   "fd.sip/fd.snet and fd.sport";

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
      return bad(a, "a negation cannot be enforced");
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

  EnforcementSpec& s_;
};

}  // namespace

Result<EnforcementSpec> build_enforcement_spec(const std::string& rule, const Ast& condition) {
  EnforcementSpec spec;
  spec.rule = rule;
  Builder b(spec);
  if (auto st = b.add(condition); !st) return std::unexpected(st.error());
  if (spec.event_types.empty())
    return fail(ErrorCode::invalid_argument,
                "a deny rule must name its operation with evt.type = / in (open, execve, connect, mknodat, mount, ...)");
  return spec;
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
  return j;
}

}  // namespace kata_sentry::policy
