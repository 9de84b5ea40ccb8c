# Guest sensor (issue 5, guest half): the deny compiler and event queue (unit tier) and the
# sensor in a booted sandbox (vm tier; one VM for the whole suite, so one ctest entry).
ks_test(guest_probes_unit_test TIER unit ENTRY unit.guest_probes TIMEOUT 60
  SOURCES ${PROJECT_SOURCE_DIR}/tests/guest_probes/deny_compiler_test.cpp
          ${PROJECT_SOURCE_DIR}/tests/guest_probes/event_stream_test.cpp
  LIBS ks_guest_probes_core)

ks_test(guest_probes_vm_test TIER vm ENTRY vm.guest_probes RUN_SERIAL TIMEOUT 420
  SOURCES ${PROJECT_SOURCE_DIR}/tests/guest_probes/guest_probes_vm_test.cpp
  LIBS ks_runtime ks_proto)
# ks-attack (tests/vm/attacks.cmake) makes the syscalls busybox does not.
target_compile_definitions(guest_probes_vm_test PRIVATE KS_ATTACK_HELPER="$<TARGET_FILE:ks_attack_helper>")
add_dependencies(guest_probes_vm_test ks_attack_helper)
if(TARGET guest_image)
  add_dependencies(guest_probes_vm_test guest_image)
endif()
