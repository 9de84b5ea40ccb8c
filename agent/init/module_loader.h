// Kernel module loading for the guest init without a modprobe binary: resolves dependencies
// from modules.dep (generated at image build time) and calls finit_module(2) leaf first.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/result.h"

namespace kata_sentry::agent {

class ModuleLoader {
 public:
  // `module_dir`: /lib/modules/<release>. Fails if modules.dep cannot be read.
  static Result<ModuleLoader> open(const std::filesystem::path& module_dir);

  // Loads `name` ("virtio_pci"; '-' and '_' are equivalent) after its dependencies. A module
  // that is already loaded or built in is not an error.
  Status load(const std::string& name);

 private:
  Status load_path(const std::string& relative_path, int depth);

  std::filesystem::path dir_;
  std::map<std::string, std::string> path_by_name_;              // name -> relative .ko path
  std::map<std::string, std::vector<std::string>> deps_by_path_;  // .ko path -> dependency paths
  std::set<std::string> loaded_;
};

}  // namespace kata_sentry::agent
