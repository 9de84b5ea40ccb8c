# Agent protocol (issue 4): real agent service + real client over a socketpair, no containers.
add_executable(agent_rpc_server_helper ${PROJECT_SOURCE_DIR}/tests/agent_rpc/agent_rpc_server_helper.cpp)
target_link_libraries(agent_rpc_server_helper PRIVATE ks_agent_service)
set_target_properties(agent_rpc_server_helper PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

ks_test(background_sensor_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/agent_rpc/background_sensor_test.cpp
  LIBS ks_core Threads::Threads
  TIMEOUT 30)

ks_test(agent_rpc_unit_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/agent_rpc/agent_rpc_unit_test.cpp
  LIBS ks_agent_service ks_agent_client ks_proto
  TIMEOUT 60)
target_compile_definitions(agent_rpc_unit_test PRIVATE
  AGENT_RPC_SERVER_HELPER="$<TARGET_FILE:agent_rpc_server_helper>")
add_dependencies(agent_rpc_unit_test agent_rpc_server_helper)
