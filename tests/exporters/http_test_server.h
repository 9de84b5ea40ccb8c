// A small HTTP/1.1 server for the HTTP exporters' tests (there is no Splunk, Elasticsearch, Loki
// or falcosidekick package to run): keep-alive connections, Content-Length bodies, and a handler
// per test that checks each request against the documented format and chooses the answer
// (2xx, 429, 503, a _bulk answer with failed items).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kata_sentry::test_support {

struct HttpRequest {
  std::string method, path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};
struct HttpAnswer {
  int status = 200;
  std::string body;
};

class HttpTestServer {
 public:
  using Handler = std::function<HttpAnswer(const HttpRequest&)>;
  explicit HttpTestServer(Handler handler) : handler_(std::move(handler)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(listen_, 16);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~HttpTestServer() {
    stopping_ = true;
    ::shutdown(listen_, SHUT_RDWR);
    ::close(listen_);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : conns_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
  }
  int port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  size_t requests() const { return requests_.load(); }

 private:
  void accept_loop() {
    while (!stopping_) {
      int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_) return;
        continue;
      }
      std::lock_guard lock(mu_);
      conns_.push_back(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void serve(int fd) {
    std::string buf;
    char tmp[65536];
    for (;;) {
      size_t head_end;
      while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::read(fd, tmp, sizeof tmp);
        if (n <= 0) return finish(fd);
        buf.append(tmp, static_cast<size_t>(n));
      }
      HttpRequest req;
      std::string head = buf.substr(0, head_end);
      size_t line_end = head.find("\r\n");
      std::string first = head.substr(0, line_end);
      req.method = first.substr(0, first.find(' '));
      req.path = first.substr(first.find(' ') + 1, first.rfind(' ') - first.find(' ') - 1);
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        std::string h = head.substr(pos, e - pos);
        auto colon = h.find(':');
        if (colon != std::string::npos) {
          std::string name = h.substr(0, colon);
          std::transform(name.begin(), name.end(), name.begin(), ::tolower);
          std::string value = h.substr(colon + 1);
          while (!value.empty() && value[0] == ' ') value.erase(0, 1);
          req.headers[name] = value;
        }
        pos = e + 2;
      }
      size_t length = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
      buf.erase(0, head_end + 4);
      while (buf.size() < length) {
        ssize_t n = ::read(fd, tmp, sizeof tmp);
        if (n <= 0) return finish(fd);
        buf.append(tmp, static_cast<size_t>(n));
      }
      req.body = buf.substr(0, length);
      buf.erase(0, length);
      ++requests_;
      HttpAnswer a = handler_(req);
      std::string out = "HTTP/1.1 " + std::to_string(a.status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(a.body.size()) + "\r\n\r\n" + a.body;
      if (::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) return finish(fd);
    }
  }
  void finish(int fd) {
    std::lock_guard lock(mu_);
    conns_.erase(std::remove(conns_.begin(), conns_.end(), fd), conns_.end());
    ::close(fd);
  }

  Handler handler_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> requests_{0};
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

}  // namespace kata_sentry::test_support
