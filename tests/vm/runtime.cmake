# vm tier for the sandbox runtime (issue 4). Registered as ONE ctest entry per executable rather
# than one per gtest case: the SandboxVm suite shares a single booted VM across its tests.
add_executable(sandbox_vm_test ${CMAKE_CURRENT_SOURCE_DIR}/sandbox_vm_test.cpp)
target_link_libraries(sandbox_vm_test PRIVATE ks_runtime GTest::gtest GTest::gtest_main)
target_compile_definitions(sandbox_vm_test PRIVATE KS_CLI_PATH="$<TARGET_FILE:kata-sentry>" KS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
set_target_properties(sandbox_vm_test PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_dependencies(sandbox_vm_test kata-sentry)
if(TARGET guest_image)
  add_dependencies(sandbox_vm_test guest_image)
endif()
add_test(NAME vm.sandbox_runtime COMMAND sandbox_vm_test)
set_tests_properties(vm.sandbox_runtime PROPERTIES LABELS vm TIMEOUT 300 RUN_SERIAL TRUE
                     SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
