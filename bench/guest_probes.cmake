# guest_probes_bench: guest -> host event throughput through StreamEvents until the first drop,
# and the per-open cost inside the guest with the sensor loaded (issue 5, guest half).
if(TARGET ks_runtime)
  add_executable(guest_probes_bench ${CMAKE_CURRENT_SOURCE_DIR}/guest_probes_bench.cpp)
  target_link_libraries(guest_probes_bench PRIVATE ks_runtime)
  set_target_properties(guest_probes_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  if(TARGET guest_image)
    add_dependencies(guest_probes_bench guest_image)
  endif()
endif()
