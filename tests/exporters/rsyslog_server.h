// A private rsyslogd for tests: its own config, work directory, pid file and ports (UDP, TCP
// with octet-counted framing, TLS), writing every message's raw text (%rawmsg%, the RFC 5424
// message without its framing) as one line of out.log. Stopped and cleaned up by the destructor.
// No gtest here: the benchmarks start it too.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/private_containerd.h"

namespace kata_sentry::test_support {

// A port nothing listens on now (bound then released): good enough for a private server.
inline int free_port(int type) {
  int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool tcp_listening(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

inline int run_shell(const std::string& cmd) { return std::system(cmd.c_str()); }

class RsyslogServer {
 public:
  // `tls`: also a TLS input, with a CA and a server certificate for 127.0.0.1 made here.
  explicit RsyslogServer(bool tls = false) : dir_("ks-rsyslog-"), tls_(tls) {
    udp_ = free_port(SOCK_DGRAM);
    tcp_ = free_port(SOCK_STREAM);
    tls_port_ = free_port(SOCK_STREAM);
    if (tls_) make_certs();
    std::ofstream conf(dir_.path() / "rsyslog.conf");
    conf << "global(workDirectory=\"" << dir_.path().string() << "\" maxMessageSize=\"64k\"";
    if (tls_)
      conf << " defaultNetstreamDriverCAFile=\"" << ca().string() << "\" defaultNetstreamDriverCertFile=\""
           << (dir_.path() / "server.pem").string() << "\" defaultNetstreamDriverKeyFile=\"" << (dir_.path() / "server.key").string() << "\"";
    conf << ")\n"
         << "module(load=\"imudp\")\nmodule(load=\"imtcp\" maxSessions=\"100\")\n"
         << "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n"
         << "input(type=\"imudp\" address=\"127.0.0.1\" port=\"" << udp_ << "\" ruleset=\"out\")\n"
         << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << tcp_ << "\" ruleset=\"out\")\n";
    if (tls_)
      conf << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << tls_port_
           << "\" ruleset=\"out\" streamDriver.name=\"ossl\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n";
    conf << "ruleset(name=\"out\") { action(type=\"omfile\" file=\"" << out().string() << "\" template=\"raw\") }\n";
  }
  ~RsyslogServer() { stop(); }

  // Starts rsyslogd and waits until its TCP inputs accept connections. Fails with its log.
  Status start() {
    if (!cert_error_.empty()) return fail(ErrorCode::internal, cert_error_);
    auto st = proc_.start({"rsyslogd", "-n", "-f", (dir_.path() / "rsyslog.conf").string(), "-i", (dir_.path() / "rsyslogd.pid").string()},
                          dir_.path() / "rsyslogd.log");
    if (!st) return st;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!tcp_listening(tcp_) || (tls_ && !tcp_listening(tls_port_))) {
      if (!proc_.running()) return fail(ErrorCode::unavailable, "rsyslogd exited: " + log_text());
      if (std::chrono::steady_clock::now() > end) return fail(ErrorCode::timeout, "rsyslogd does not listen: " + log_text());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return {};
  }
  // SIGTERM: rsyslogd writes out what it has taken in, then exits.
  void stop() { proc_.stop(); }
  bool running() const { return proc_.running(); }
  pid_t pid() const { return proc_.pid(); }

  int udp_port() const { return udp_; }
  int tcp_port() const { return tcp_; }
  int tls_port() const { return tls_port_; }
  std::filesystem::path out() const { return dir_.path() / "out.log"; }
  std::filesystem::path ca() const { return dir_.path() / "ca.pem"; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  std::vector<std::string> lines() const {
    std::ifstream in(out());
    std::vector<std::string> v;
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) v.push_back(l);
    return v;
  }
  std::string log_text() const {
    std::ifstream in(dir_.path() / "rsyslogd.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  void make_certs() {
    const std::string d = dir_.path().string();
    std::string cmd = "cd " + d +
                      " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ks-test-ca >/dev/null 2>&1"
                      " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 >/dev/null 2>&1"
                      " && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext"
                      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext >/dev/null 2>&1";
    if (run_shell(cmd) != 0) cert_error_ = "openssl could not make the test certificates in " + d;
  }

  TempDir dir_;
  bool tls_;
  std::string cert_error_;
  int udp_ = 0, tcp_ = 0, tls_port_ = 0;
  Background proc_;
};

// Waits until rsyslog's file holds at least `n` lines.
inline bool eventually_lines(const RsyslogServer& r, size_t n, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (r.lines().size() < n) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace kata_sentry::test_support
