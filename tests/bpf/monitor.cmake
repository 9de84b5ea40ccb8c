# Root, no VM: the sandbox monitor with the real host probes and host deny programs on a
# scratch cgroup.
ks_test(sandbox_monitor_bpf_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/attacks/sandbox_monitor_bpf_test.cpp
  LIBS ks_monitor PkgConfig::LIBBPF
  TIMEOUT 120)
