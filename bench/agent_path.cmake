# agent_path_bench: the guest agent's per-event user-space path (decode -> process table ->
# stream queue -> protobuf batch), natively on synthetic ring-buffer records.
add_executable(agent_path_bench ${CMAKE_CURRENT_LIST_DIR}/agent_path_bench.cpp)
target_link_libraries(agent_path_bench PRIVATE ks_guest_probes_core ks_syscall_probes ks_proto ks_core)
target_include_directories(agent_path_bench PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/bpf/include)
set_target_properties(agent_path_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
