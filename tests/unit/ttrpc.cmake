# The shim's ttrpc server and Task service (runtime/shim), no privileges needed.
ks_test(ttrpc_test TIER unit
  SOURCES ${CMAKE_SOURCE_DIR}/tests/shim/ttrpc_test.cpp
  LIBS ks_ttrpc)
ks_test(task_service_test TIER unit
  SOURCES ${CMAKE_SOURCE_DIR}/tests/shim/task_service_test.cpp
  LIBS ks_shim ks_containerd_proto)
ks_test(guest_event_relay_test TIER unit
  SOURCES ${CMAKE_SOURCE_DIR}/tests/shim/guest_event_relay_test.cpp
  LIBS ks_shim ks_proto)
ks_test(cri_annotations_test TIER unit
  SOURCES ${CMAKE_SOURCE_DIR}/tests/shim/cri_annotations_test.cpp
  LIBS ks_shim)
