#include "host-probes/host_deny_compiler.h"

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <charconv>
#include <cstring>

namespace kata_sentry::probes {
namespace {

constexpr uint32_t hook_bit(int h) { return 1u << h; }
constexpr uint32_t kConnectHooks = hook_bit(KS_CG_CONNECT4) | hook_bit(KS_CG_CONNECT6);
constexpr uint32_t kSendHooks = hook_bit(KS_CG_SENDMSG4) | hook_bit(KS_CG_SENDMSG6);
constexpr uint32_t kV4Hooks = hook_bit(KS_CG_CONNECT4) | hook_bit(KS_CG_SENDMSG4);
constexpr uint32_t kV6Hooks = hook_bit(KS_CG_CONNECT6) | hook_bit(KS_CG_SENDMSG6);

// What a rule's evt.types ask of the hooks: socket hooks and device accesses.
struct Hooks {
  uint32_t sock = 0;
  uint32_t dev = 0;
  std::string unsupported;
};

Hooks hooks_for(const std::vector<EventType>& types) {
  Hooks h;
  for (EventType t : types) {
    switch (t) {
      case EventType::connect:
      case EventType::lsm_socket_connect:
      case EventType::cgroup_connect: h.sock |= kConnectHooks; break;
      case EventType::sendto: h.sock |= kSendHooks; break;
      case EventType::open:
      case EventType::openat:
      case EventType::openat2:
      case EventType::lsm_file_open: h.dev |= BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE; break;
      case EventType::mknodat:
      case EventType::lsm_inode_mknod: h.dev |= BPF_DEVCG_ACC_MKNOD; break;
      case EventType::cgroup_device: h.dev |= BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD; break;
      default: {
        auto n = event_type_name(t);
        h.unsupported += (h.unsupported.empty() ? "" : ", ") + (n.empty() ? std::to_string(int(t)) : std::string(n));
      }
    }
  }
  return h;
}

}  // namespace

Result<DeviceNode> stat_device_node(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    // Nodes whose numbers the kernel fixes (Documentation/admin-guide/devices.txt): a host
    // without the node (no devtmpfs entry) can still be attacked with a mknod'ed one.
    static constexpr struct {
      const char* path;
      uint32_t minor;
    } kFixed[] = {{"/dev/mem", 1}, {"/dev/kmem", 2}, {"/dev/port", 4}};
    int saved = errno;
    for (const auto& f : kFixed)
      if (saved == ENOENT && path == f.path) return DeviceNode{BPF_DEVCG_DEV_CHAR, 1, f.minor};
    errno = saved;
    return fail_errno("stat " + path);
  }
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
    return fail(ErrorCode::invalid_argument, path + " is not a device node");
  return DeviceNode{S_ISCHR(st.st_mode) ? uint32_t(BPF_DEVCG_DEV_CHAR) : uint32_t(BPF_DEVCG_DEV_BLOCK),
                    ::major(st.st_rdev), ::minor(st.st_rdev)};
}

Result<std::pair<std::array<uint8_t, 16>, uint8_t>> parse_ip_net(const std::string& text) {
  std::string addr = text;
  int bits = -1;
  if (auto slash = text.find('/'); slash != std::string::npos) {
    addr = text.substr(0, slash);
    std::string b = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (ec != std::errc() || p != b.data() + b.size() || b.empty())
      return fail(ErrorCode::invalid_argument, "'" + text + "' is not an address or CIDR");
  }
  std::array<uint8_t, 16> out{};
  in_addr v4{};
  if (::inet_pton(AF_INET, addr.c_str(), &v4) == 1) {
    if (bits < 0) bits = 32;
    if (bits > 32) return fail(ErrorCode::invalid_argument, "'" + text + "': an IPv4 prefix is at most 32 bits");
    out[10] = out[11] = 0xff;
    std::memcpy(&out[12], &v4, 4);
    return std::pair{out, uint8_t(96 + bits)};
  }
  if (::inet_pton(AF_INET6, addr.c_str(), out.data()) == 1) {
    if (bits < 0) bits = 128;
    if (bits > 128) return fail(ErrorCode::invalid_argument, "'" + text + "': an IPv6 prefix is at most 128 bits");
    return std::pair{out, uint8_t(bits)};
  }
  return fail(ErrorCode::invalid_argument, "'" + text + "' is not an address or CIDR");
}

CompiledHostDenySet compile_host_deny_set(const std::vector<HostDenyRule>& rules, const DeviceResolver& resolve) {
  CompiledHostDenySet out;
  for (size_t id = 0; id < rules.size(); ++id) {
    const HostDenyRule& r = rules[id];
    auto refuse = [&](const std::string& why) { out.refused.push_back(r.name + ": " + why); };
    Hooks h = hooks_for(r.event_types);
    if (r.event_types.empty()) {
      refuse("no event type");
      continue;
    }
    if (!h.unsupported.empty()) {
      refuse("no host cgroup hook enforces evt.type " + h.unsupported +
             " (host deny covers connect, sendto, device opens and mknod)");
      continue;
    }
    if (!r.binaries.empty()) {
      refuse("proc.exepath cannot be matched by host cgroup programs; use proc.name");
      continue;
    }
    if (r.any_container || !r.container_ids.empty()) {
      refuse("container.id is a guest notion; host cgroup programs see the sandbox's host processes");
      continue;
    }
    if (!r.cgroup_ids.empty()) {
      refuse("proc.cgroup_id cannot be matched: the programs are attached to the sandbox's cgroup itself");
      continue;
    }
    const bool net_conditions = !r.socket_families.empty() || !r.ports.empty() || !r.ip_nets.empty();
    const bool path_conditions = !r.exact_paths.empty() || !r.path_prefixes.empty();
    if (h.sock && path_conditions) {
      refuse("a connect or sendto carries no path for a host cgroup program to match");
      continue;
    }
    if (h.dev && net_conditions) {
      refuse("a device access carries no address or port");
      continue;
    }
    if (!r.path_prefixes.empty()) {
      refuse("host cgroup/dev sees device numbers, not paths: name device nodes exactly (fd.name = /dev/...)");
      continue;
    }
    if (h.dev && r.exact_paths.empty()) {
      refuse("host cgroup/dev sees only device nodes: the rule must name them (fd.name = /dev/...)");
      continue;
    }
    bool bad_comm = false;
    for (const auto& c : r.comms) bad_comm |= c.empty() || c.size() >= KS_COMM_LEN;
    if (bad_comm) {
      refuse("a proc.name is empty or longer than 15 bytes");  // the kernel's comm is cut at 15
      continue;
    }

    uint32_t sock = h.sock;
    if (sock && !r.socket_families.empty()) {
      uint32_t fam = 0;
      std::string bad;
      for (uint16_t f : r.socket_families) {
        if (f == AF_INET) fam |= kV4Hooks;
        else if (f == AF_INET6) fam |= kV6Hooks;
        else bad += (bad.empty() ? "" : ", ") + std::to_string(f);
      }
      if (!bad.empty()) {
        refuse("host cgroup programs see only INET sockets; socket family " + bad + " cannot be matched");
        continue;
      }
      sock &= fam;
    }

    std::vector<std::pair<std::array<uint8_t, 16>, uint8_t>> nets;
    std::string bad_net;
    for (const auto& n : r.ip_nets) {
      auto p = parse_ip_net(n);
      if (!p) {
        bad_net = p.error().message;
        break;
      }
      nets.push_back(*p);
    }
    if (!bad_net.empty()) {
      refuse(bad_net);
      continue;
    }
    std::vector<DeviceNode> devs;
    std::string bad_dev;
    for (const auto& p : r.exact_paths) {
      auto d = resolve(p);
      if (!d) {
        bad_dev = d.error().describe();
        break;
      }
      devs.push_back(*d);
    }
    if (!bad_dev.empty()) {
      refuse("device node: " + bad_dev);
      continue;
    }

    const size_t nc = r.comms.empty() ? 1 : r.comms.size();
    const size_t n_sock = sock ? (r.ports.empty() ? 1 : r.ports.size()) * (nets.empty() ? 1 : nets.size()) * nc : 0;
    const size_t n_dev = h.dev ? devs.size() * nc : 0;
    if (out.connect.size() + n_sock > KS_HOST_DENY_MAX || out.device.size() + n_dev > KS_HOST_DENY_MAX) {
      refuse("needs " + std::to_string(n_sock + n_dev) + " kernel entries; the host sets hold " +
             std::to_string(KS_HOST_DENY_MAX) + " connect and " + std::to_string(KS_HOST_DENY_MAX) +
             " device entries, " + std::to_string(out.connect.size()) + " and " + std::to_string(out.device.size()) +
             " used");
      continue;
    }
    auto base = [&](size_t ic) {
      ks_host_deny_rule e{};
      e.rule_id = uint32_t(id);
      if (r.uid) {
        e.flags |= KS_HD_F_UID;
        e.uid = *r.uid;
      }
      if (!r.comms.empty()) {
        e.flags |= KS_HD_F_COMM;
        std::memcpy(e.comm, r.comms[ic].data(), r.comms[ic].size());
      }
      return e;
    };
    if (sock) {
      const size_t np = r.ports.empty() ? 1 : r.ports.size();
      const size_t nn = nets.empty() ? 1 : nets.size();
      for (size_t ip = 0; ip < np; ++ip)
        for (size_t in = 0; in < nn; ++in)
          for (size_t ic = 0; ic < nc; ++ic) {
            ks_host_deny_rule e = base(ic);
            e.hooks = sock;
            if (!r.ports.empty()) {
              e.flags |= KS_HD_F_PORT;
              e.port = r.ports[ip];
            }
            if (!nets.empty()) {
              e.flags |= KS_HD_F_ADDR;
              std::memcpy(e.addr, nets[in].first.data(), 16);
              e.prefix_len = nets[in].second;
            }
            out.connect.push_back(e);
          }
    }
    for (const auto& d : h.dev ? devs : std::vector<DeviceNode>{})
      for (size_t ic = 0; ic < nc; ++ic) {
        ks_host_deny_rule e = base(ic);
        e.hooks = h.dev;
        e.flags |= KS_HD_F_DEV_TYPE | KS_HD_F_DEV_MAJOR | KS_HD_F_DEV_MINOR;
        e.dev_type = d.type;
        e.major = d.major;
        e.minor = d.minor;
        out.device.push_back(e);
      }
    out.installed.push_back(r.name);
  }
  return out;
}

}  // namespace kata_sentry::probes
