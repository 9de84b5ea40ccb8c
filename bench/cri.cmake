# cri_pod_bench: a pod through containerd's CRI plugin, kata-sentry vs runc: start time and
# pod -> host TCP throughput through the tap + tc path (issue 14).
add_executable(cri_pod_bench ${CMAKE_CURRENT_SOURCE_DIR}/cri_pod_bench.cpp)
target_link_libraries(cri_pod_bench PRIVATE ks_cri_node)
set_target_properties(cri_pod_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
add_dependencies(cri_pod_bench containerd-shim-kata-sentry-v2 busybox_oci_image guest_image)
target_compile_definitions(cri_pod_bench PRIVATE
  KS_BIN_DIR="$<TARGET_FILE_DIR:containerd-shim-kata-sentry-v2>"
  KS_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  KS_BUSYBOX_OCI="${KS_BUSYBOX_OCI}"
  KS_PAUSE_OCI="${KS_PAUSE_OCI}")
