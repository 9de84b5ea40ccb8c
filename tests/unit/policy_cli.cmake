# The rules/replay acceptance checks on the real kata-sentry binary.
add_test(NAME unit.policy_cli
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/policy/cli_test.sh $<TARGET_FILE:kata-sentry> ${PROJECT_SOURCE_DIR}
          ${PROJECT_SOURCE_DIR}/../shared/compat/falco/falco_rules.yaml)
set_tests_properties(unit.policy_cli PROPERTIES LABELS unit TIMEOUT 60)
