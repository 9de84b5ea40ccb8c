# deploy/ files: YAML parses, Kubernetes objects and configs carry what the runtime needs,
# containerd and systemd accept the snippet and the unit (no root needed).
ks_test(deploy_files_test TIER unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/deploy_files_test.cpp
  LIBS ks_test_support ks_sentryd ks_shim yaml-cpp)
target_compile_definitions(deploy_files_test PRIVATE KS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
