// main() of every gtest binary in kata-sentry (ks_test() links it instead of GTest::gtest_main).
//
// On the machine kind the tiers run on, every capability a test can ask for exists (root, BPF,
// BPF LSM in a guest, QEMU, containerd), so a test that skips is a test that did not run, which
// would otherwise pass unseen. Here a skip fails the test, and the failure says why it skipped
// (the capability that was missing); a test still calls GTEST_SKIP() with that reason, so that
// the message is right on a machine that really lacks it. The same holds for the other ways of
// not running: a GTEST_SKIP() in SetUpTestSuite() (which gtest 1.12 records without skipping
// anything), in a global environment, a DISABLED_ test, and a run in which no test ran at all (a
// --gtest_filter that matches nothing, a binary whose tests were lost).
//
// The conversion happens before gtest's own printer sees the test end, so the output says
// "[  FAILED  ]", never "[  SKIPPED ]": CTest's SKIP_REGULAR_EXPRESSION, which CMake's
// gtest_discover_tests() sets on every test it adds, never matches.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kWhy =
    "a skip is a failure here: the tiers run where every capability exists, so a test that "
    "skips did not run";

// "<file>:<line>: <message>" of the first skip recorded in `result`; empty if there is none.
std::string skip_reason(const testing::TestResult& result) {
  for (int i = 0; i < result.total_part_count(); ++i) {
    const testing::TestPartResult& part = result.GetTestPartResult(i);
    if (!part.skipped()) continue;
    std::string where = part.file_name() ? std::string(part.file_name()) + ":" + std::to_string(part.line_number()) + ": " : "";
    std::string message = part.message();
    if (message.empty())  // GTEST_SKIP() without one, or gtest's own skip of a test it will not run
      message = "no reason given (gtest skips a test on its own when its suite's SetUpTestSuite() failed, or after --gtest_fail_fast)";
    return where + message;
  }
  return {};
}

// Sees a test's end before gtest's printer does (see main), so the printer and the XML report
// see a failure.
// Failures raised from OnTestEnd / OnTestSuiteEnd are recorded on the test / the suite that is
// ending; this listener does not handle OnTestPartResult, as gtest requires of one that raises.
class SkipIsFailure : public testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const testing::TestInfo& test) override {
    if (!test.result()->Skipped()) return;
    std::string why = skip_reason(*test.result());
    ADD_FAILURE_AT(test.file(), test.line()) << "test skipped; " << kWhy << ".\nSkip reason: " << why;
  }

  void OnTestSuiteEnd(const testing::TestSuite& suite) override {
    std::string why = skip_reason(suite.ad_hoc_test_result());
    if (why.empty()) return;
    ADD_FAILURE() << "GTEST_SKIP() in " << suite.name() << "::SetUpTestSuite()/TearDownTestSuite(); " << kWhy
                  << ".\nSkip reason: " << why;
  }
};

bool asks_for_help(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h" || a == "-?" || a == "/?" || a == "--gtest_help") return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const bool help = asks_for_help(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  // gtest delivers the *End events in reverse order of the listeners: appended after the
  // default printer, SkipIsFailure sees a test's end before the printer does.
  testing::UnitTest::GetInstance()->listeners().Append(new SkipIsFailure);

  int rc = RUN_ALL_TESTS();
  if (help || GTEST_FLAG_GET(list_tests)) return rc;

  const testing::UnitTest& unit = *testing::UnitTest::GetInstance();
  if (std::string why = skip_reason(unit.ad_hoc_test_result()); !why.empty()) {
    // A skip in a global environment's SetUp: gtest then runs no test at all.
    std::fprintf(stderr, "[ KS-FAIL  ] GTEST_SKIP() in a global test environment; %s.\nSkip reason: %s\n",
                 std::string(kWhy).c_str(), why.c_str());
    rc = 1;
  }
  if (unit.reportable_disabled_test_count() > 0) {
    std::fprintf(stderr, "[ KS-FAIL  ] %d DISABLED_ test(s) match the filter: a disabled test is a skip; make it run or delete it\n",
                 unit.reportable_disabled_test_count());
    rc = 1;
  }
  if (unit.test_to_run_count() == 0) {
    std::fprintf(stderr, "[ KS-FAIL  ] no test ran (--gtest_filter=%s): a run that tests nothing proves nothing\n",
                 GTEST_FLAG_GET(filter).c_str());
    rc = 1;
  }
  return rc;
}
