# The test-hygiene self-test: a fixture project built with the same ks_test() shows that a skip,
# a disabled test, a binary with no test, and an empty, skipping or unlistable tier all fail
# (tests/ks_test.cmake, tests/support/gtest_main.cpp, scripts/run-tests.sh).
add_test(NAME unit.test_hygiene
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/hygiene/hygiene_test.sh ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR}/tests/hygiene-fixture
          ${CMAKE_COMMAND} ${CMAKE_CTEST_COMMAND} ${CMAKE_CXX_COMPILER})
set_tests_properties(unit.test_hygiene PROPERTIES LABELS unit TIMEOUT 300
  ENVIRONMENT "KS_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}")
