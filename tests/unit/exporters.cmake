# The audit log and the exporters (exporters/), against real files, tmpfs and real servers.
ks_test(audit_log_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/exporters/audit_log_test.cpp
  LIBS ks_exporters ks_test_support)
ks_test(audit_disk_full_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/exporters/audit_disk_full_test.cpp
  LIBS ks_exporters ks_test_support)
add_executable(audit_burst ${PROJECT_SOURCE_DIR}/tests/exporters/audit_burst_main.cpp)
target_link_libraries(audit_burst PRIVATE ks_exporters)
set_target_properties(audit_burst PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
ks_test(audit_crash_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/exporters/audit_crash_test.cpp
  LIBS ks_exporters ks_test_support)
target_compile_definitions(audit_crash_test PRIVATE KS_AUDIT_BURST="$<TARGET_FILE:audit_burst>")
add_dependencies(audit_crash_test audit_burst)
ks_test(syslog_sink_test TIER unit TIMEOUT 300
  SOURCES ${PROJECT_SOURCE_DIR}/tests/exporters/syslog_sink_test.cpp
  LIBS ks_exporters ks_test_support)
ks_test(nats_sink_test TIER unit TIMEOUT 300
  SOURCES ${PROJECT_SOURCE_DIR}/tests/exporters/nats_sink_test.cpp
  LIBS ks_exporters ks_test_support PkgConfig::NATS)
ks_test(http_sink_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/exporters/http_sink_test.cpp
  LIBS ks_exporters ks_test_support)
ks_test(kafka_sink_test TIER unit TIMEOUT 400
  SOURCES ${PROJECT_SOURCE_DIR}/tests/exporters/kafka_sink_test.cpp
  LIBS ks_exporters ks_test_support PkgConfig::RDKAFKA)
ks_test(exporter_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/exporters/exporter_test.cpp
  LIBS ks_exporters ks_test_support yaml-cpp)
# `kata-sentry audit verify|show|tail` and kata-sentryd's recovery on the real binaries: a
# flipped byte named by file, offset and seq; a truncated tail reported, then recovered on start.
add_test(NAME unit.audit_cli
  COMMAND ${PROJECT_SOURCE_DIR}/tests/exporters/audit_cli_test.sh $<TARGET_FILE:kata-sentry> $<TARGET_FILE:kata-sentryd>
          $<TARGET_FILE:audit_burst>)
set_tests_properties(unit.audit_cli PROPERTIES LABELS unit TIMEOUT 60)
