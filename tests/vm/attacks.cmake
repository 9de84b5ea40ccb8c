# Joined view (issue 5, host half): the SandboxMonitor with a fake guest (unit tier) and the
# real attacks in a booted sandbox (vm tier, tests/attacks/).
ks_test(sandbox_monitor_test TIER unit ENTRY unit.sandbox_monitor TIMEOUT 60
  SOURCES ${PROJECT_SOURCE_DIR}/tests/attacks/sandbox_monitor_test.cpp
  LIBS ks_monitor ks_run_monitor)

# ks-attack: static, so it runs inside the busybox rootfs of a guest container.
add_executable(ks_attack_helper ${PROJECT_SOURCE_DIR}/tests/attacks/attack_helper.c)
target_link_options(ks_attack_helper PRIVATE -static)
set_target_properties(ks_attack_helper PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests OUTPUT_NAME ks-attack)

# One ctest entry: each suite shares one booted sandbox across its tests.
ks_test(attacks_vm_test TIER vm ENTRY vm.attacks RUN_SERIAL TIMEOUT 600
  SOURCES ${PROJECT_SOURCE_DIR}/tests/attacks/attacks_vm_test.cpp
  LIBS ks_monitor ks_run_monitor)
target_compile_definitions(attacks_vm_test PRIVATE KS_ATTACK_HELPER="$<TARGET_FILE:ks_attack_helper>")
add_dependencies(attacks_vm_test ks_attack_helper)
if(TARGET guest_image)
  add_dependencies(attacks_vm_test guest_image)
endif()
