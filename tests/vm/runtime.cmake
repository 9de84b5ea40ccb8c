# vm tier for the sandbox runtime (issue 4). Registered as ONE ctest entry per executable rather
# than one per gtest case: the SandboxVm suite shares a single booted VM across its tests.
ks_test(sandbox_vm_test TIER vm ENTRY vm.sandbox_runtime RUN_SERIAL TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/sandbox_vm_test.cpp
  LIBS ks_runtime)
target_compile_definitions(sandbox_vm_test PRIVATE KS_CLI_PATH="$<TARGET_FILE:kata-sentry>" KS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(sandbox_vm_test kata-sentry)
if(TARGET guest_image)
  add_dependencies(sandbox_vm_test guest_image)
endif()
