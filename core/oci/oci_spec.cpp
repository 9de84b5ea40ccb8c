#include "core/oci/oci_spec.h"

#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/oci/oci_names.h"

namespace kata_sentry {
namespace {

using nlohmann::json;

// Walks the document, collecting every problem with its JSON path instead of stopping at the
// first, so a user fixes a config in one round.
class Reader {
 public:
  std::vector<std::string> errors;

  void error(const std::string& path, const std::string& what) { errors.push_back(path + ": " + what); }

  // Returns the member or nullptr when absent/null; type errors are reported by the getters.
  static const json* member(const json& obj, const char* key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }

  bool object(const json* v, const std::string& path) {
    if (!v) return false;
    if (!v->is_object()) { error(path, "must be an object"); return false; }
    return true;
  }

  void string(const json& obj, const char* key, const std::string& path, std::string& out) {
    const json* v = member(obj, key);
    if (!v) return;
    if (!v->is_string()) return error(path, "must be a string");
    out = v->get<std::string>();
  }

  void boolean(const json& obj, const char* key, const std::string& path, bool& out) {
    const json* v = member(obj, key);
    if (!v) return;
    if (!v->is_boolean()) return error(path, "must be a boolean");
    out = v->get<bool>();
  }

  template <typename T>
  bool integer(const json& v, const std::string& path, T& out) {
    if (!v.is_number_integer()) { error(path, "must be an integer"); return false; }
    if constexpr (std::is_unsigned_v<T>) {
      if (v.is_number_unsigned()) {
        uint64_t x = v.get<uint64_t>();
        if (x > std::numeric_limits<T>::max()) { error(path, "out of range"); return false; }
        out = T(x);
        return true;
      }
      int64_t x = v.get<int64_t>();
      if (x < 0 || uint64_t(x) > std::numeric_limits<T>::max()) { error(path, "out of range"); return false; }
      out = T(x);
    } else {
      if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<T>::max())) {
        error(path, "out of range");
        return false;
      }
      out = T(v.get<int64_t>());
    }
    return true;
  }

  template <typename T>
  void integer(const json& obj, const char* key, const std::string& path, T& out) {
    if (const json* v = member(obj, key)) integer(*v, path, out);
  }

  template <typename T>
  void integer(const json& obj, const char* key, const std::string& path, std::optional<T>& out) {
    const json* v = member(obj, key);
    T x{};
    if (v && integer(*v, path, x)) out = x;
  }

  // Calls fn(element, element_path) for each element of an array member.
  template <typename Fn>
  void array(const json& obj, const char* key, const std::string& path, Fn fn) {
    const json* v = member(obj, key);
    if (!v) return;
    if (!v->is_array()) return error(path, "must be an array");
    for (size_t i = 0; i < v->size(); ++i) fn((*v)[i], path + "[" + std::to_string(i) + "]");
  }

  void strings(const json& obj, const char* key, const std::string& path, std::vector<std::string>& out) {
    array(obj, key, path, [&](const json& e, const std::string& p) {
      if (!e.is_string()) return error(p, "must be a string");
      out.push_back(e.get<std::string>());
    });
  }
};

void read_capabilities(Reader& r, const json& obj, const std::string& path, OciCapabilities& caps) {
  auto set = [&](const char* key, std::vector<std::string>& out) {
    std::string p = path + "." + key;
    r.strings(obj, key, p, out);
    for (size_t i = 0; i < out.size(); ++i)
      if (!capability_from_name(out[i]))
        r.error(p + "[" + std::to_string(i) + "]", "unknown capability \"" + out[i] + "\"");
  };
  set("bounding", caps.bounding);
  set("effective", caps.effective);
  set("permitted", caps.permitted);
  set("inheritable", caps.inheritable);
  set("ambient", caps.ambient);
}

void read_process(Reader& r, const json& obj, OciProcess& proc) {
  r.boolean(obj, "terminal", "process.terminal", proc.terminal);
  const json* args = Reader::member(obj, "args");
  if (!args || !args->is_array() || args->empty()) {
    r.error("process.args", "must be a non-empty array");
  } else {
    r.strings(obj, "args", "process.args", proc.args);
    if (!proc.args.empty() && proc.args[0].empty()) r.error("process.args[0]", "must not be empty");
  }
  r.strings(obj, "env", "process.env", proc.env);
  for (size_t i = 0; i < proc.env.size(); ++i)
    if (proc.env[i].find('=') == std::string::npos)
      r.error("process.env[" + std::to_string(i) + "]", "must be KEY=VALUE");
  r.string(obj, "cwd", "process.cwd", proc.cwd);
  if (!Reader::member(obj, "cwd")) r.error("process.cwd", "is required");
  else if (proc.cwd.empty() || proc.cwd[0] != '/') r.error("process.cwd", "must be an absolute path");
  if (const json* user = Reader::member(obj, "user"); r.object(user, "process.user")) {
    r.integer(*user, "uid", "process.user.uid", proc.user.uid);
    r.integer(*user, "gid", "process.user.gid", proc.user.gid);
    r.integer(*user, "umask", "process.user.umask", proc.user.umask);
    if (proc.user.umask && *proc.user.umask > 0777) r.error("process.user.umask", "must be at most 0777");
    r.array(*user, "additionalGids", "process.user.additionalGids", [&](const json& e, const std::string& p) {
      uint32_t g = 0;
      if (r.integer(e, p, g)) proc.user.additional_gids.push_back(g);
    });
  }
  if (const json* caps = Reader::member(obj, "capabilities"); r.object(caps, "process.capabilities")) {
    proc.capabilities.emplace();
    read_capabilities(r, *caps, "process.capabilities", *proc.capabilities);
  }
  r.array(obj, "rlimits", "process.rlimits", [&](const json& e, const std::string& p) {
    if (!r.object(&e, p)) return;
    OciRlimit l;
    r.string(e, "type", p + ".type", l.type);
    if (!rlimit_from_name(l.type)) r.error(p + ".type", "unknown rlimit \"" + l.type + "\"");
    r.integer(e, "hard", p + ".hard", l.hard);
    r.integer(e, "soft", p + ".soft", l.soft);
    if (l.soft > l.hard) r.error(p, "soft limit above hard limit");
    proc.rlimits.push_back(std::move(l));
  });
  r.boolean(obj, "noNewPrivileges", "process.noNewPrivileges", proc.no_new_privileges);
  r.integer(obj, "oomScoreAdj", "process.oomScoreAdj", proc.oom_score_adj);
  if (proc.oom_score_adj && (*proc.oom_score_adj < -1000 || *proc.oom_score_adj > 1000))
    r.error("process.oomScoreAdj", "must be in -1000..1000");
}

void read_seccomp(Reader& r, const json& obj, OciSeccomp& sc) {
  const std::string base = "linux.seccomp";
  r.string(obj, "defaultAction", base + ".defaultAction", sc.default_action);
  if (!is_seccomp_action(sc.default_action))
    r.error(base + ".defaultAction", "unsupported action \"" + sc.default_action + "\"");
  r.integer(obj, "defaultErrnoRet", base + ".defaultErrnoRet", sc.default_errno_ret);
  r.strings(obj, "architectures", base + ".architectures", sc.architectures);
  r.array(obj, "syscalls", base + ".syscalls", [&](const json& e, const std::string& p) {
    if (!r.object(&e, p)) return;
    OciSeccompSyscall s;
    r.strings(e, "names", p + ".names", s.names);
    if (s.names.empty()) r.error(p + ".names", "must be a non-empty array");
    r.string(e, "action", p + ".action", s.action);
    if (!is_seccomp_action(s.action)) r.error(p + ".action", "unsupported action \"" + s.action + "\"");
    r.integer(e, "errnoRet", p + ".errnoRet", s.errno_ret);
    r.array(e, "args", p + ".args", [&](const json& a, const std::string& ap) {
      if (!r.object(&a, ap)) return;
      OciSeccompArg arg;
      r.integer(a, "index", ap + ".index", arg.index);
      if (arg.index > 5) r.error(ap + ".index", "must be 0..5");
      r.integer(a, "value", ap + ".value", arg.value);
      r.integer(a, "valueTwo", ap + ".valueTwo", arg.value_two);
      r.string(a, "op", ap + ".op", arg.op);
      if (!is_seccomp_operator(arg.op)) r.error(ap + ".op", "unsupported operator \"" + arg.op + "\"");
      s.args.push_back(std::move(arg));
    });
    sc.syscalls.push_back(std::move(s));
  });
}

void read_linux(Reader& r, const json& obj, OciLinux& lx) {
  r.array(obj, "namespaces", "linux.namespaces", [&](const json& e, const std::string& p) {
    if (!r.object(&e, p)) return;
    OciNamespace ns;
    r.string(e, "type", p + ".type", ns.type);
    r.string(e, "path", p + ".path", ns.path);
    if (!namespace_clone_flag(ns.type)) r.error(p + ".type", "unknown namespace \"" + ns.type + "\"");
    for (const auto& prev : lx.namespaces)
      if (prev.type == ns.type) r.error(p + ".type", "namespace \"" + ns.type + "\" listed twice");
    lx.namespaces.push_back(std::move(ns));
  });
  auto mappings = [&](const char* key, std::vector<OciIdMapping>& out) {
    r.array(obj, key, std::string("linux.") + key, [&](const json& e, const std::string& p) {
      if (!r.object(&e, p)) return;
      OciIdMapping m;
      r.integer(e, "containerID", p + ".containerID", m.container_id);
      r.integer(e, "hostID", p + ".hostID", m.host_id);
      r.integer(e, "size", p + ".size", m.size);
      out.push_back(m);
    });
  };
  mappings("uidMappings", lx.uid_mappings);
  mappings("gidMappings", lx.gid_mappings);
  r.strings(obj, "maskedPaths", "linux.maskedPaths", lx.masked_paths);
  r.strings(obj, "readonlyPaths", "linux.readonlyPaths", lx.readonly_paths);
  if (const json* res = Reader::member(obj, "resources"); r.object(res, "linux.resources")) {
    if (const json* mem = Reader::member(*res, "memory"); r.object(mem, "linux.resources.memory"))
      r.integer(*mem, "limit", "linux.resources.memory.limit", lx.resources.memory_limit);
    if (const json* pids = Reader::member(*res, "pids"); r.object(pids, "linux.resources.pids"))
      r.integer(*pids, "limit", "linux.resources.pids.limit", lx.resources.pids_limit);
    r.array(*res, "devices", "linux.resources.devices", [&](const json& e, const std::string& p) {
      if (!r.object(&e, p)) return;
      OciDeviceRule d;
      if (!Reader::member(e, "allow")) r.error(p + ".allow", "is required");
      r.boolean(e, "allow", p + ".allow", d.allow);
      r.string(e, "type", p + ".type", d.type);
      if (d.type != "a" && d.type != "c" && d.type != "b") r.error(p + ".type", "must be \"a\", \"c\" or \"b\"");
      r.integer(e, "major", p + ".major", d.major);
      r.integer(e, "minor", p + ".minor", d.minor);
      r.string(e, "access", p + ".access", d.access);
      if (d.access.empty() || d.access.find_first_not_of("rwm") != std::string::npos)
        r.error(p + ".access", "must be letters of \"rwm\"");
      lx.resources.devices.push_back(std::move(d));
    });
    if (const json* cpu = Reader::member(*res, "cpu"); r.object(cpu, "linux.resources.cpu")) {
      r.integer(*cpu, "shares", "linux.resources.cpu.shares", lx.resources.cpu_shares);
      r.integer(*cpu, "quota", "linux.resources.cpu.quota", lx.resources.cpu_quota);
      r.integer(*cpu, "period", "linux.resources.cpu.period", lx.resources.cpu_period);
    }
  }
  if (const json* sc = Reader::member(obj, "seccomp"); r.object(sc, "linux.seccomp")) {
    lx.seccomp.emplace();
    read_seccomp(r, *sc, *lx.seccomp);
  }
  r.string(obj, "cgroupsPath", "linux.cgroupsPath", lx.cgroups_path);
  if (const json* sys = Reader::member(obj, "sysctl"); r.object(sys, "linux.sysctl")) {
    for (const auto& [k, v] : sys->items()) {
      if (!v.is_string()) r.error("linux.sysctl." + k, "must be a string");
      else if (k.empty() || k.find('/') != std::string::npos || k.find("..") != std::string::npos)
        r.error("linux.sysctl." + k, "invalid sysctl name");
      else lx.sysctl[k] = v.get<std::string>();
    }
  }
}

}  // namespace

Result<OciSpec> parse_oci_spec(std::string_view json_text, std::string_view source_name) {
  const std::string src(source_name);
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::parse_error& e) {
    return fail(ErrorCode::invalid_argument, src + ": invalid JSON at byte " + std::to_string(e.byte) +
                                                 ": " + e.what());
  }
  if (!doc.is_object()) return fail(ErrorCode::invalid_argument, src + ": top level must be an object");

  Reader r;
  OciSpec spec;
  r.string(doc, "ociVersion", "ociVersion", spec.oci_version);
  const json* process = Reader::member(doc, "process");
  if (!process) r.error("process", "is required");
  else if (r.object(process, "process")) read_process(r, *process, spec.process);
  const json* root = Reader::member(doc, "root");
  if (!root) r.error("root", "is required");
  else if (r.object(root, "root")) {
    r.string(*root, "path", "root.path", spec.root.path);
    if (spec.root.path.empty()) r.error("root.path", "must be a non-empty string");
    r.boolean(*root, "readonly", "root.readonly", spec.root.readonly);
  }
  r.string(doc, "hostname", "hostname", spec.hostname);
  r.array(doc, "mounts", "mounts", [&](const json& e, const std::string& p) {
    if (!r.object(&e, p)) return;
    OciMount m;
    r.string(e, "destination", p + ".destination", m.destination);
    if (m.destination.empty() || m.destination[0] != '/')
      r.error(p + ".destination", "must be an absolute path");
    r.string(e, "type", p + ".type", m.type);
    r.string(e, "source", p + ".source", m.source);
    r.strings(e, "options", p + ".options", m.options);
    spec.mounts.push_back(std::move(m));
  });
  if (const json* lx = Reader::member(doc, "linux"); r.object(lx, "linux")) read_linux(r, *lx, spec.linux);

  if (!r.errors.empty()) {
    std::string msg = src + ": ";
    for (size_t i = 0; i < r.errors.size(); ++i) msg += (i ? "; " : "") + r.errors[i];
    return fail(ErrorCode::invalid_argument, std::move(msg));
  }
  return spec;
}

Result<OciSpec> load_oci_spec(const std::filesystem::path& config_json) {
  std::ifstream in(config_json, std::ios::binary);
  if (!in) return fail_errno("open " + config_json.string());
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return fail_errno("read " + config_json.string());
  return parse_oci_spec(ss.str(), config_json.string());
}

}  // namespace kata_sentry
