// The fields issue 11 added, each with a near miss: the value that matches and the one beside
// it that must not (or the event where the field is absent, which Falco's `not` turns true).
#include <fcntl.h>
#include <sys/socket.h>

#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

bool eval(const std::string& cond, const Event& e, const Enrichment* x = nullptr) {
  auto r = load_text(one_rule(cond));
  EXPECT_FALSE(r.diagnostics.has_errors()) << cond << "\n" << diagnostics_text(r);
  if (r.diagnostics.has_errors()) return false;
  Engine engine(std::move(r.rules), {});
  return has(fired(engine, e, x), "R");
}

constexpr uint64_t kSysAdmin = 1ull << 21, kSysModule = 1ull << 16, kNetBind = 1ull << 10;

TEST(Fields, ProcCmdlineIsTheWholeArgvAndMarksACut) {
  auto sh = EventBuilder().exec("/bin/sh", {"-c", "echo \"|/x\" > /proc/sys/kernel/core_pattern"});
  EXPECT_TRUE(eval("proc.cmdline = 'sh -c echo \"|/x\" > /proc/sys/kernel/core_pattern'", sh));
  EXPECT_TRUE(eval("proc.cmdline contains echo", sh));
  EXPECT_FALSE(eval("proc.cmdline contains 'sh -c true'", sh));
  EXPECT_TRUE(eval("proc.args_truncated = true", EventBuilder(sh).args_truncated()));
  EXPECT_TRUE(eval("proc.cmdline endswith ' ...'", EventBuilder(sh).args_truncated()));
  EXPECT_FALSE(eval("proc.args_truncated = true", sh));
}

TEST(Fields, ProcEnvWholeAndByName) {
  auto e = EventBuilder().exec("/usr/bin/curl").env({"HTTP_PROXY=http://evil:3128", "HOME=/root", "LD_PRELOAD="});
  EXPECT_TRUE(eval("proc.env icontains http_proxy", e));
  EXPECT_TRUE(eval("proc.env[HOME] = /root", e));
  EXPECT_TRUE(eval("proc.env[LD_PRELOAD] = ''", e));
  EXPECT_FALSE(eval("proc.env[HOM] exists", e)) << "a prefix of a name is not the name";
  EXPECT_FALSE(eval("proc.env[PATH] exists", e));
  EXPECT_FALSE(eval("proc.env exists", EventBuilder().open("/etc/hosts"))) << "only exec events carry it";
  EXPECT_TRUE(eval("not proc.env contains HTTP_PROXY", EventBuilder().exec("/usr/bin/curl").env({"HOME=/"})));
}

TEST(Fields, ProcCwdAndExeDeleted) {
  EXPECT_TRUE(eval("proc.cwd = /tmp", EventBuilder().open("/etc/hosts").cwd("/tmp")));
  EXPECT_FALSE(eval("proc.cwd = /tmp", EventBuilder().open("/etc/hosts").cwd("/tmp/x")));
  EXPECT_FALSE(eval("proc.cwd exists", EventBuilder().open("/etc/hosts")));
  auto deleted = EventBuilder().exec("/tmp/x").build();
  deleted.proc.exe_deleted = true;
  EXPECT_TRUE(eval("proc.is_exe_deleted = true", deleted));
  EXPECT_FALSE(eval("proc.is_exe_deleted = true", EventBuilder().exec("/tmp/x")));
  EXPECT_FALSE(eval("proc.is_exe_deleted exists", EventBuilder().open("/x")));  // exepath unknown
}

TEST(Fields, ThreadCapabilitySets) {
  auto e = EventBuilder().exec("/bin/sh").caps(kSysAdmin | kSysModule, kSysAdmin | kSysModule | kNetBind, kNetBind);
  EXPECT_TRUE(eval("thread.cap_effective contains CAP_SYS_ADMIN", e));
  EXPECT_TRUE(eval("thread.cap_effective = 'CAP_SYS_MODULE CAP_SYS_ADMIN'", e)) << "number order, as Falco";
  EXPECT_FALSE(eval("thread.cap_effective contains CAP_NET_BIND_SERVICE", e));
  EXPECT_TRUE(eval("thread.cap_permitted contains CAP_NET_BIND_SERVICE", e));
  EXPECT_TRUE(eval("thread.cap_inheritable = CAP_NET_BIND_SERVICE", e));
  EXPECT_FALSE(eval("thread.cap_inheritable contains CAP_SYS_ADMIN", e));
  EXPECT_FALSE(eval("thread.cap_permitted exists", EventBuilder().exec("/bin/sh"))) << "unknown sets are absent";
  EXPECT_TRUE(eval("thread.cap_effective = ''", EventBuilder().exec("/bin/sh").caps(0))) << "the empty set is known";
}

TEST(Fields, FileObjectByWhatItIs) {
  // /dev/mem is char 1:1 wherever the node lives.
  auto mem = EventBuilder().open("/tmp/mymem", O_RDONLY, EventType::lsm_file_open).object(0020600, 1, 1, 77);
  EXPECT_TRUE(eval("fd.rdev.major = 1 and fd.rdev.minor = 1", mem));
  EXPECT_TRUE(eval("fd.is_char_device = true", mem));
  EXPECT_FALSE(eval("fd.is_block_device = true", mem));
  EXPECT_FALSE(eval("fd.rdev.minor = 3", mem)) << "/dev/null is 1:3";
  EXPECT_TRUE(eval("fd.ino = 77", mem));
  auto disk = EventBuilder().open("/tmp/d", O_RDONLY, EventType::lsm_file_open).object(0060660, 8, 0);
  EXPECT_TRUE(eval("fd.is_block_device = true and fd.rdev.major = 8", disk));
  auto regular = EventBuilder().open("/etc/hosts", O_RDONLY, EventType::lsm_file_open).object(0100644, 0, 0, 12);
  EXPECT_FALSE(eval("fd.rdev.major exists", regular)) << "only device nodes have a device number";
  EXPECT_TRUE(eval("fd.is_char_device = false", regular));
  EXPECT_FALSE(eval("fd.ino exists", EventBuilder().open("/etc/hosts"))) << "syscall records have no inode";
}

TEST(Fields, SyscallOfAnLsmHookAndIoUring) {
  auto handle = EventBuilder().open("/etc/shadow", O_RDONLY, EventType::lsm_file_open).build();
  handle.syscall = 304;  // open_by_handle_at
  EXPECT_TRUE(eval("evt.syscall_nr = 304", handle));
  EXPECT_FALSE(eval("evt.is_io_uring = true", handle));
  auto ring = handle;
  ring.syscall = 426;  // io_uring_enter
  EXPECT_TRUE(eval("evt.is_io_uring = true", ring));
  auto worker = handle;
  worker.syscall = -1;
  worker.flags |= 1u << 6;  // KS_F_IO_WORKER
  EXPECT_TRUE(eval("evt.is_io_uring = true", worker));
  EXPECT_FALSE(eval("evt.syscall_nr exists", EventBuilder().open("/etc/shadow")));
}

TEST(Fields, EvtDirIsBothDirectionsOfOneRecord) {
  auto e = EventBuilder().type(EventType::setns).args({3, 0});
  EXPECT_TRUE(eval("evt.type = setns and evt.dir = <", e));
  EXPECT_TRUE(eval("evt.type = setns and evt.dir = >", e));
  EXPECT_FALSE(eval("evt.type = setns and evt.dir != <", e));
}

TEST(Fields, ContainerMountsFromTheSpec) {
  Enrichment x;
  x.mounts = std::vector<ContainerMount>{{"proc", "/proc", "", true, ""},
                                         {"/var/run/docker.sock", "/run/docker.sock", "", true, "rprivate"},
                                         {"/proc", "/host/proc", "", false, ""}};
  auto e = EventBuilder().exec("/bin/sh").container("c1");
  EXPECT_TRUE(eval("container.mount.dest[/proc*] = /host/proc", e, &x)) << "by source glob: the host's /proc";
  EXPECT_TRUE(eval("container.mount.dest[/var/run/docker.sock] = /run/docker.sock", e, &x));
  EXPECT_TRUE(eval("container.mount.source[/run/docker.sock] = /var/run/docker.sock", e, &x)) << "source by destination";
  EXPECT_TRUE(eval("container.mount.dest[/etc] = N/A", e, &x)) << "no such mount";
  EXPECT_TRUE(eval("not container.mount.dest[/etc] in (\"<NA>\",\"N/A\") or proc.name = sh", e, &x));
  EXPECT_FALSE(eval("not container.mount.dest[/etc] in (\"<NA>\",\"N/A\")", e, &x)) << "Falco's sensitive_mount idiom";
  EXPECT_FALSE(eval("not container.mount.dest[/etc] in (\"<NA>\",\"N/A\")", e)) << "unknown mounts are not sensitive";
  EXPECT_TRUE(eval("container.mount[1] = '/var/run/docker.sock:/run/docker.sock::true:rprivate'", e, &x));
  EXPECT_TRUE(eval("container.mount[7] = none", e, &x));
  EXPECT_TRUE(eval("container.mount.rdwr[/proc] = false", e, &x));
  EXPECT_TRUE(eval("container.mounts contains '/var/run/docker.sock:/run/docker.sock'", e, &x));
  EXPECT_FALSE(eval("container.mount.dest[/proc*] exists", EventBuilder().exec("/bin/sh"), &x)) << "not in a container";
}

TEST(Fields, ContainerPrivilegedAndImage) {
  Enrichment priv;
  priv.privileged = true;
  priv.image_repository = "docker.io/library/busybox";
  priv.image_tag = "1.36";
  auto e = EventBuilder().exec("/bin/sh").container("c1");
  EXPECT_TRUE(eval("container.privileged = true", e, &priv));
  EXPECT_TRUE(eval("container.image = 'docker.io/library/busybox:1.36'", e, &priv));
  EXPECT_TRUE(eval("container.info contains 'container_image=docker.io/library/busybox'", e, &priv));
  Enrichment plain;
  plain.privileged = false;
  EXPECT_FALSE(eval("container.privileged = true", e, &plain));
  EXPECT_FALSE(eval("container.privileged exists", e)) << "unknown without the spec";
}

TEST(Fields, K8sPodUidIsTheHostsWord) {
  const std::string uid = "6f2b1c3e-9d1a-4f4e-8a55-0c1d2e3f4a5b";
  auto e = EventBuilder().exec("/bin/sh").guest().pod("web", "shop", uid);
  EXPECT_TRUE(eval("k8s.pod.uid = " + uid, e));
  EXPECT_FALSE(eval("k8s.pod.uid = 6f2b1c3e-9d1a-4f4e-8a55-0c1d2e3f4a5c", e)) << "one character off";
  EXPECT_TRUE(eval("k8s.pod.uid startswith 6f2b1c3e and k8s.pod.name = web", e));
  EXPECT_FALSE(eval("k8s.pod.uid exists", EventBuilder().exec("/bin/sh").guest().pod("web", "shop")))
      << "a pod the host knows no uid of";
  EXPECT_FALSE(eval("k8s.pod.uid exists", EventBuilder().exec("/bin/sh").guest())) << "not a pod";

  Engine engine = engine_for("- rule: R\n  desc: d\n  condition: k8s.pod.name = web\n  output: pod %k8s.pod.uid\n  priority: INFO\n");
  std::vector<Alert> alerts;
  engine.process(e, nullptr, alerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].output, "pod " + uid);
  EXPECT_EQ(alerts[0].output_fields["k8s.pod.uid"], uid);
}

TEST(Fields, ResolvedNamesAreEnrichmentOnly) {
  Enrichment x;
  x.cip_name = "client.example";
  x.rip_name = "peer.example";
  x.lip_name = "me.example";
  auto e = EventBuilder().connect("10.0.0.2", 80);
  EXPECT_TRUE(eval("fd.cip.name = client.example and fd.rip.name = peer.example and fd.lip.name = me.example", e, &x));
  EXPECT_FALSE(eval("fd.rip.name exists", e));
}

TEST(Fields, NewEventTypesByFalcosNames) {
  EXPECT_TRUE(eval("evt.type in (mkdir, mkdirat) and evt.arg.path startswith /usr/bin/",
                   EventBuilder().type(EventType::mkdirat).path("/usr/bin/x").args({0755, uint64_t(-100)})));
  EXPECT_FALSE(eval("evt.type in (mkdir, mkdirat) and evt.arg.path startswith /usr/bin/",
                    EventBuilder().type(EventType::mkdirat).path("/usr/binx").args({0755, 0})));
  EXPECT_TRUE(eval("evt.type = rmdir and fd.name = /tmp/d", EventBuilder().type(EventType::rmdir).path("/tmp/d")));
  EXPECT_TRUE(eval("evt.type = setuid and evt.arg.uid = 0", EventBuilder().type(EventType::setuid).args({0})));
  EXPECT_FALSE(eval("evt.type = setuid and evt.arg.uid = 0", EventBuilder().type(EventType::setuid).args({1000})));
  EXPECT_TRUE(eval("evt.type = setreuid and evt.arg.euid = 0", EventBuilder().type(EventType::setresuid).args({1, 0, 4294967295})));
  EXPECT_TRUE(eval("evt.type = capset and evt.arg.cap_effective contains CAP_SYS_ADMIN",
                   EventBuilder().type(EventType::capset).args({kSysAdmin, kSysAdmin, 0})));
  EXPECT_FALSE(eval("evt.type = capset and evt.arg.cap_effective contains CAP_SYS_ADMIN",
                    EventBuilder().type(EventType::capset).args({kNetBind, kSysAdmin, 0})));
  auto recv = EventBuilder().type(EventType::recvfrom).args({3, 512}).build();
  recv.addr = {AF_INET, 53, 0, "8.8.8.8"};
  EXPECT_TRUE(eval("evt.type in (recvfrom, recvmsg) and fd.cip = 8.8.8.8 and fd.rport = 53", recv));
  EXPECT_FALSE(eval("evt.type in (recvfrom, recvmsg) and fd.sip = 8.8.8.8", recv)) << "the sender is the client side";
  EXPECT_TRUE(eval("evt.type = userfaultfd and evt.rawres >= 0", EventBuilder().type(EventType::userfaultfd).args({0}).res(4)));
  EXPECT_TRUE(eval("evt.type = add_key and evt.arg.type = keyring and evt.arg.description = k1",
                   EventBuilder().type(EventType::add_key).path("keyring").path2("k1").args({0})));
  EXPECT_TRUE(eval("evt.type = pivot_root and evt.arg.new_root = /new",
                   EventBuilder().type(EventType::pivot_root).path("/new").path2("/new/old")));
  EXPECT_TRUE(eval("evt.type = lsm_socket_create and evt.arg.domain = AF_VSOCK",
                   EventBuilder().type(EventType::lsm_socket_create).args({AF_VSOCK, SOCK_STREAM, 0})));
  EXPECT_FALSE(eval("evt.type = lsm_socket_create and evt.arg.domain = AF_VSOCK",
                    EventBuilder().type(EventType::lsm_socket_create).args({AF_PACKET, SOCK_RAW, 0})));
  EXPECT_TRUE(eval("evt.type = lsm_anon_inode and evt.arg.name = '[io_uring]'",
                   EventBuilder().type(EventType::lsm_anon_inode).path("[io_uring]")));
}

TEST(Fields, SkipUnknownFieldsNamesTheField) {
  const std::string yaml =
      "- macro: java_read\n  condition: (evt.type=recvfrom and evt.buffer bcontains cafebabe)\n"
      "- rule: Via macro\n  desc: d\n  condition: java_read\n  output: o\n  priority: INFO\n"
      "- rule: Direct\n  desc: d\n  condition: evt.type=recvfrom and evt.buffer bcontains cafebabe\n  output: o\n  priority: INFO\n"
      "- rule: Fine\n  desc: d\n  condition: evt.type=recvfrom\n  output: o\n  priority: INFO\n";
  auto strict = load_text(yaml);
  ASSERT_TRUE(strict.diagnostics.has_errors());
  EXPECT_NE(diagnostics_text(strict).find("unknown field 'evt.buffer'"), std::string::npos) << diagnostics_text(strict);
  auto skipped = load_rules({{"t.yaml", yaml}}, LoadOptions{.skip_unknown_fields = true});
  ASSERT_FALSE(skipped.diagnostics.has_errors()) << diagnostics_text(skipped);
  ASSERT_EQ(skipped.rules.rules.size(), 1u);
  EXPECT_EQ(skipped.rules.rules[0].name, "Fine");
  EXPECT_EQ(skipped.rules.skipped_rules, 2u);
  auto text = diagnostics_text(skipped);
  EXPECT_NE(text.find("rule 'Via macro'"), std::string::npos) << text;
  EXPECT_NE(text.find("rule 'Direct'"), std::string::npos) << text;
  EXPECT_NE(text.find("skipped (--skip-unknown-fields): unknown field 'evt.buffer'"), std::string::npos) << text;
  // Near miss: a syntax error is not an unknown field, and still fails the load.
  auto broken = load_rules({{"t.yaml", "- rule: B\n  desc: d\n  condition: evt.type = (\n  output: o\n  priority: INFO\n"}},
                           LoadOptions{.skip_unknown_fields = true});
  EXPECT_TRUE(broken.diagnostics.has_errors());
}

}  // namespace
}  // namespace kata_sentry::policy::test
