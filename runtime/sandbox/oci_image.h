// `kata-sentry run --image OCI-TAR`: an OCI image-layout tarball (index.json → manifest →
// config + layers) unpacked into a root filesystem on the host, which the sandbox then shares
// with the guest like any --rootfs. Layers are applied in order with OCI whiteouts (.wh.NAME
// deletes NAME, .wh..wh..opq empties the directory). The directory is removed on destruction.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/result.h"

namespace kata_sentry::runtime {

struct ImageConfig {
  std::vector<std::string> entrypoint, cmd, env;
  std::string working_dir;
};

class UnpackedImage {
 public:
  // Unpacks `tarball` below `work_dir` (created; must not exist). Fails naming the file and the
  // step: "image bb.tar: index.json: no manifests". Digests are checked against the blob names.
  static Result<UnpackedImage> unpack(const std::filesystem::path& tarball, const std::filesystem::path& work_dir);
  UnpackedImage() = default;
  ~UnpackedImage();
  UnpackedImage(UnpackedImage&& other) noexcept;
  UnpackedImage& operator=(UnpackedImage&& other) noexcept;

  std::filesystem::path rootfs() const { return dir_ / "rootfs"; }
  const ImageConfig& config() const { return config_; }

 private:
  std::filesystem::path dir_;
  ImageConfig config_;
};

}  // namespace kata_sentry::runtime
