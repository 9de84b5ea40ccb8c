# bench_summary: the table `make bench` ends with (scripts/run-bench.sh runs it after the
# benchmarks). Built outside build/bench/ so that the benchmark loop does not run it.
add_executable(bench_summary ${CMAKE_CURRENT_SOURCE_DIR}/summary/bench_summary.cpp)
target_include_directories(bench_summary PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(bench_summary PRIVATE nlohmann_json::nlohmann_json)
set_target_properties(bench_summary PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench-tools)
