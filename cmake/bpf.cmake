# BPF objects: clang -target bpf, CO-RE against the build machine's vmlinux.h, and a
# libbpf skeleton from `bpftool gen skeleton`.
find_program(CLANG_BPF NAMES clang-14 clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(KS_VMLINUX_DIR ${CMAKE_BINARY_DIR}/vmlinux)
set(KS_VMLINUX_H ${KS_VMLINUX_DIR}/vmlinux.h)
if(EXISTS /sys/kernel/btf/vmlinux)
  add_custom_command(OUTPUT ${KS_VMLINUX_H}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${KS_VMLINUX_DIR}
    COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${KS_VMLINUX_H}
    COMMENT "Generating vmlinux.h from this machine's BTF")
else()
  message(FATAL_ERROR "/sys/kernel/btf/vmlinux is missing: this kernel has no BTF, so vmlinux.h cannot be generated")
endif()
add_custom_target(ks_vmlinux_h DEPENDS ${KS_VMLINUX_H})

# ks_bpf_skeleton(<target> SOURCE <file.bpf.c> [DEPENDS ...])
# Builds <name>.bpf.o and <name>.skel.h in the current binary dir, and an INTERFACE
# target <target> whose include dir holds the skeleton.
function(ks_bpf_skeleton target)
  cmake_parse_arguments(ARG "" "SOURCE" "DEPENDS" ${ARGN})
  get_filename_component(name ${ARG_SOURCE} NAME_WE)
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/${ARG_SOURCE})
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  # Every shared BPF header, so that changing one rebuilds every object that may include it.
  file(GLOB shared_headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/bpf/include/kata_sentry/*.h)
  add_custom_command(OUTPUT ${obj}
    COMMAND ${CLANG_BPF} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Wno-unused-function
            -I${KS_VMLINUX_DIR} -I${PROJECT_SOURCE_DIR}/bpf/include -I${CMAKE_CURRENT_SOURCE_DIR}
            -c ${src} -o ${obj}
    # vmlinux.h is generated in another directory: ordered by the target dependency below
    # (a file dependency across directories has no rule in the Makefile generator).
    DEPENDS ${src} ${shared_headers} ${ARG_DEPENDS}
    COMMENT "BPF ${name}.bpf.c")
  add_custom_command(OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "Skeleton ${name}.skel.h")
  add_custom_target(${target}_gen DEPENDS ${skel} ${obj})
  add_dependencies(${target}_gen ks_vmlinux_h)
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
  target_include_directories(${target} INTERFACE ${CMAKE_CURRENT_BINARY_DIR})
  set_property(TARGET ${target} PROPERTY KS_BPF_OBJECT ${obj})
endfunction()
