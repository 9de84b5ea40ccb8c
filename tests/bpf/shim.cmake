# The shim's ttrpc socket against other local users (root: a child drops to uid 65534).
ks_test(ttrpc_peer_test TIER bpf
  SOURCES ${PROJECT_SOURCE_DIR}/tests/shim/ttrpc_peer_test.cpp
  LIBS ks_ttrpc)
