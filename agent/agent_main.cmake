# kata-sentry-agent: the guest's /init (init/ + main.cpp) over the gRPC service library.
# Linked dynamically; the guest image build (runtime/guest-image) copies its shared libraries
# into the initramfs.
if(TARGET ks_agent_service)
  add_library(ks_agent_init STATIC
    ${CMAKE_CURRENT_SOURCE_DIR}/init/guest_init.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/init/module_loader.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/init/port_bridge.cpp
  )
  target_include_directories(ks_agent_init PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(ks_agent_init PUBLIC ks_core Threads::Threads)

  add_executable(kata-sentry-agent ${CMAKE_CURRENT_SOURCE_DIR}/main.cpp)
  target_link_libraries(kata-sentry-agent PRIVATE ks_agent_init ks_agent_service ks_guest_probes)
else()
  message(STATUS "kata-sentry-agent: ks_agent_service not defined yet; agent and guest image skipped")
endif()
