# kata-sentryd's fan-out to kata-trace subscribers (events/s per subscriber, with and without
# a server-side filter) against the engine's own rate.
add_executable(sentryd_fanout_bench ${CMAKE_CURRENT_LIST_DIR}/sentryd_fanout_bench.cpp)
target_link_libraries(sentryd_fanout_bench PRIVATE ks_sentryd)
target_include_directories(sentryd_fanout_bench PRIVATE ${PROJECT_SOURCE_DIR})
set_target_properties(sentryd_fanout_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
