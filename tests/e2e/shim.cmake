# The shim against a private containerd (root; containerd from scripts/setup.sh).
ks_test(shim_e2e_test TIER e2e
  SOURCES ${CMAKE_SOURCE_DIR}/tests/shim/shim_e2e_test.cpp
  LIBS ks_shim ks_containerd_proto ks_test_support
  TIMEOUT 300)
add_dependencies(shim_e2e_test containerd-shim-kata-sentry-v2 busybox_oci_image)
target_compile_definitions(shim_e2e_test PRIVATE
  KS_SHIM_BINARY="$<TARGET_FILE:containerd-shim-kata-sentry-v2>"
  KS_BUSYBOX_OCI="${KS_BUSYBOX_OCI}")
