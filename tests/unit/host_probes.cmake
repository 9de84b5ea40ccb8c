ks_test(host_probes_unit_test TIER unit
  SOURCES ${PROJECT_SOURCE_DIR}/tests/host_probes/proc_table_test.cpp
          ${PROJECT_SOURCE_DIR}/tests/host_probes/capabilities_test.cpp
          ${PROJECT_SOURCE_DIR}/tests/host_probes/host_deny_compiler_test.cpp
          ${PROJECT_SOURCE_DIR}/tests/host_probes/program_types_test.cpp
  LIBS ks_host_probes ks_syscall_probes_skel PkgConfig::LIBBPF)
