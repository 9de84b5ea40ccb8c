# Container launcher latency against a bare fork+exec (host, root).
add_executable(container_bench ${CMAKE_CURRENT_LIST_DIR}/container_bench.cpp)
target_link_libraries(container_bench PRIVATE ks_agent_container)
set_target_properties(container_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
