# joined_bench: guest syscall -> host alert latency (p50/p99) and guest->host event throughput
# through the SandboxMonitor (issue 5). Boots one sandbox; under TCG on this machine.
add_executable(joined_bench ${CMAKE_CURRENT_SOURCE_DIR}/joined_bench.cpp)
target_link_libraries(joined_bench PRIVATE ks_monitor ks_run_monitor)
set_target_properties(joined_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
if(TARGET guest_image)
  add_dependencies(joined_bench guest_image)
endif()
