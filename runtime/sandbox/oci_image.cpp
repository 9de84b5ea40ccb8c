#include "runtime/sandbox/oci_image.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace kata_sentry::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Runs tar without a shell: paths come from the user.
Status run_tar(const std::vector<std::string>& args, const std::string& what) {
  std::vector<char*> argv;
  std::string tar = "/usr/bin/tar";
  argv.push_back(tar.data());
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno(what + ": fork tar");
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return fail(ErrorCode::invalid_argument, what + ": tar failed");
  return {};
}

Result<json> read_json(const fs::path& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::invalid_argument, what + ": " + path.filename().string() + " missing");
  auto j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(ErrorCode::invalid_argument, what + ": " + path.filename().string() + ": not a JSON object");
  return j;
}

// "sha256:<hex>" → blobs/sha256/<hex>, refusing anything that could walk out of the layout.
Result<fs::path> blob_path(const fs::path& layout, const json& descriptor, const std::string& what) {
  if (!descriptor.is_object() || !descriptor.contains("digest") || !descriptor["digest"].is_string()) {
    return fail(ErrorCode::invalid_argument, what + ": descriptor without a digest");
  }
  std::string digest = descriptor["digest"];
  auto colon = digest.find(':');
  if (colon == std::string::npos || digest.find_first_of("/.", colon) != std::string::npos) {
    return fail(ErrorCode::invalid_argument, what + ": bad digest \"" + digest + "\"");
  }
  return layout / "blobs" / digest.substr(0, colon) / digest.substr(colon + 1);
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array()) {
    for (const auto& s : j[key]) {
      if (s.is_string()) out.push_back(s);
    }
  }
  return out;
}

// Applies whiteouts found in `layer` to `rootfs`, removing the marker files from `layer`.
void apply_whiteouts(const fs::path& layer, const fs::path& rootfs) {
  std::vector<fs::path> markers;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(layer, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with(".wh.")) markers.push_back(it->path());
  }
  for (const auto& m : markers) {
    fs::path rel_dir = fs::relative(m.parent_path(), layer, ec);
    std::string name = m.filename().string();
    if (name == ".wh..wh..opq") {
      for (const auto& e : fs::directory_iterator(rootfs / rel_dir, ec)) fs::remove_all(e.path(), ec);
    } else {
      fs::remove_all(rootfs / rel_dir / name.substr(4), ec);
    }
    fs::remove(m, ec);
  }
}

}  // namespace

UnpackedImage::~UnpackedImage() {
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

UnpackedImage::UnpackedImage(UnpackedImage&& o) noexcept : dir_(std::exchange(o.dir_, {})), config_(std::move(o.config_)) {}

UnpackedImage& UnpackedImage::operator=(UnpackedImage&& o) noexcept {
  if (this != &o) {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
    dir_ = std::exchange(o.dir_, {});
    config_ = std::move(o.config_);
  }
  return *this;
}

Result<UnpackedImage> UnpackedImage::unpack(const fs::path& tarball, const fs::path& work_dir) {
  std::string what = "image " + tarball.string();
  if (!fs::is_regular_file(tarball)) return fail(ErrorCode::not_found, what + ": not a file");
  std::error_code ec;
  if (fs::exists(work_dir)) return fail(ErrorCode::invalid_argument, what + ": " + work_dir.string() + " already exists");
  UnpackedImage image;
  fs::create_directories(work_dir / "layout", ec);
  if (ec) return fail(ErrorCode::io, what + ": create " + work_dir.string() + ": " + ec.message());
  image.dir_ = work_dir;
  fs::path layout = work_dir / "layout";
  if (auto st = run_tar({"-xf", tarball.string(), "-C", layout.string(), "--no-same-owner"}, what); !st) return std::unexpected(st.error());

  auto index = read_json(layout / "index.json", what);
  if (!index) return std::unexpected(index.error());
  if (!index->contains("manifests") || !(*index)["manifests"].is_array() || (*index)["manifests"].empty()) {
    return fail(ErrorCode::invalid_argument, what + ": index.json: no manifests");
  }
  auto manifest_path = blob_path(layout, (*index)["manifests"][0], what + ": index.json manifests[0]");
  if (!manifest_path) return std::unexpected(manifest_path.error());
  auto manifest = read_json(*manifest_path, what + ": manifest");
  if (!manifest) return std::unexpected(manifest.error());
  if (manifest->contains("config")) {
    auto config_path = blob_path(layout, (*manifest)["config"], what + ": manifest config");
    if (!config_path) return std::unexpected(config_path.error());
    auto config = read_json(*config_path, what + ": config");
    if (!config) return std::unexpected(config.error());
    if (config->contains("config") && (*config)["config"].is_object()) {
      const auto& c = (*config)["config"];
      image.config_.entrypoint = strings(c, "Entrypoint");
      image.config_.cmd = strings(c, "Cmd");
      image.config_.env = strings(c, "Env");
      if (c.contains("WorkingDir") && c["WorkingDir"].is_string()) image.config_.working_dir = c["WorkingDir"];
    }
  }
  if (!manifest->contains("layers") || !(*manifest)["layers"].is_array()) {
    return fail(ErrorCode::invalid_argument, what + ": manifest: no layers");
  }
  fs::path rootfs = image.rootfs();
  fs::create_directories(rootfs, ec);
  int n = 0;
  for (const auto& layer : (*manifest)["layers"]) {
    std::string lw = what + ": layer " + std::to_string(n);
    auto blob = blob_path(layout, layer, lw);
    if (!blob) return std::unexpected(blob.error());
    // Each layer lands in a staging dir first so that its whiteouts apply to the layers below.
    fs::path stage = work_dir / ("layer" + std::to_string(n++));
    fs::create_directories(stage, ec);
    if (auto st = run_tar({"-xf", blob->string(), "-C", stage.string(), "--numeric-owner"}, lw); !st) return std::unexpected(st.error());
    apply_whiteouts(stage, rootfs);
    fs::copy(stage, rootfs, fs::copy_options::recursive | fs::copy_options::copy_symlinks | fs::copy_options::overwrite_existing, ec);
    if (ec) return fail(ErrorCode::io, lw + ": copy into rootfs: " + ec.message());
    fs::remove_all(stage, ec);
  }
  fs::remove_all(layout, ec);
  return image;
}

}  // namespace kata_sentry::runtime
