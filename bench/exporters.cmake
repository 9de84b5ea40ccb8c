# The audit log and the exporters against real servers (rsyslogd, nats-server, librdkafka's
# mock cluster, a local HTTP server): append rates vs the disk, records/s per sink, alert ->
# rsyslog latency, and detection with every sink on vs off.
add_executable(exporters_bench ${CMAKE_CURRENT_LIST_DIR}/exporters_bench.cpp)
target_link_libraries(exporters_bench PRIVATE ks_exporters ks_monitor ks_policy ks_test_support PkgConfig::RDKAFKA)
target_include_directories(exporters_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(exporters_bench PRIVATE KS_DEFAULT_RULES_DIR="${PROJECT_SOURCE_DIR}/rules")
set_target_properties(exporters_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
