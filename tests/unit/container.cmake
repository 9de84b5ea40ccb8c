ks_test(container_unit_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/container/oci_spec_test.cpp
          ${PROJECT_SOURCE_DIR}/tests/container/cgroup_test.cpp
          ${PROJECT_SOURCE_DIR}/tests/container/launch_plan_test.cpp
  LIBS ks_agent_container)
