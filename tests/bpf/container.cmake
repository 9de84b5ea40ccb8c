# Container launcher on the host as root: real namespaces, mounts, seccomp, cgroup v2.
ks_test(container_host_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/container/container_test.cpp
  LIBS ks_agent_container
  TIMEOUT 60)
