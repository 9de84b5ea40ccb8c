# ks_agent_service: the in-guest gRPC agent service (proto/agent.proto) over ks_agent_container.
# Entry point: agent/service/agent_server.h (serve_agent).
add_library(ks_agent_service STATIC
  service/agent_server.cpp
  service/agent_service.cpp
  service/guest_details.cpp
  service/guest_network.cpp
  service/request_checks.cpp
  service/sandbox.cpp
  sensor/sensor_rpc.cpp
)
target_include_directories(ks_agent_service PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_definitions(ks_agent_service PRIVATE KS_AGENT_VERSION="${PROJECT_VERSION}")
target_link_libraries(ks_agent_service
  PUBLIC ks_core ks_agent_container
  PRIVATE ks_proto ks_guest_probes ks_grpc nlohmann_json::nlohmann_json Threads::Threads)
