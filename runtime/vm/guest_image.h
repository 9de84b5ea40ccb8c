// Where the guest image built by runtime/guest-image lives: <build>/guest/{vmlinuz,initrd.img,
// release,rootfs-busybox}. Looked up relative to the executable — <bin>/../share/kata-sentry/guest
// when installed, else <bin>/../guest (the build tree) — unless KATA_SENTRY_GUEST_DIR names
// another directory.
#pragma once

#include <filesystem>
#include <string>

#include "core/result.h"

namespace kata_sentry::vm {

struct GuestImage {
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::filesystem::path default_rootfs;  // busybox
  std::string kernel_release;

  // Fails with not_found naming the missing file and how to build it.
  static Result<GuestImage> locate(const std::filesystem::path& dir);
  static std::filesystem::path default_dir();
};

}  // namespace kata_sentry::vm
