# Guest sensor (issue 5, guest half): the deny compiler and event queue (unit tier) and the
# sensor in a booted sandbox (vm tier; one VM for the whole suite, so one ctest entry).
add_executable(guest_probes_unit_test ${PROJECT_SOURCE_DIR}/tests/guest_probes/deny_compiler_test.cpp
                                      ${PROJECT_SOURCE_DIR}/tests/guest_probes/event_stream_test.cpp)
target_link_libraries(guest_probes_unit_test PRIVATE ks_guest_probes_core GTest::gtest GTest::gtest_main)
set_target_properties(guest_probes_unit_test PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit.guest_probes COMMAND guest_probes_unit_test)
set_tests_properties(unit.guest_probes PROPERTIES LABELS unit TIMEOUT 60)

if(TARGET ks_runtime)
  add_executable(guest_probes_vm_test ${PROJECT_SOURCE_DIR}/tests/guest_probes/guest_probes_vm_test.cpp)
  target_link_libraries(guest_probes_vm_test PRIVATE ks_runtime ks_proto GTest::gtest GTest::gtest_main)
  set_target_properties(guest_probes_vm_test PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  if(TARGET guest_image)
    add_dependencies(guest_probes_vm_test guest_image)
  endif()
  add_test(NAME vm.guest_probes COMMAND guest_probes_vm_test)
  set_tests_properties(vm.guest_probes PROPERTIES LABELS vm TIMEOUT 300 RUN_SERIAL TRUE
                       SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endif()
