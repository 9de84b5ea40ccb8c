# kata-sentryd's config, event hub and relay link; the shim's config.
ks_test(daemon_unit_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/daemon/daemon_config_test.cpp
          ${PROJECT_SOURCE_DIR}/tests/daemon/relay_and_hub_test.cpp
  LIBS ks_sentryd ks_shim)
