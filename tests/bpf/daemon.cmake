# kata-sentryd as a process (root: its host probes load for each registered sandbox).
ks_test(sentryd_api_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/daemon/sentryd_api_test.cpp
  LIBS ks_proto gRPC::grpc++ nlohmann_json::nlohmann_json
  TIMEOUT 180)
target_include_directories(sentryd_api_test PRIVATE ${PROJECT_SOURCE_DIR})
add_dependencies(sentryd_api_test kata-sentryd)
target_compile_definitions(sentryd_api_test PRIVATE KS_SENTRYD_BINARY="$<TARGET_FILE:kata-sentryd>")

# The guest is hostile: floods, lies and a hung shim against the real kata-sentryd.
ks_test(hostile_guest_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/daemon/hostile_guest_test.cpp
  LIBS ks_proto gRPC::grpc++ nlohmann_json::nlohmann_json
  TIMEOUT 300)
target_include_directories(hostile_guest_test PRIVATE ${PROJECT_SOURCE_DIR})
add_dependencies(hostile_guest_test kata-sentryd)
target_compile_definitions(hostile_guest_test PRIVATE KS_SENTRYD_BINARY="$<TARGET_FILE:kata-sentryd>"
  KS_SOURCE_RULES_DIR="${PROJECT_SOURCE_DIR}/rules")

# kill -9 kata-sentryd mid-burst: the audit log keeps every acknowledged record and the sinks
# (alerts file, syslog to a real rsyslogd) resume without a gap.
ks_test(sentryd_crash_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/daemon/sentryd_crash_test.cpp
  LIBS ks_proto ks_exporters ks_test_support gRPC::grpc++ nlohmann_json::nlohmann_json
  TIMEOUT 400)
target_include_directories(sentryd_crash_test PRIVATE ${PROJECT_SOURCE_DIR})
add_dependencies(sentryd_crash_test kata-sentryd)
target_compile_definitions(sentryd_crash_test PRIVATE KS_SENTRYD_BINARY="$<TARGET_FILE:kata-sentryd>")

# kata-trace (a process) against kata-sentryd (a process) and a fake shim relay.
ks_test(kata_trace_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/daemon/kata_trace_test.cpp
  LIBS ks_proto gRPC::grpc++ nlohmann_json::nlohmann_json
  TIMEOUT 300)
target_include_directories(kata_trace_test PRIVATE ${PROJECT_SOURCE_DIR})
add_dependencies(kata_trace_test kata-sentryd kata-trace)
target_compile_definitions(kata_trace_test PRIVATE KS_SENTRYD_BINARY="$<TARGET_FILE:kata-sentryd>"
  KS_TRACE_BINARY="$<TARGET_FILE:kata-trace>")

# kata-sentryd's Prometheus metrics scraped by a real Prometheus server.
ks_test(sentryd_metrics_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/daemon/metrics_test.cpp
  LIBS ks_proto gRPC::grpc++ nlohmann_json::nlohmann_json
  TIMEOUT 300)
target_include_directories(sentryd_metrics_test PRIVATE ${PROJECT_SOURCE_DIR})
add_dependencies(sentryd_metrics_test kata-sentryd kata-sentry)
target_compile_definitions(sentryd_metrics_test PRIVATE KS_SENTRYD_BINARY="$<TARGET_FILE:kata-sentryd>"
  KS_CLI_BINARY="$<TARGET_FILE:kata-sentry>")
