# The shim against a private containerd (root; containerd from scripts/setup.sh).
ks_test(shim_e2e_test TIER e2e
  SOURCES ${CMAKE_SOURCE_DIR}/tests/shim/shim_e2e_test.cpp
  LIBS ks_shim ks_containerd_proto ks_test_support
  TIMEOUT 300)
add_dependencies(shim_e2e_test containerd-shim-kata-sentry-v2 busybox_oci_image)
target_compile_definitions(shim_e2e_test PRIVATE
  KS_SHIM_BINARY="$<TARGET_FILE:containerd-shim-kata-sentry-v2>"
  KS_BUSYBOX_OCI="${KS_BUSYBOX_OCI}")

# ctr as users run it: the runtime by name on containerd's PATH (build tree and installed layout),
# two containers of one pod, runc as the reference.
ks_test(ctr_e2e_test TIER e2e
  SOURCES ${CMAKE_SOURCE_DIR}/tests/shim/ctr_e2e_test.cpp
  LIBS ks_test_support
  TIMEOUT 400)
add_dependencies(ctr_e2e_test containerd-shim-kata-sentry-v2 kata-sentry busybox_oci_image guest_image)
target_compile_definitions(ctr_e2e_test PRIVATE
  KS_BIN_DIR="$<TARGET_FILE_DIR:containerd-shim-kata-sentry-v2>"
  KS_BUILD_DIR="${CMAKE_BINARY_DIR}"
  KS_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  KS_GUEST_RELEASE_FILE="${CMAKE_BINARY_DIR}/guest/release"
  KS_BUSYBOX_OCI="${KS_BUSYBOX_OCI}")

# containerd + shim + kata-sentryd: detection and blocking through ctr run, fail-closed.
ks_test(sentryd_e2e_test TIER e2e
  SOURCES ${CMAKE_SOURCE_DIR}/tests/shim/sentryd_e2e_test.cpp
  LIBS ks_test_support nlohmann_json::nlohmann_json
  TIMEOUT 400)
add_dependencies(sentryd_e2e_test containerd-shim-kata-sentry-v2 kata-sentryd kata-trace busybox_oci_image guest_image)
target_compile_definitions(sentryd_e2e_test PRIVATE
  KS_BIN_DIR="$<TARGET_FILE_DIR:containerd-shim-kata-sentry-v2>"
  KS_SENTRYD_BINARY="$<TARGET_FILE:kata-sentryd>"
  KS_TRACE_BINARY="$<TARGET_FILE:kata-trace>"
  KS_BUSYBOX_OCI="${KS_BUSYBOX_OCI}")

# A pod through containerd's real CRI plugin with the kata-sentry RuntimeClass handler
# (deploy/containerd/kata-sentry.toml), CNI bridge networking into the VM, volumes, teardown.
ks_test(cri_e2e_test TIER e2e
  SOURCES ${CMAKE_SOURCE_DIR}/tests/shim/cri_e2e_test.cpp
  LIBS ks_cri_node ks_core nlohmann_json::nlohmann_json
  TIMEOUT 600)
add_dependencies(cri_e2e_test containerd-shim-kata-sentry-v2 kata-sentryd busybox_oci_image guest_image)
target_compile_definitions(cri_e2e_test PRIVATE
  KS_BIN_DIR="$<TARGET_FILE_DIR:containerd-shim-kata-sentry-v2>"
  KS_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  KS_GUEST_RELEASE_FILE="${CMAKE_BINARY_DIR}/guest/release"
  KS_BUSYBOX_OCI="${KS_BUSYBOX_OCI}"
  KS_PAUSE_OCI="${KS_PAUSE_OCI}"
  KS_SENTRYD_BINARY="$<TARGET_FILE:kata-sentryd>")
