// Every operator, grammar construct and precedence rule of the condition language.
#include <fcntl.h>
#include <sys/socket.h>

#include "policy-engine/compile.h"
#include "policy-engine/condition.h"
#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

// Evaluates `cond` (with optional lists/macros before it) on `e`.
bool eval(const std::string& cond, const Event& e, const std::string& items = "", const Enrichment* x = nullptr) {
  auto r = load_text(one_rule(cond, items));
  EXPECT_FALSE(r.diagnostics.has_errors()) << cond << "\n" << diagnostics_text(r);
  if (r.diagnostics.has_errors()) return false;
  Engine engine(std::move(r.rules), {});
  return has(fired(engine, e, x), "R");
}

Event shell() {
  return EventBuilder().exec("/bin/bash", {"-c", "echo hello"}).parent("nginx", "/usr/sbin/nginx").ancestor("containerd-shim").uid(1000).container("c1");
}

TEST(Operators, Equality) {
  EXPECT_TRUE(eval("proc.name = bash", shell()));
  EXPECT_TRUE(eval("proc.name == bash", shell()));
  EXPECT_FALSE(eval("proc.name = sh", shell()));
  EXPECT_TRUE(eval("proc.name != sh", shell()));
  EXPECT_FALSE(eval("proc.name != bash", shell()));
  EXPECT_TRUE(eval("user.uid = 1000", shell()));
  EXPECT_TRUE(eval("user.uid != 0", shell()));
}

TEST(Operators, NumericOrdering) {
  EXPECT_TRUE(eval("user.uid < 1001", shell()));
  EXPECT_TRUE(eval("user.uid <= 1000", shell()));
  EXPECT_FALSE(eval("user.uid < 1000", shell()));
  EXPECT_TRUE(eval("user.uid > 999", shell()));
  EXPECT_TRUE(eval("user.uid >= 1000", shell()));
  EXPECT_FALSE(eval("user.uid > 1000", shell()));
  EXPECT_TRUE(eval("evt.rawres >= 0", shell()));
}

TEST(Operators, StringMatching) {
  EXPECT_TRUE(eval("proc.cmdline contains hello", shell()));
  EXPECT_FALSE(eval("proc.cmdline contains HELLO", shell()));
  EXPECT_TRUE(eval("proc.cmdline icontains HELLO", shell()));
  EXPECT_TRUE(eval("proc.exepath startswith /bin/", shell()));
  EXPECT_FALSE(eval("proc.exepath startswith /usr/", shell()));
  EXPECT_TRUE(eval("proc.exepath endswith /bash", shell()));
  EXPECT_TRUE(eval("proc.exepath glob '/b*/ba?h'", shell()));
  EXPECT_FALSE(eval("proc.exepath glob '/usr/*'", shell()));
  EXPECT_TRUE(eval("proc.exepath regex '/bin/(ba|z)sh'", shell()));
  EXPECT_FALSE(eval("proc.exepath regex 'bash'", shell())) << "regex is a full match";
}

TEST(Operators, Bytes) {
  // "bash" = 62 61 73 68
  EXPECT_TRUE(eval("proc.name bcontains 6173", shell()));
  EXPECT_TRUE(eval("proc.name bstartswith 6261", shell()));
  EXPECT_FALSE(eval("proc.name bstartswith 6173", shell()));
}

TEST(Operators, Lists) {
  EXPECT_TRUE(eval("proc.name in (sh, bash, zsh)", shell()));
  EXPECT_FALSE(eval("proc.name in (sh, zsh)", shell()));
  EXPECT_TRUE(eval("proc.name intersects (bash)", shell()));
  EXPECT_TRUE(eval("user.uid in (0, 1000)", shell()));
  EXPECT_FALSE(eval("user.uid in (0, 1)", shell()));
  EXPECT_TRUE(eval("proc.name in (shells)", shell(), "- list: shells\n  items: [sh, bash]\n"));
  EXPECT_TRUE(eval("proc.name in (more)", shell(),
                   "- list: shells\n  items: [sh, bash]\n- list: more\n  items: [shells, zsh]\n")) << "nested lists expand";
  EXPECT_TRUE(eval("proc.name in ()", shell()) == false);
}

TEST(Operators, Pmatch) {
  auto e = EventBuilder().open("/etc/ssh/sshd_config");
  EXPECT_TRUE(eval("fd.name pmatch (/etc/ssh, /var)", e));
  EXPECT_TRUE(eval("fd.name pmatch (/etc/ssh/sshd_config)", e));
  EXPECT_FALSE(eval("fd.name pmatch (/etc/ss)", e)) << "prefix must end at a path component";
  EXPECT_TRUE(eval("fd.name pmatch (/)", e));
}

TEST(Operators, Exists) {
  EXPECT_TRUE(eval("proc.pname exists", shell()));
  EXPECT_FALSE(eval("proc.pname exists", EventBuilder().exec("/bin/sh")));
  EXPECT_FALSE(eval("vmm.pid exists", shell()));
  EXPECT_TRUE(eval("vmm.pid exists", EventBuilder().exec("/bin/sh").vmm(77)));
}

TEST(Operators, IpNetworks) {
  auto e = EventBuilder().connect("10.1.2.3", 443);
  EXPECT_TRUE(eval("fd.snet = 10.0.0.0/8", e));
  EXPECT_FALSE(eval("fd.snet = 192.168.0.0/16", e));
  EXPECT_TRUE(eval("fd.snet != 192.168.0.0/16", e));
  EXPECT_TRUE(eval("fd.net in (\"192.168.0.0/16\", \"10.0.0.0/8\")", e));
  EXPECT_TRUE(eval("fd.sip = 10.1.2.3 and fd.sport = 443 and fd.typechar = 4", e));
  auto v6 = EventBuilder().connect("fd00::1", 80, AF_INET6);
  EXPECT_TRUE(eval("fd.net = fd00::/8 and fd.type = ipv6", v6));
}

TEST(Operators, AbsentValuesNeverMatchButNegate) {
  // proc.tty is absent without enrichment: every comparison false, `not` true (Falco).
  EXPECT_FALSE(eval("proc.tty = 0", shell()));
  EXPECT_FALSE(eval("proc.tty != 0", shell()));
  EXPECT_TRUE(eval("not proc.tty != 0", shell()));
  Enrichment x;
  x.tty = 5;
  EXPECT_TRUE(eval("proc.tty != 0", shell(), "", &x));
  EXPECT_TRUE(eval("container.image.repository = \"\"", shell())) << "unknown image compares as empty";
  EXPECT_TRUE(eval("container.id = host", EventBuilder().exec("/bin/sh"))) << "host events: container.id = host";
}

TEST(Grammar, PrecedenceNotAndOr) {
  // a or b and c == a or (b and c)
  EXPECT_TRUE(eval("proc.name = bash or proc.name = x and proc.name = y", shell()));
  EXPECT_FALSE(eval("(proc.name = bash or proc.name = x) and proc.name = y", shell()));
  // not binds tighter than and
  EXPECT_TRUE(eval("not proc.name = sh and proc.name = bash", shell()));
  EXPECT_FALSE(eval("not (proc.name = sh or proc.name = bash)", shell()));
  EXPECT_TRUE(eval("not not proc.name = bash", shell()));
  EXPECT_TRUE(eval("((((proc.name = bash))))", shell()));
}

TEST(Grammar, MacrosAndQuoting) {
  std::string items = "- macro: is_bash\n  condition: proc.name = bash\n";
  EXPECT_TRUE(eval("is_bash and evt.type = execve", shell(), items));
  EXPECT_FALSE(eval("not is_bash", shell(), items));
  EXPECT_TRUE(eval("proc.cmdline = \"bash -c echo hello\"", shell()));
  EXPECT_TRUE(eval("proc.args = '-c echo hello'", shell()));
  EXPECT_TRUE(eval("proc.pname in (\"nginx\", 'x y')", shell()));
  EXPECT_TRUE(eval("proc.name in (\"runc:[1:CHILD]\", bash)", shell()));
}

TEST(Grammar, IndexedAndAncestorFields) {
  EXPECT_TRUE(eval("proc.aname[1] = nginx", shell()));
  EXPECT_TRUE(eval("proc.aname[2] = containerd-shim", shell()));
  EXPECT_TRUE(eval("proc.aname[0] = bash", shell()));
  EXPECT_FALSE(eval("proc.aname[3] exists", shell()));
  EXPECT_TRUE(eval("proc.aname = containerd-shim", shell())) << "without [N]: any ancestor";
  EXPECT_TRUE(eval("proc.aname in (nginx)", shell()));
  EXPECT_FALSE(eval("proc.aname = bash", shell())) << "the process itself is not an ancestor";
  EXPECT_TRUE(eval("proc.aexepath[1] = /usr/sbin/nginx", shell()));
}

TEST(Grammar, EventArguments) {
  auto e = EventBuilder().open("/var/log/syslog", O_WRONLY | O_TRUNC);
  EXPECT_TRUE(eval("evt.arg.flags contains O_TRUNC", e));
  EXPECT_TRUE(eval("evt.arg[0] contains O_WRONLY", e));
  EXPECT_TRUE(eval("evt.rawarg.flags = 513", e));
  EXPECT_FALSE(eval("evt.arg.nonexistent exists", e));
  auto p = EventBuilder().type(EventType::ptrace).args({16, 99});
  EXPECT_TRUE(eval("evt.arg.request = PTRACE_ATTACH and evt.rawarg.pid = 99", p));
  EXPECT_TRUE(eval("evt.args contains PTRACE_ATTACH", p));
}

TEST(Grammar, TransformersAndVal) {
  auto e = EventBuilder().exec("/bin/BASH").parent("BASH");
  EXPECT_TRUE(eval("tolower(proc.name) = bash", e));
  EXPECT_TRUE(eval("toupper(tolower(proc.name)) = BASH", e));
  EXPECT_TRUE(eval("basename(proc.exepath) = BASH", e));
  EXPECT_TRUE(eval("b64(proc.name) = hello", EventBuilder().exec("/bin/aGVsbG8=")));
  EXPECT_TRUE(eval("proc.name = val(proc.pname)", e));
  EXPECT_FALSE(eval("proc.name = val(proc.pname)", shell()));
  EXPECT_TRUE(eval("proc.pid = val(proc.pid)", shell()));
}

TEST(Grammar, EventTypeIndexing) {
  auto types = [](const std::string& cond) {
    ParseContext ctx;
    auto r = parse_condition(cond, ctx);
    EXPECT_TRUE(r.ast) << cond;
    return r.ast ? condition_types(*r.ast) : TypeSet{};
  };
  auto bit = [](EventType t) { return TypeSet().set(static_cast<size_t>(t)); };
  EXPECT_EQ(types("evt.type = execve and proc.name = sh"), bit(EventType::execve));
  EXPECT_EQ(types("evt.type in (execve, openat) and evt.type = openat"), bit(EventType::openat));
  EXPECT_EQ(types("evt.type = execve or evt.type = connect"), bit(EventType::execve) | bit(EventType::connect));
  EXPECT_EQ(types("proc.name = sh"), all_types());
  EXPECT_EQ(types("not evt.type = execve"), all_types() & ~bit(EventType::execve));
  EXPECT_EQ(types("evt.type in (symlink, symlinkat)"), bit(EventType::symlinkat)) << "Falco names fold into ours";
}

TEST(Grammar, EngineOnlyEvaluatesIndexedRules) {
  auto r = load_text(one_rule("evt.type = execve and proc.name = sh"));
  Engine engine(std::move(r.rules), {});
  std::vector<Alert> alerts;
  engine.process(EventBuilder().open("/x"), alerts);
  EXPECT_EQ(engine.stats().rule_evaluations, 0u);
  engine.process(EventBuilder().exec("/bin/sh"), alerts);
  EXPECT_EQ(engine.stats().rule_evaluations, 1u);
  EXPECT_EQ(alerts.size(), 1u);
}

}  // namespace
}  // namespace kata_sentry::policy::test

namespace kata_sentry::policy::test {
namespace {

TEST(Grammar, DeepNestingIsAnErrorNotACrash) {
  std::string deep(5000, '(');
  auto r = parse_condition(deep + "proc.name = x" + std::string(5000, ')'), {});
  EXPECT_FALSE(r.ast);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].message.find("nested deeper than 200"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "not ";
  EXPECT_FALSE(parse_condition(nots + "proc.name = x", {}).ast);
  EXPECT_TRUE(parse_condition(std::string(50, '(') + "proc.name = x" + std::string(50, ')'), {}).ast);
}

}  // namespace
}  // namespace kata_sentry::policy::test
