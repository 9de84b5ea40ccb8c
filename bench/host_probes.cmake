# Host probes: syscall overhead (off / attached but scoped away / scoped in) and
# ring-buffer record -> Event decode throughput. Needs root.
add_executable(host_probes_bench ${CMAKE_CURRENT_LIST_DIR}/host_probes_bench.cpp)
target_link_libraries(host_probes_bench PRIVATE ks_host_probes ks_core Threads::Threads)
set_target_properties(host_probes_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
