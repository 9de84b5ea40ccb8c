ks_test(core_test TIER unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/event_decode_test.cpp ${CMAKE_CURRENT_LIST_DIR}/event_json_test.cpp ${CMAKE_CURRENT_LIST_DIR}/json_line_writer_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/event_proto_test.cpp ${CMAKE_CURRENT_LIST_DIR}/flags_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/read_file_test.cpp ${CMAKE_CURRENT_LIST_DIR}/guest_wire_test.cpp ${CMAKE_CURRENT_LIST_DIR}/terminal_text_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/net_config_test.cpp ${CMAKE_CURRENT_LIST_DIR}/field_filters_wire_test.cpp
  LIBS ks_core ks_proto ks_cli_flags ks_syscall_probes)
