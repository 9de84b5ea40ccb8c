# Root: loads the real host probes and asserts on events of forked children.
ks_test(host_probes_bpf_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/host_probes/host_probes_bpf_test.cpp
  LIBS ks_host_probes
  TIMEOUT 120)

# Root: the host deny cgroup programs on a scratch cgroup v2 directory.
ks_test(host_deny_bpf_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/host_probes/host_deny_bpf_test.cpp
  LIBS ks_host_probes PkgConfig::LIBBPF
  TIMEOUT 60)
