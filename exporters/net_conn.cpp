#include "exporters/net_conn.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace kata_sentry::exporters {

struct NetConn::Tls {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  ~Tls() {
    if (ssl) SSL_free(ssl);
    if (ctx) SSL_CTX_free(ctx);
  }
};

namespace {

std::string ssl_error() {
  unsigned long e = ERR_get_error();
  if (!e) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

Result<std::pair<std::string, std::string>> split_host_port(const std::string& a) {
  if (!a.empty() && a[0] == '[') {
    auto close = a.find(']');
    if (close == std::string::npos || close + 1 >= a.size() || a[close + 1] != ':')
      return fail(ErrorCode::invalid_argument, "address '" + a + "' is not [host]:port");
    return std::make_pair(a.substr(1, close - 1), a.substr(close + 2));
  }
  auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size())
    return fail(ErrorCode::invalid_argument, "address '" + a + "' is not host:port");
  return std::make_pair(a.substr(0, colon), a.substr(colon + 1));
}

Result<std::unique_ptr<NetConn>> NetConn::connect(Kind kind, const std::string& host, const std::string& port, const TlsOptions& tls,
                                                 std::chrono::milliseconds timeout) {
  std::unique_ptr<NetConn> c(new NetConn());
  c->kind_ = kind;
  c->where_ = host + ":" + port;
  addrinfo hints{};
  hints.ai_socktype = kind == Kind::udp ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return fail(ErrorCode::unavailable, "resolve " + c->where_ + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
  Error last{ErrorCode::unavailable, 0, "connect " + c->where_ + ": no address"};
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!fd) continue;
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = Error{ErrorCode::unavailable, errno, "connect " + c->where_};
        continue;
      }
      pollfd p{fd.get(), POLLOUT, 0};
      int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
      int err = 0;
      socklen_t len = sizeof err;
      if (n <= 0) {
        last = Error{ErrorCode::timeout, n == 0 ? ETIMEDOUT : errno, "connect " + c->where_};
        continue;
      }
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) {
        last = Error{ErrorCode::unavailable, err, "connect " + c->where_};
        continue;
      }
    }
    // Blocking from here on, with timeouts: a stalled server fails a send, never hangs it.
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (kind != Kind::udp) {
      int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->fd_ = std::move(fd);
    break;
  }
  if (!c->fd_) return std::unexpected(last);
  if (kind == Kind::tls) {
    c->tls_ = std::make_unique<Tls>();
    c->tls_->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->tls_->ctx) return fail(ErrorCode::internal, "TLS context: " + ssl_error());
    SSL_CTX_set_min_proto_version(c->tls_->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->tls_->ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(c->tls_->ctx, tls.ca_file.c_str(), nullptr) != 1)
      return fail(ErrorCode::invalid_argument, "TLS CA file " + tls.ca_file + ": " + ssl_error());
    if (!tls.cert_file.empty()) {
      if (SSL_CTX_use_certificate_chain_file(c->tls_->ctx, tls.cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(c->tls_->ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        return fail(ErrorCode::invalid_argument, "TLS client certificate " + tls.cert_file + " / key " + tls.key_file + ": " + ssl_error());
    }
    c->tls_->ssl = SSL_new(c->tls_->ctx);
    const std::string name = tls.server_name.empty() ? host : tls.server_name;
    SSL_set_tlsext_host_name(c->tls_->ssl, name.c_str());
    // An IP address is checked against the certificate's IP SANs, a name against its DNS names.
    X509_VERIFY_PARAM* param = SSL_get0_param(c->tls_->ssl);
    in6_addr probe{};
    bool is_ip = ::inet_pton(AF_INET, name.c_str(), &probe) == 1 || ::inet_pton(AF_INET6, name.c_str(), &probe) == 1;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0)) != 1)
      return fail(ErrorCode::invalid_argument, "TLS server name '" + name + "'");
    SSL_set_fd(c->tls_->ssl, c->fd_.get());
    if (SSL_connect(c->tls_->ssl) != 1)
      return fail(ErrorCode::unavailable, "TLS handshake with " + c->where_ + ": " + ssl_error() + " (verify: " +
                                              X509_verify_cert_error_string(SSL_get_verify_result(c->tls_->ssl)) + ")");
  }
  return c;
}

NetConn::~NetConn() {
  if (tls_ && tls_->ssl) SSL_shutdown(tls_->ssl);
}

Status NetConn::send(std::string_view bytes) {
  if (kind_ == Kind::udp) {
    if (::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))
      return fail_errno("send to " + where_);
    return {};
  }
  size_t done = 0;
  while (done < bytes.size()) {
    if (tls_) {
      int n = SSL_write(tls_->ssl, bytes.data() + done, static_cast<int>(std::min<size_t>(bytes.size() - done, 1 << 30)));
      if (n <= 0) return fail(ErrorCode::unavailable, "TLS write to " + where_ + ": " + ssl_error());
      done += static_cast<size_t>(n);
      continue;
    }
    ssize_t n = ::send(fd_.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("send to " + where_);
    done += static_cast<size_t>(n);
  }
  return {};
}

bool NetConn::alive() const {
  if (kind_ == Kind::udp) return true;
  pollfd p{fd_.get(), POLLRDHUP, 0};
  if (::poll(&p, 1, 0) < 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0;
}

uint64_t NetConn::unacked_bytes() const {
  if (kind_ == Kind::udp) return 0;
  int outq = 0;
  if (::ioctl(fd_.get(), SIOCOUTQ, &outq) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(outq);
}

}  // namespace kata_sentry::exporters
