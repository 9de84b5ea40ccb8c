// A fluent builder for synthetic Events, for exact and fast tests of anything that
// consumes Events (policy engine, audit, exporters):
//   Event e = EventBuilder().exec("/bin/sh").parent("nginx").guest().container("c1").build();
// Defaults: a successful (has_res, res 0) host event at a fixed time, pid 100, uid 0.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/event.h"

namespace kata_sentry::testing {

class EventBuilder {
 public:
  EventBuilder() {
    e_.type = EventType::execve;
    e_.time_ns = 1'763'880'000'000'000'000ull;
    e_.has_res = true;
    e_.res = 0;
    e_.proc.pid = e_.proc.tid = 100;
    e_.proc.ppid = 1;
  }

  // --- what happened ---
  EventBuilder& type(EventType t) { e_.type = t; return *this; }
  // execve of `path`: proc.name = basename, proc.exepath = path, args as given.
  EventBuilder& exec(std::string path, std::vector<std::string> args = {}) {
    e_.type = EventType::execve;
    e_.path = path;
    e_.proc.exepath = path;
    e_.proc.name = basename(path);
    e_.proc.args = std::move(args);
    return *this;
  }
  // openat of `path` with open(2) flags (O_RDONLY by default); res = fd 3.
  EventBuilder& open(std::string path, uint64_t flags = 0, EventType t = EventType::openat) {
    e_.type = t;
    e_.path = std::move(path);
    e_.arg = {flags, 0644};
    e_.res = 3;
    return *this;
  }
  EventBuilder& connect(std::string ip, uint16_t port, uint16_t family = AF_INET) {
    e_.type = EventType::connect;
    e_.arg = {3};
    e_.addr.family = family;
    e_.addr.ip = std::move(ip);
    e_.addr.port = port;
    return *this;
  }
  EventBuilder& vsock(uint32_t cid, uint16_t port) {
    e_.addr.family = AF_VSOCK;
    e_.addr.vsock_cid = cid;
    e_.addr.port = port;
    return *this;
  }
  EventBuilder& path(std::string p) { e_.path = std::move(p); return *this; }
  EventBuilder& path2(std::string p) { e_.path2 = std::move(p); return *this; }
  EventBuilder& fstype(std::string f) { e_.fstype = std::move(f); return *this; }
  EventBuilder& args(std::vector<uint64_t> a) { e_.arg = std::move(a); return *this; }
  EventBuilder& res(int64_t r) { e_.has_res = true; e_.res = r; return *this; }
  EventBuilder& no_res() { e_.has_res = false; e_.res = 0; return *this; }
  EventBuilder& flags(uint32_t f) { e_.flags = f; return *this; }
  EventBuilder& time_ns(uint64_t t) { e_.time_ns = t; return *this; }
  EventBuilder& after_ms(uint64_t ms) { e_.time_ns += ms * 1'000'000ull; return *this; }

  // --- who did it ---
  EventBuilder& name(std::string n) { e_.proc.name = std::move(n); return *this; }
  EventBuilder& exepath(std::string p) { e_.proc.exepath = std::move(p); return *this; }
  EventBuilder& proc_args(std::vector<std::string> a) { e_.proc.args = std::move(a); return *this; }
  EventBuilder& pid(uint32_t p) { e_.proc.pid = e_.proc.tid = p; return *this; }
  EventBuilder& uid(uint32_t u) { e_.proc.uid = u; return *this; }
  EventBuilder& gid(uint32_t g) { e_.proc.gid = g; return *this; }
  EventBuilder& loginuid(uint32_t u) { e_.proc.loginuid = u; return *this; }
  EventBuilder& cgroup(uint64_t id) { e_.proc.cgroup_id = id; return *this; }
  EventBuilder& agent() { e_.proc.is_agent = true; e_.flags |= 1u << 2; return *this; }
  // Capability sets as names ("CAP_SYS_ADMIN CAP_SYS_MODULE"); permitted = effective unless given.
  EventBuilder& caps(uint64_t effective, std::optional<uint64_t> permitted = std::nullopt, uint64_t inheritable = 0) {
    e_.proc.caps = CapabilitySets{effective, permitted.value_or(effective), inheritable};
    return *this;
  }
  EventBuilder& cwd(std::string d) { e_.proc.cwd = std::move(d); return *this; }
  EventBuilder& env(std::vector<std::string> v) { e_.proc.env = std::move(v); return *this; }
  EventBuilder& args_truncated() { e_.proc.args_truncated = true; return *this; }
  // The object as an LSM hook saw it: mode (S_IFCHR|0600, ...), device node numbers, inode.
  EventBuilder& object(uint32_t mode, uint32_t rdev_major = 0, uint32_t rdev_minor = 0, uint64_t ino = 0, uint32_t nlink = 1) {
    e_.file.mode = mode;
    e_.file.rdev_major = rdev_major;
    e_.file.rdev_minor = rdev_minor;
    e_.file.ino = ino;
    e_.file.nlink = nlink;
    return *this;
  }
  // The parent (proc.pname, proc.aname[1]); exepath defaults to /usr/bin/NAME.
  EventBuilder& parent(std::string n, std::string exepath = "", std::string cmdline = "") {
    e_.proc.pname = n;
    Ancestor a{e_.proc.ppid, n, exepath.empty() ? "/usr/bin/" + n : exepath, cmdline.empty() ? n : cmdline};
    if (e_.proc.ancestors.empty()) e_.proc.ancestors.push_back(std::move(a));
    else e_.proc.ancestors[0] = std::move(a);
    return *this;
  }
  // Further ancestors: proc.aname[2], [3], ... in call order.
  EventBuilder& ancestor(std::string n, std::string exepath = "") {
    if (e_.proc.ancestors.empty()) parent("init");
    e_.proc.ancestors.push_back({0, n, exepath.empty() ? "/usr/bin/" + n : exepath, n});
    return *this;
  }

  // --- where ---
  EventBuilder& guest() { e_.view = View::guest; return *this; }
  EventBuilder& host() { e_.view = View::host; return *this; }
  EventBuilder& sandbox(std::string id, std::string name = "") {
    e_.sandbox_id = std::move(id);
    e_.sandbox_name = std::move(name);
    return *this;
  }
  EventBuilder& container(std::string id) { e_.container_id = std::move(id); return *this; }
  EventBuilder& pod(std::string name, std::string ns = "default", std::string uid = "") {
    e_.pod_name = std::move(name);
    e_.pod_namespace = std::move(ns);
    e_.pod_uid = std::move(uid);
    return *this;
  }
  EventBuilder& vmm(uint32_t pid) { e_.vmm_pid = pid; return *this; }

  Event build() const { return e_; }
  operator Event() const { return e_; }

 private:
  static std::string basename(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
  }
  Event e_;
};

}  // namespace kata_sentry::testing
