# kata-sentry-agent: the guest's /init (init/ + main.cpp) over the gRPC service library.
# gRPC and Protobuf are linked statically, the rest dynamically; the guest image build
# (runtime/guest-image) copies its shared libraries into the initramfs.
if(TARGET ks_agent_service)
  add_library(ks_agent_init STATIC
    ${CMAKE_CURRENT_SOURCE_DIR}/init/guest_init.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/init/module_loader.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/init/port_bridge.cpp
  )
  target_include_directories(ks_agent_init PUBLIC ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR}/generated)

  # The guest's modules have one definition, runtime/guest-image/guest-modules.list: the image
  # build ships what it names, and the init loads it through this generated header.
  set(ks_module_list ${PROJECT_SOURCE_DIR}/runtime/guest-image/guest-modules.list)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ks_module_list})
  file(STRINGS ${ks_module_list} ks_module_lines REGEX "^[ \t]*[^# \t]")
  set(KS_GUEST_BOOT_MODULES "")
  set(KS_GUEST_NET_MODULES "")
  foreach(line IN LISTS ks_module_lines)
    string(STRIP "${line}" line)
    string(REGEX REPLACE "[ \t]+" ";" words "${line}")
    list(GET words 0 name)
    list(LENGTH words nwords)
    if(NOT name MATCHES "^[A-Za-z0-9_-]+$")
      message(FATAL_ERROR "${ks_module_list}: '${line}': not a module name")
    endif()
    if(nwords EQUAL 1)
      string(APPEND KS_GUEST_BOOT_MODULES "\"${name}\", ")
    elseif(nwords EQUAL 2 AND line MATCHES "[ \t]net$")
      string(APPEND KS_GUEST_NET_MODULES "\"${name}\", ")
    else()
      message(FATAL_ERROR "${ks_module_list}: '${line}': expected a module name, optionally followed by 'net'")
    endif()
  endforeach()
  configure_file(${CMAKE_CURRENT_SOURCE_DIR}/init/guest_modules.h.in ${CMAKE_BINARY_DIR}/generated/agent/guest_modules.h @ONLY)
  target_link_libraries(ks_agent_init PUBLIC ks_core Threads::Threads)

  add_executable(kata-sentry-agent ${CMAKE_CURRENT_SOURCE_DIR}/main.cpp)
  target_link_libraries(kata-sentry-agent PRIVATE ks_agent_init ks_agent_service ks_guest_probes)
  # gRPC and Protobuf linked statically (cmake/grpc_link.cmake): the initramfs is guest RAM.
  set_target_properties(kata-sentry-agent PROPERTIES KS_STATIC_GRPC ON)
else()
  message(STATUS "kata-sentry-agent: ks_agent_service not defined yet; agent and guest image skipped")
endif()
