# unit tier for the VM launcher (no VM, no root): QEMU argv, child supervision, QMP, OCI images.
ks_test(vm_launcher_test TIER unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/vm_launcher_test.cpp
  LIBS ks_runtime)
target_compile_definitions(vm_launcher_test PRIVATE KS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# How a container's host spec (CRI volumes, pod namespaces) becomes the guest's.
ks_test(guest_spec_test TIER unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/guest_spec_test.cpp
  LIBS ks_runtime)
