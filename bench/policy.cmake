# Policy engine throughput (events/s through the engine on one core).
add_executable(policy_engine_bench ${CMAKE_CURRENT_LIST_DIR}/policy_engine.cpp)
target_link_libraries(policy_engine_bench PRIVATE ks_policy)
target_include_directories(policy_engine_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(policy_engine_bench PRIVATE
  KS_FALCO_RULES="${PROJECT_SOURCE_DIR}/../shared/compat/falco/falco_rules.yaml"
  KS_DEFAULT_RULES_DIR="${PROJECT_SOURCE_DIR}/rules")
set_target_properties(policy_engine_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
