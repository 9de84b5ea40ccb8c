# guest_probes_bench: in one guest boot, the per-syscall cost with the guest probes attached vs
# detached (interleaved), also with the default rules' deny set installed, and the guest -> host
# event rate sustained before the first drop.
if(TARGET ks_runtime)
  # ks-load: static, so it runs inside the busybox rootfs of a guest container.
  add_executable(ks_load_helper ${CMAKE_CURRENT_SOURCE_DIR}/guest_load.c)
  target_link_options(ks_load_helper PRIVATE -static)
  set_target_properties(ks_load_helper PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests OUTPUT_NAME ks-load)
  add_executable(guest_probes_bench ${CMAKE_CURRENT_SOURCE_DIR}/guest_probes_bench.cpp)
  target_link_libraries(guest_probes_bench PRIVATE ks_runtime ks_proto ks_monitor)
  target_compile_definitions(guest_probes_bench PRIVATE KS_LOAD_HELPER="$<TARGET_FILE:ks_load_helper>")
  add_dependencies(guest_probes_bench ks_load_helper)
  set_target_properties(guest_probes_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  if(TARGET guest_image)
    add_dependencies(guest_probes_bench guest_image)
  endif()
endif()
