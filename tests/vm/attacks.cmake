# Joined view (issue 5, host half): the SandboxMonitor with a fake guest (unit tier) and the
# real attacks in a booted sandbox (vm tier, tests/attacks/).
add_executable(sandbox_monitor_test ${PROJECT_SOURCE_DIR}/tests/attacks/sandbox_monitor_test.cpp)
target_link_libraries(sandbox_monitor_test PRIVATE ks_monitor ks_run_monitor GTest::gtest GTest::gtest_main)
set_target_properties(sandbox_monitor_test PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.sandbox_monitor COMMAND sandbox_monitor_test)
set_tests_properties(unit.sandbox_monitor PROPERTIES LABELS unit TIMEOUT 60)

# ks-attack: static, so it runs inside the busybox rootfs of a guest container.
add_executable(ks_attack_helper ${PROJECT_SOURCE_DIR}/tests/attacks/attack_helper.c)
target_link_options(ks_attack_helper PRIVATE -static)
set_target_properties(ks_attack_helper PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests OUTPUT_NAME ks-attack)

add_executable(attacks_vm_test ${PROJECT_SOURCE_DIR}/tests/attacks/attacks_vm_test.cpp)
target_link_libraries(attacks_vm_test PRIVATE ks_monitor ks_run_monitor GTest::gtest GTest::gtest_main)
target_compile_definitions(attacks_vm_test PRIVATE KS_ATTACK_HELPER="$<TARGET_FILE:ks_attack_helper>")
set_target_properties(attacks_vm_test PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_dependencies(attacks_vm_test ks_attack_helper)
if(TARGET guest_image)
  add_dependencies(attacks_vm_test guest_image)
endif()
# One ctest entry: each suite shares one booted sandbox across its tests.
add_test(NAME vm.attacks COMMAND attacks_vm_test)
set_tests_properties(vm.attacks PROPERTIES LABELS vm TIMEOUT 600 RUN_SERIAL TRUE
                     SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
