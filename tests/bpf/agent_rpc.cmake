# Agent service end to end on the host as root (no VM): real containers launched through the
# real gRPC service, driven by the real client. The server helper comes from tests/unit/agent_rpc.cmake.
ks_test(agent_rpc_container_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/agent_rpc/agent_rpc_container_test.cpp
  LIBS ks_agent_service ks_agent_client ks_agent_container
  TIMEOUT 120)
target_compile_definitions(agent_rpc_container_test PRIVATE
  AGENT_RPC_SERVER_HELPER="$<TARGET_FILE:agent_rpc_server_helper>")
add_dependencies(agent_rpc_container_test agent_rpc_server_helper)
