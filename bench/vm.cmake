# vm_run_bench: cold `kata-sentry run -- true` by phase, QEMU and agent RSS (issue 4).
add_executable(vm_run_bench ${CMAKE_CURRENT_SOURCE_DIR}/vm_run_bench.cpp)
target_link_libraries(vm_run_bench PRIVATE ks_runtime)
set_target_properties(vm_run_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
if(TARGET guest_image)
  add_dependencies(vm_run_bench guest_image)
endif()
