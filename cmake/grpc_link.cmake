# ks_grpc: gRPC and Protobuf for whatever links them. Host programs get the shared libraries.
# A target with the property KS_STATIC_GRPC set (the guest agent) gets the static archives of
# gRPC's unsecure build instead: the agent runs from the initramfs, which the guest keeps in RAM
# whole, and its mapped pages count in its RSS. Linked statically, only the members it uses are
# in the binary (11 MB instead of ~30 MB of shared libraries: no OpenSSL, which the agent never
# uses over its virtio-serial port, and a fraction of abseil, re2 and libprotobuf), and it maps
# and relocates one file instead of sixty.
add_library(ks_grpc INTERFACE)
set(ks_static_grpc "$<BOOL:$<TARGET_PROPERTY:KS_STATIC_GRPC>>")
target_link_libraries(ks_grpc INTERFACE "$<$<NOT:${ks_static_grpc}>:gRPC::grpc++;protobuf::libprotobuf>")

# pkg-config --static names every archive of grpc++_unsecure and protobuf except gRPC's own
# private dependencies, added by hand. The archives depend on each other in cycles (abseil):
# one linker group.
pkg_check_modules(KS_GRPC_STATIC QUIET grpc++_unsecure protobuf)
set(ks_grpc_archives)
if(KS_GRPC_STATIC_FOUND)
  set(names ${KS_GRPC_STATIC_STATIC_LIBRARIES} upb re2 cares address_sorting z)
  list(REMOVE_ITEM names atomic rt dl m pthread)
  list(REMOVE_DUPLICATES names)
  foreach(n IN LISTS names)
    find_library(KS_ARCHIVE_${n} NAMES lib${n}.a)
    if(NOT KS_ARCHIVE_${n})
      set(ks_grpc_archives)
      message(STATUS "ks_grpc: lib${n}.a not found; the agent links gRPC dynamically")
      break()
    endif()
    list(APPEND ks_grpc_archives ${KS_ARCHIVE_${n}})
  endforeach()
endif()
if(ks_grpc_archives)
  string(JOIN "," ks_grpc_group ${ks_grpc_archives})
  target_link_libraries(ks_grpc INTERFACE
    "$<${ks_static_grpc}:-Wl,--start-group,${ks_grpc_group},--end-group;atomic;Threads::Threads>")
else()
  target_link_libraries(ks_grpc INTERFACE "$<${ks_static_grpc}:gRPC::grpc++;protobuf::libprotobuf>")
endif()
