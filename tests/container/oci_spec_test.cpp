#include <gtest/gtest.h>

#include "core/oci/oci_spec.h"

namespace kata_sentry::agent {
namespace {

const char* kMinimal = R"({
  "ociVersion": "1.0.2",
  "process": {"args": ["sh", "-c", "echo hi"], "cwd": "/", "env": ["PATH=/bin"],
              "user": {"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 18}, "oomScoreAdj": -5,
              "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
              "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 64, "soft": 32}],
              "noNewPrivileges": true},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "h1",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
             {"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "ro"]}],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}],
            "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
            "resources": {"memory": {"limit": 1048576}, "pids": {"limit": 10},
                          "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
                          "cpu": {"shares": 512, "quota": 50000, "period": 100000}},
            "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                                      "args": [{"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]}]},
            "cgroupsPath": "/x/y", "sysctl": {"net.ipv4.ip_forward": "1"}},
  "annotations": {"ignored": "yes"}
})";

TEST(OciSpec, ParsesEveryField) {
  auto spec = parse_oci_spec(kMinimal, "config.json");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->process.args.size(), 3u);
  EXPECT_EQ(spec->process.user.uid, 1000u);
  EXPECT_EQ(spec->process.user.additional_gids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(spec->process.user.umask, 18u);
  EXPECT_EQ(spec->process.oom_score_adj, -5);
  ASSERT_TRUE(spec->process.capabilities);
  EXPECT_EQ(spec->process.capabilities->bounding, std::vector<std::string>{"CAP_KILL"});
  EXPECT_EQ(spec->process.rlimits.at(0).soft, 32u);
  EXPECT_TRUE(spec->process.no_new_privileges);
  EXPECT_TRUE(spec->root.readonly);
  EXPECT_EQ(spec->hostname, "h1");
  EXPECT_EQ(spec->mounts.at(1).options, (std::vector<std::string>{"rbind", "ro"}));
  EXPECT_EQ(spec->linux.namespaces.at(1).path, "/proc/1/ns/net");
  EXPECT_EQ(*spec->linux.resources.memory_limit, 1048576);
  EXPECT_EQ(*spec->linux.resources.cpu_quota, 50000);
  ASSERT_EQ(spec->linux.resources.devices.size(), 2u);
  EXPECT_EQ(spec->linux.resources.devices[0].type, "a");
  EXPECT_EQ(spec->linux.resources.devices[1].minor, 3);
  EXPECT_EQ(spec->linux.resources.devices[1].access, "rw");
  ASSERT_TRUE(spec->linux.seccomp);
  EXPECT_EQ(spec->linux.seccomp->syscalls.at(0).args.at(0).op, "SCMP_CMP_EQ");
  EXPECT_EQ(*spec->linux.seccomp->syscalls.at(0).errno_ret, 1u);
  EXPECT_EQ(spec->linux.sysctl.at("net.ipv4.ip_forward"), "1");
}

TEST(OciSpec, RoundTripsThroughJson) {
  auto spec = parse_oci_spec(kMinimal, "config.json");
  ASSERT_TRUE(spec);
  auto again = parse_oci_spec(oci_spec_to_json(*spec), "roundtrip");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(oci_spec_to_json(*again), oci_spec_to_json(*spec));
}

TEST(OciSpec, DefaultSpecsRoundTrip) {
  for (bool privileged : {false, true}) {
    OciSpec s = default_oci_spec({"echo", "hello"}, privileged);
    auto again = parse_oci_spec(oci_spec_to_json(s), "default");
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(oci_spec_to_json(*again), oci_spec_to_json(s));
    EXPECT_EQ(s.linux.seccomp.has_value(), !privileged);
    EXPECT_EQ(s.linux.masked_paths.empty(), privileged);
    EXPECT_EQ(s.process.capabilities->bounding.size() > 30, privileged);
  }
}

struct BadCase {
  const char* json;
  const char* expect;
};

class OciSpecErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(OciSpecErrors, NamesTheFieldAndSource) {
  auto spec = parse_oci_spec(GetParam().json, "bundle/config.json");
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(spec.error().message.find("bundle/config.json: "), std::string::npos) << spec.error().message;
  EXPECT_NE(spec.error().message.find(GetParam().expect), std::string::npos) << spec.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, OciSpecErrors,
    ::testing::Values(
        BadCase{R"({"process": {"args": [], "cwd": "/"}, "root": {"path": "r"}})", "process.args: must be a non-empty array"},
        BadCase{R"({"process": {"args": ["a"]}, "root": {"path": "r"}})", "process.cwd: is required"},
        BadCase{R"({"process": {"args": ["a"], "cwd": "rel"}, "root": {"path": "r"}})", "process.cwd: must be an absolute path"},
        BadCase{R"({"process": {"args": ["a"], "cwd": "/"}})", "root: is required"},
        BadCase{R"({"process": {"args": ["a", 3], "cwd": "/"}, "root": {"path": "r"}})", "process.args[1]: must be a string"},
        BadCase{R"({"process": {"args": ["a"], "cwd": "/", "user": {"uid": -1}}, "root": {"path": "r"}})", "process.user.uid: out of range"},
        BadCase{R"({"process": {"args": ["a"], "cwd": "/", "capabilities": {"bounding": ["CAP_NOPE"]}}, "root": {"path": "r"}})",
                "process.capabilities.bounding[0]: unknown capability \"CAP_NOPE\""},
        BadCase{R"({"process": {"args": ["a"], "cwd": "/", "rlimits": [{"type": "RLIMIT_X", "hard": 1, "soft": 1}]}, "root": {"path": "r"}})",
                "process.rlimits[0].type: unknown rlimit"},
        BadCase{R"({"process": {"args": ["a"], "cwd": "/"}, "root": {"path": "r"}, "linux": {"namespaces": [{"type": "pid"}, {"type": "foo"}]}})",
                "linux.namespaces[1].type: unknown namespace \"foo\""},
        BadCase{R"({"process": {"args": ["a"], "cwd": "/"}, "root": {"path": "r"}, "mounts": [{"destination": "proc"}]})",
                "mounts[0].destination: must be an absolute path"},
        BadCase{R"({"process": {"args": ["a"], "cwd": "/"}, "root": {"path": "r"}, "linux": {"seccomp": {"defaultAction": "SCMP_ACT_NOPE"}}})",
                "linux.seccomp.defaultAction: unsupported action"},
        BadCase{R"({"process": {"args": ["a"], "cwd": "/"}, "root": {"path": "r"}, "linux": {"seccomp": {"syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 7, "op": "SCMP_CMP_EQ"}]}]}}})",
                "linux.seccomp.syscalls[0].args[0].index: must be 0..5"},
        BadCase{R"({"process": {"args": ["a"], "cwd": "/"}, "root": {"path": "r"}, "linux": {"resources": {"memory": {"limit": "1G"}}}})",
                "linux.resources.memory.limit: must be an integer"},
        BadCase{R"({"process": {"args": ["a"], "cwd": "/"}, "root": {"path": "r"}, "linux": {"resources": {"devices": [{"allow": true, "type": "x", "access": "rwq"}]}}})",
                "linux.resources.devices[0].type: must be"},
        BadCase{R"({"process": )", "invalid JSON at byte"},
        BadCase{R"([1, 2])", "top level must be an object"}));

TEST(OciSpec, ReportsEveryProblemAtOnce) {
  auto spec = parse_oci_spec(R"({"process": {"args": [], "cwd": "x"}, "hostname": 5})", "c.json");
  ASSERT_FALSE(spec);
  const std::string& m = spec.error().message;
  EXPECT_NE(m.find("process.args"), std::string::npos) << m;
  EXPECT_NE(m.find("process.cwd"), std::string::npos) << m;
  EXPECT_NE(m.find("root: is required"), std::string::npos) << m;
  EXPECT_NE(m.find("hostname: must be a string"), std::string::npos) << m;
}

TEST(OciSpec, LoadNamesMissingFile) {
  auto spec = load_oci_spec("/nonexistent/config.json");
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, ErrorCode::not_found);
  EXPECT_NE(spec.error().message.find("/nonexistent/config.json"), std::string::npos);
}

}  // namespace
}  // namespace kata_sentry::agent
