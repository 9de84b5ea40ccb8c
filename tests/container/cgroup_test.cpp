// cgroup file writes against a plain temp directory (no root, no cgroupfs).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/container/cgroup.h"

namespace kata_sentry::agent {
namespace {
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class CgroupFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    parent_ = fs::temp_directory_path() / ("ks-cg-unit-" + std::to_string(::getpid()));
    fs::create_directories(parent_);
    std::ofstream(parent_ / "cgroup.controllers") << "cpu memory pids\n";
    std::ofstream(parent_ / "cgroup.subtree_control") << "";
  }
  void TearDown() override { fs::remove_all(parent_); }
  fs::path parent_;
};

TEST(CgroupWrites, TranslatesResources) {
  OciResources r;
  r.memory_limit = 1 << 20;
  r.pids_limit = -1;
  r.cpu_quota = 50000;
  r.cpu_shares = 1024;
  auto w = cgroup_limit_writes(r);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0].file + "=" + w[0].value, "memory.max=1048576");
  EXPECT_EQ(w[1].file + "=" + w[1].value, "pids.max=max");
  EXPECT_EQ(w[2].file + "=" + w[2].value, "cpu.max=50000 100000");
  EXPECT_EQ(w[3].file + "=" + w[3].value, "cpu.weight=39");
  EXPECT_EQ(cpu_shares_to_weight(2), 1u);
  EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);
  EXPECT_TRUE(cgroup_limit_writes(OciResources{}).empty());
}

TEST_F(CgroupFiles, WritesLimitsAndEnablesControllers) {
  {
    auto cg = CgroupDir::create(parent_, "c1");
    ASSERT_TRUE(cg) << cg.error().describe();
    OciResources r;
    r.memory_limit = 4096;
    r.pids_limit = 12;
    ASSERT_TRUE((*cg)->apply_limits(r));
    EXPECT_EQ(slurp(parent_ / "c1" / "memory.max"), "4096");
    EXPECT_EQ(slurp(parent_ / "c1" / "pids.max"), "12");
    EXPECT_NE(slurp(parent_ / "cgroup.subtree_control").find("+pids"), std::string::npos);
    std::ofstream((*cg)->path() / "memory.current") << "123\n";
    auto st = (*cg)->stats();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->memory_current_bytes, 123u);
    EXPECT_FALSE(st->pids_current);
  }
  EXPECT_FALSE(fs::exists(parent_ / "c1"));  // removed on destruction
}

TEST_F(CgroupFiles, MissingControllerNamesFieldAndController) {
  std::ofstream(parent_ / "cgroup.controllers") << "hugetlb\n";
  auto cg = CgroupDir::create(parent_, "c2");
  ASSERT_TRUE(cg);
  OciResources r;
  r.memory_limit = 4096;
  auto st = (*cg)->apply_limits(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::unavailable);
  EXPECT_NE(st.error().message.find("controller memory not available"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("linux.resources.memory.limit"), std::string::npos);
  EXPECT_TRUE((*cg)->apply_limits(OciResources{}));  // no limits: nothing needed
}

TEST_F(CgroupFiles, RefusesExistingCgroup) {
  fs::create_directories(parent_ / "taken");
  auto cg = CgroupDir::create(parent_, "taken");
  ASSERT_FALSE(cg);
  EXPECT_NE(cg.error().message.find("taken"), std::string::npos);
}

}  // namespace
}  // namespace kata_sentry::agent

namespace kata_sentry::agent {
namespace {

TEST_F(CgroupFiles, DelegatesThroughAncestors) {
  // parent_/mid/c3: mid does not offer pids yet, parent_ does; enabling walks up.
  fs::path mid = parent_ / "mid";
  fs::create_directories(mid);
  std::ofstream(mid / "cgroup.controllers") << "cpu\n";
  std::ofstream(mid / "cgroup.subtree_control") << "";
  auto cg = CgroupDir::create(mid, "c3");
  ASSERT_TRUE(cg);
  OciResources r;
  r.pids_limit = 5;
  ASSERT_TRUE((*cg)->apply_limits(r));
  EXPECT_EQ(slurp(parent_ / "cgroup.subtree_control"), "+pids");
  EXPECT_EQ(slurp(mid / "cgroup.subtree_control"), "+pids");
}

}  // namespace
}  // namespace kata_sentry::agent
