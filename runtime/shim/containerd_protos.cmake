# containerd's shim v2 protocol, compiled from the files Debian ships in
# golang-github-containerd-containerd-dev (which pulls in golang-github-containerd-cgroups-dev,
# home of the Stats metrics message) and golang-github-gogo-protobuf-dev, installed by
# scripts/setup.sh; nothing of containerd's is copied into the repository.
#
# protoc's C++ generator aborts on `import weak` (it is only supported inside Google), and
# containerd imports gogo.proto weakly. So each file is first copied into the build tree with
# `import weak` turned into a plain `import`; gogo.proto and fieldpath.proto are compiled as
# well so that the options those files use resolve at run time.
set(KS_GOCODE /usr/share/gocode/src CACHE PATH "Debian's Go source tree holding containerd's .proto files")
set(ks_cd_files
  github.com/containerd/containerd/runtime/v2/task/shim.proto
  github.com/containerd/containerd/api/types/mount.proto
  github.com/containerd/containerd/api/types/task/task.proto
  github.com/containerd/containerd/api/events/task.proto
  github.com/containerd/containerd/protobuf/plugin/fieldpath.proto
  github.com/containerd/cgroups/stats/v1/metrics.proto
  github.com/gogo/protobuf/gogoproto/gogo.proto)
foreach(f ${ks_cd_files})
  if(NOT EXISTS ${KS_GOCODE}/${f})
    message(FATAL_ERROR "${KS_GOCODE}/${f} is missing: run scripts/setup.sh (it installs "
                        "golang-github-containerd-containerd-dev and golang-github-gogo-protobuf-dev)")
  endif()
endforeach()

set(ks_cd_src ${CMAKE_CURRENT_BINARY_DIR}/containerd-proto-src)
set(ks_cd_gen ${CMAKE_CURRENT_BINARY_DIR}/containerd-proto-gen)
set(ks_cd_protos)
set(ks_cd_srcs)
foreach(f ${ks_cd_files})
  # gogo.proto is imported as "gogoproto/gogo.proto"; everything else by its Go import path.
  string(REPLACE "github.com/gogo/protobuf/" "" rel ${f})
  get_filename_component(dir ${rel} DIRECTORY)
  string(REGEX REPLACE "\\.proto$" "" stem ${rel})
  add_custom_command(
    OUTPUT ${ks_cd_src}/${rel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${ks_cd_src}/${dir}
    COMMAND sed "s/^import weak /import /" ${KS_GOCODE}/${f} > ${ks_cd_src}/${rel}
    DEPENDS ${KS_GOCODE}/${f}
    COMMENT "containerd proto ${rel}")
  list(APPEND ks_cd_protos ${ks_cd_src}/${rel})
  list(APPEND ks_cd_rel ${rel})
  list(APPEND ks_cd_srcs ${ks_cd_gen}/${stem}.pb.cc)
  list(APPEND ks_cd_hdrs ${ks_cd_gen}/${stem}.pb.h)
endforeach()
add_custom_command(
  OUTPUT ${ks_cd_srcs} ${ks_cd_hdrs}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${ks_cd_gen}
  COMMAND protobuf::protoc -I${ks_cd_src} -I${Protobuf_INCLUDE_DIRS} --cpp_out=${ks_cd_gen} ${ks_cd_rel}
  WORKING_DIRECTORY ${ks_cd_src}
  DEPENDS ${ks_cd_protos}
  COMMENT "protoc containerd shim v2 protos")

add_library(ks_containerd_proto STATIC ${ks_cd_srcs})
target_include_directories(ks_containerd_proto SYSTEM PUBLIC ${ks_cd_gen})
target_link_libraries(ks_containerd_proto PUBLIC protobuf::libprotobuf)
target_compile_options(ks_containerd_proto PRIVATE -w)
