# The console exporter's form of the monitor's alerts, no privileges: the text a person reads on stderr.
ks_test(alert_text_test TIER unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/alert_text_test.cpp
  LIBS ks_monitor ks_policy)

# The host-set identity (sandbox, CRI pod) on events and alerts.
ks_test(reporter_test TIER unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/reporter_test.cpp
  LIBS ks_monitor ks_policy)
