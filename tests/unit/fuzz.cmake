# libFuzzer targets for the condition parser, the YAML loader, the guest wire (what a guest
# can send to kata-sentryd through the shim's relay), the shim's ttrpc server (what reaches its
# socket) and the agent's request checks (what the host sends into the guest), run ~15 s each
# in the unit tier; `make fuzz` (scripts/run-fuzz.sh) runs each for 10 M inputs. Built with
# GCC + ASan/UBSan and compiler-rt's libFuzzer engine; coverage comes from GCC's
# trace-pc/trace-cmp through tests/fuzz/coverage_bridge.cpp (clang 14 cannot compile the
# project's C++23: libstdc++'s <expected>).
file(GLOB KS_LIBFUZZER /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a)
if(KS_LIBFUZZER)
  # ks_fuzz_run(<fuzzer> <corpus> <max_len>): the unit-tier run of a fuzzer, ~15 s on a fresh
  # copy of its seeds in tests/fuzz/corpus/<corpus>/ (none: an empty corpus), so that runs do
  # not grow the source tree; and its line in fuzz/fuzzers.tsv, which make fuzz reads.
  function(ks_fuzz_run name corpus max_len)
    set(seeds ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${corpus})
    set(work ${CMAKE_BINARY_DIR}/fuzz/corpus-${corpus})
    add_test(NAME unit.${name}
      COMMAND sh -c "rm -rf ${work} && mkdir -p ${work} && { [ ! -d ${seeds} ] || cp -r ${seeds}/. ${work}/; } && $<TARGET_FILE:${name}> -max_total_time=15 -rss_limit_mb=2048 -max_len=${max_len} -print_final_stats=1 ${work}")
    set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 90)
    set_property(GLOBAL APPEND PROPERTY KS_FUZZ_RUNS "${name}\t$<TARGET_FILE:${name}>\t${seeds}\t${max_len}\n")
  endfunction()

  list(GET KS_LIBFUZZER 0 KS_LIBFUZZER)
  set(KS_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_library(ks_policy_fuzzlib STATIC ${KS_POLICY_SOURCES}
    ${PROJECT_SOURCE_DIR}/core/capability_names.cpp ${PROJECT_SOURCE_DIR}/core/event.cpp ${PROJECT_SOURCE_DIR}/core/event_json.cpp ${PROJECT_SOURCE_DIR}/core/json_line_writer.cpp
    ${PROJECT_SOURCE_DIR}/core/field_filters.cpp
    ${PROJECT_SOURCE_DIR}/core/terminal_text.cpp ${PROJECT_SOURCE_DIR}/core/utf8.cpp)
  target_include_directories(ks_policy_fuzzlib PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/bpf/include)
  target_compile_options(ks_policy_fuzzlib PUBLIC ${KS_FUZZ_SAN} -O1 -g
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize-coverage=trace-pc,trace-cmp>)
  target_link_libraries(ks_policy_fuzzlib PUBLIC yaml-cpp PkgConfig::RE2 nlohmann_json::nlohmann_json)
  target_link_options(ks_policy_fuzzlib PUBLIC ${KS_FUZZ_SAN})
  set_target_properties(ks_policy_fuzzlib PROPERTIES EXCLUDE_FROM_ALL OFF)

  add_library(ks_fuzz_bridge STATIC ${PROJECT_SOURCE_DIR}/tests/fuzz/coverage_bridge.cpp)
  foreach(target condition loader)
    add_executable(policy_${target}_fuzz ${PROJECT_SOURCE_DIR}/tests/fuzz/policy_${target}_fuzz.cpp)
    target_link_libraries(policy_${target}_fuzz PRIVATE ks_policy_fuzzlib ks_fuzz_bridge ${KS_LIBFUZZER} Threads::Threads dl)
    # libFuzzer 14 has its own (unused by clang) __sanitizer_cov_trace_pc; the bridge's, linked first, wins.
    target_link_options(policy_${target}_fuzz PRIVATE -Wl,--allow-multiple-definition)
    set_target_properties(policy_${target}_fuzz PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
    ks_fuzz_run(policy_${target}_fuzz ${target} 4096)
  endforeach()

  # The guest wire: our decoding (proto/guest_wire.cpp, deny_rule_convert.cpp, core/guest_text.cpp)
  # instrumented; the generated protobuf code and the event conversion come uninstrumented
  # from ks_proto.
  add_executable(guest_wire_fuzz ${PROJECT_SOURCE_DIR}/tests/fuzz/guest_wire_fuzz.cpp
    ${PROJECT_SOURCE_DIR}/proto/guest_wire.cpp ${PROJECT_SOURCE_DIR}/core/guest_text.cpp
    ${PROJECT_SOURCE_DIR}/proto/deny_rule_convert.cpp)
  target_compile_options(guest_wire_fuzz PRIVATE ${KS_FUZZ_SAN} -O1 -g -fsanitize-coverage=trace-pc,trace-cmp)
  target_link_options(guest_wire_fuzz PRIVATE ${KS_FUZZ_SAN} -Wl,--allow-multiple-definition)
  target_include_directories(guest_wire_fuzz PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(guest_wire_fuzz PRIVATE ks_fuzz_bridge ${KS_LIBFUZZER} ks_proto ks_core gRPC::grpc++ Threads::Threads dl)
  set_target_properties(guest_wire_fuzz PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  ks_fuzz_run(guest_wire_fuzz wire 8192)

  # The shim's ttrpc server: framing and request routing (frame.cpp, protocol.cpp)
  # instrumented; ttrpc.pb.cc comes uninstrumented from ks_ttrpc, which also gives the
  # generated header's directory.
  add_executable(ttrpc_frame_fuzz ${PROJECT_SOURCE_DIR}/tests/fuzz/ttrpc_frame_fuzz.cpp
    ${PROJECT_SOURCE_DIR}/runtime/shim/ttrpc/frame.cpp ${PROJECT_SOURCE_DIR}/runtime/shim/ttrpc/protocol.cpp
    ${PROJECT_SOURCE_DIR}/core/utf8.cpp)
  target_compile_options(ttrpc_frame_fuzz PRIVATE ${KS_FUZZ_SAN} -O1 -g -fsanitize-coverage=trace-pc,trace-cmp)
  target_link_options(ttrpc_frame_fuzz PRIVATE ${KS_FUZZ_SAN} -Wl,--allow-multiple-definition)
  target_include_directories(ttrpc_frame_fuzz PRIVATE ${PROJECT_SOURCE_DIR} $<TARGET_PROPERTY:ks_ttrpc,INCLUDE_DIRECTORIES>)
  target_link_libraries(ttrpc_frame_fuzz PRIVATE ks_fuzz_bridge ${KS_LIBFUZZER} ks_ttrpc ks_core Threads::Threads dl)
  set_target_properties(ttrpc_frame_fuzz PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  ks_fuzz_run(ttrpc_frame_fuzz ttrpc_frame 8192)

  # The agent's request checks (request_checks.cpp) instrumented; agent.pb.cc from ks_proto.
  add_executable(agent_request_checks_fuzz ${PROJECT_SOURCE_DIR}/tests/fuzz/agent_request_checks_fuzz.cpp
    ${PROJECT_SOURCE_DIR}/agent/service/request_checks.cpp)
  target_compile_options(agent_request_checks_fuzz PRIVATE ${KS_FUZZ_SAN} -O1 -g -fsanitize-coverage=trace-pc,trace-cmp)
  target_link_options(agent_request_checks_fuzz PRIVATE ${KS_FUZZ_SAN} -Wl,--allow-multiple-definition)
  target_include_directories(agent_request_checks_fuzz PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(agent_request_checks_fuzz PRIVATE ks_fuzz_bridge ${KS_LIBFUZZER} ks_proto ks_core Threads::Threads dl)
  set_target_properties(agent_request_checks_fuzz PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  ks_fuzz_run(agent_request_checks_fuzz agent_request_checks 1024)

  # name, binary, seed corpus, max_len: one line per fuzzer for scripts/run-fuzz.sh.
  get_property(ks_fuzz_runs GLOBAL PROPERTY KS_FUZZ_RUNS)
  string(REPLACE ";" "" ks_fuzz_runs "${ks_fuzz_runs}")
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/fuzz/fuzzers.tsv CONTENT "${ks_fuzz_runs}")
else()
  # Still three entries of the unit tier, failing with the reason: a fuzzer that cannot be built
  # here must not quietly leave the tier.
  message(WARNING "libclang_rt.fuzzer-x86_64.a not found: the fuzz targets are not built (install clang)")
  foreach(t policy_condition_fuzz policy_loader_fuzz guest_wire_fuzz)
    ks_unavailable_test(unit.${t} TIER unit
      REASON "libclang_rt.fuzzer-x86_64.a (libFuzzer) not found under /usr/lib/llvm-*, install clang (scripts/setup.sh)")
  endforeach()
endif()
