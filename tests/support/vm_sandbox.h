// The vm-tier fixture pieces every suite repeats: boot one sandbox for the suite (a TCG boot
// costs seconds) and run a container in it to completion, collecting its output.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/oci/oci_spec.h"
#include "runtime/sandbox/sandbox.h"

namespace kata_sentry::testing {

struct ContainerOutcome {
  int code = -1;  // shell-style: 128 + signal for a killed process
  std::string out, err;
};

// Boots a sandbox with default options into `sandbox`; returns "" or why it failed.
inline std::string boot_sandbox(std::unique_ptr<runtime::Sandbox>& sandbox) {
  auto created = runtime::Sandbox::create(runtime::SandboxOptions{});
  if (!created) return created.error().describe();
  sandbox = std::move(*created);
  return "";
}

// Creates, starts and waits for container `id` (rootfs empty: the image's busybox), feeding
// `stdin_text` when given, then removes it. Failures are test failures (EXPECT).
inline ContainerOutcome run_container(runtime::Sandbox& sandbox, const std::string& id, const OciSpec& spec,
                                      const std::filesystem::path& rootfs = {},
                                      const std::string* stdin_text = nullptr) {
  ContainerOutcome o;
  auto& agent = sandbox.agent();
  auto st = sandbox.create_container(id, spec, rootfs, stdin_text != nullptr);
  EXPECT_TRUE(st) << st.error().describe();
  if (!st) return o;
  auto started = agent.start_container(id);
  EXPECT_TRUE(started) << started.error().describe();
  if (!started) return o;
  std::thread output([&] {
    (void)agent.read_output(
        id, "", [&](std::string_view d) { o.out.append(d); }, [&](std::string_view d) { o.err.append(d); });
  });
  if (stdin_text) {
    EXPECT_TRUE(agent.write_stdin(id, "", *stdin_text));
    EXPECT_TRUE(agent.close_stdin(id, ""));
  }
  auto waited = agent.wait_process(id, "");
  output.join();
  EXPECT_TRUE(waited) << waited.error().describe();
  if (waited) o.code = waited->shell_code();
  (void)agent.remove_container(id);
  return o;
}

}  // namespace kata_sentry::testing
