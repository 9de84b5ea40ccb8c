# kata-trace's output formats (tools/kata-trace).
ks_test(trace_format_test TIER unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/trace_format_test.cpp
  LIBS ks_trace_tool)
target_include_directories(trace_format_test PRIVATE ${PROJECT_SOURCE_DIR})
