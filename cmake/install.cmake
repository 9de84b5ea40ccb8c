# `make install` (cmake --install BUILD --prefix PREFIX): the layout the binaries look for
# relative to themselves (/proc/self/exe), so an installed shim needs no environment:
#   <prefix>/bin/{kata-sentry,kata-sentryd,containerd-shim-kata-sentry-v2}
#   <prefix>/share/kata-sentry/rules/   monitor/rules_path.cpp: <bin>/../share/kata-sentry/rules
#   <prefix>/share/kata-sentry/guest/   runtime/vm/guest_image.cpp:     <bin>/../share/kata-sentry/guest
#   <prefix>/share/kata-sentry/deploy/  examples for /etc/kata-sentry, systemd, containerd, Kubernetes
# containerd finds the shim by name on its PATH, so <prefix>/bin must be on containerd's PATH
# (/usr/local/bin is on systemd's default PATH).
foreach(exe kata-sentry kata-sentryd containerd-shim-kata-sentry-v2 kata-trace)
  if(TARGET ${exe})
    install(TARGETS ${exe} RUNTIME DESTINATION bin)
  endif()
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/rules/ DESTINATION share/kata-sentry/rules
        FILES_MATCHING PATTERN "*.yaml")
if(TARGET guest_image)
  # vmlinuz, initrd.img, release and the busybox rootfs (symlinks kept as symlinks).
  install(DIRECTORY ${CMAKE_BINARY_DIR}/guest/ DESTINATION share/kata-sentry/guest USE_SOURCE_PERMISSIONS)
endif()
if(EXISTS ${PROJECT_SOURCE_DIR}/deploy)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/ DESTINATION share/kata-sentry/deploy)
endif()
