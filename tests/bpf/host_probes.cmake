# Root: loads the real host probes and asserts on events of forked children.
ks_test(host_probes_bpf_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/host_probes/host_probes_bpf_test.cpp
  LIBS ks_host_probes
  TIMEOUT 120)
