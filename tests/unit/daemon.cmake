# kata-sentryd's config, event hub, relay link and process join; the shim's config.
ks_test(daemon_unit_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/daemon/daemon_config_test.cpp
          ${PROJECT_SOURCE_DIR}/tests/daemon/relay_and_hub_test.cpp
          ${PROJECT_SOURCE_DIR}/tests/daemon/sandbox_processes_test.cpp
  LIBS ks_sentryd ks_shim)
# `kata-sentry run --metrics`: the run's monitor serves the daemon's metrics (a real GET).
ks_test(run_metrics_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/daemon/run_metrics_test.cpp
  LIBS ks_run_monitor ks_sentryd)
target_include_directories(run_metrics_test PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(run_metrics_test PRIVATE KS_RULES_DIR="${PROJECT_SOURCE_DIR}/rules")
