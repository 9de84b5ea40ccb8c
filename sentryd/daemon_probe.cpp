#include "sentryd/daemon_probe.h"

#include <filesystem>

#include <grpcpp/grpcpp.h>

#include "core/http_get.h"
#include "sentryd.grpc.pb.h"

namespace kata_sentry::daemon {

DaemonReachability probe_daemon(const std::string& config_path) {
  DaemonReachability r;
  r.config_path = config_path.empty() ? kDefaultConfigPath : config_path;
  if (config_path.empty() && !std::filesystem::exists(r.config_path)) return r;
  r.configured = true;
  auto config = load_daemon_config(config_path);
  if (!config) {
    r.socket.detail = config.error().describe();
    r.metrics.detail = "not checked: the config does not load";
    return r;
  }
  auto stub = v1::Sentryd::NewStub(grpc::CreateChannel("unix:" + config->socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  v1::Empty req;
  v1::ListSandboxesResponse resp;
  auto st = stub->ListSandboxes(&ctx, req, &resp);
  r.socket.available = st.ok();
  r.socket.detail = config->socket + ": " + (st.ok() ? std::to_string(resp.sandboxes_size()) + " sandbox(es)" : st.error_message());

  if (config->metrics_address.empty()) {
    r.metrics.detail = "off (metrics_address is \"\")";
    return r;
  }
  auto colon = config->metrics_address.rfind(':');
  std::string host = config->metrics_address.substr(0, colon);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  int port = std::atoi(config->metrics_address.c_str() + colon + 1);
  const std::string url = "http://" + config->metrics_address + "/metrics";
  if (port <= 0 || port > 65535) {
    r.metrics.detail = url + ": no fixed port to check";
    return r;
  }
  auto got = http_get(host, uint16_t(port), "/metrics", 3);
  r.metrics.available = got && got->status == 200;
  r.metrics.detail = url + (got ? (got->status == 200 ? "" : ": HTTP " + std::to_string(got->status)) : ": " + got.error().describe());
  return r;
}

}  // namespace kata_sentry::daemon
