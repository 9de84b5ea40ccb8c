#include "runtime/vm/guest_image.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace kata_sentry::vm {

std::filesystem::path GuestImage::default_dir() {
  if (const char* env = std::getenv("KATA_SENTRY_GUEST_DIR"); env && *env) return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "guest";
  // Installed (make install): <prefix>/bin/X finds <prefix>/share/kata-sentry/guest, beside the
  // rules. In the build tree: build/bin/X finds build/guest.
  const auto prefix = exe.parent_path().parent_path();
  if (auto installed = prefix / "share" / "kata-sentry" / "guest"; std::filesystem::is_directory(installed, ec))
    return installed;
  return prefix / "guest";
}

Result<GuestImage> GuestImage::locate(const std::filesystem::path& dir) {
  GuestImage g{dir / "vmlinuz", dir / "initrd.img", dir / "rootfs-busybox", ""};
  for (const auto& p : {g.kernel, g.initrd, g.default_rootfs}) {
    if (!std::filesystem::exists(p)) {
      return fail(ErrorCode::not_found, "guest image: " + p.string() +
                                            " missing (build it: scripts/setup.sh BUILD && cmake --build BUILD --target guest_image)");
    }
  }
  std::ifstream in(dir / "release");
  std::getline(in, g.kernel_release);
  return g;
}

}  // namespace kata_sentry::vm
