# Policy engine unit tests: pure code, synthetic events (tests/support/event_builder.h).
ks_test(policy_test TIER unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/policy/condition_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/loader_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/falco_rules_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/default_rules_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/engine_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/fields_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/event_filter_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/wanted_types_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/field_filters_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/string_set_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/check_order_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/bytes_equal_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/check_memo_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/policy/view_index_test.cpp
  LIBS ks_policy)
target_include_directories(policy_test PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(policy_test PRIVATE
  KS_FALCO_RULES="${PROJECT_SOURCE_DIR}/../shared/compat/falco/falco_rules.yaml"
  KS_DEFAULT_RULES_DIR="${PROJECT_SOURCE_DIR}/rules")
