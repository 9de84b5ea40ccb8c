ks_test(ttrpc_test TIER unit
  SOURCES ${CMAKE_SOURCE_DIR}/tests/shim/ttrpc_test.cpp
  LIBS ks_ttrpc)
