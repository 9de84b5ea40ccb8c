#!/usr/bin/env bash
# Proves the test-hygiene rules on a fixture project (fixture/) built with the project's own
# ks_test() (tests/ks_test.cmake) and main() (tests/support/gtest_main.cpp):
#   * a plain `ctest -L unit` reports a GTEST_SKIP (in a test, a fixture's SetUp, a suite's
#     SetUpTestSuite), a DISABLED_ test, a binary whose discovery finds no test and a binary that
#     runs no test as FAILED, never skipped, and prints the skip's reason;
#   * scripts/run-tests.sh fails a tier with such tests, a tier ctest reports skipped, a tier with
#     no test, a build whose listing fails and a missing build, and passes a clean tier.
# usage: hygiene_test.sh SOURCE_DIR WORK_DIR CMAKE CTEST CXX   (env KS_CXX_COMPILER_LAUNCHER)
set -uo pipefail
src=$1 work=$2 cmake=$3 ctest=$4 cxx=$5
fx=$work/build
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mkdir -p "$work"
launcher=()
[ -n "${KS_CXX_COMPILER_LAUNCHER:-}" ] && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$KS_CXX_COMPILER_LAUNCHER")
if ! "$cmake" -S "$src/tests/unit/hygiene/fixture" -B "$fx" -DKS_SOURCE_DIR="$src" -DCMAKE_CXX_COMPILER="$cxx" \
     "${launcher[@]}" >"$work/configure.log" 2>&1; then
  cat "$work/configure.log"
  echo "FAIL: configuring the fixture project"
  exit 1
fi
if ! "$cmake" --build "$fx" -j 2 >"$work/build.log" 2>&1; then
  tail -60 "$work/build.log"
  echo "FAIL: building the fixture project"
  exit 1
fi

# ---- a plain ctest run of the "unit" label: every entry but one fails, none is skipped
out=$("$ctest" --test-dir "$fx" -L '^unit$' --output-on-failure 2>&1)
rc=$?
echo "$out"
echo "----"
[ "$rc" != 0 ] || fail "ctest -L unit exited 0 although the fixture skips"
result() {  # result <ctest name> <Passed|Failed>
  local name=${1//./\\.}
  grep -qE "Test +#[0-9]+: $name \.* *(\*\*\*)?$2" <<<"$out" || fail "$1 is not reported $2"
}
result unit.Fixture.Passes Passed
for t in unit.Fixture.SkipsForAMissingCapability unit.Fixture.IsDisabled unit.SkippingFixture.Skips \
         unit.SkippedSuite.BodyRunsAnyway unit.skips_whole unit.empty_test.NO_TESTS_DISCOVERED unit.empty_whole; do
  result "$t" Failed
done
grep -qE '\*\*\*(Skipped|Not Run)' <<<"$out" && fail "ctest reported a test skipped or not run"
for reason in "Skip reason: .*needs the frobnicator capability \(hygiene fixture\)" \
              "Skip reason: .*fixture needs the gadget capability \(hygiene fixture\)" \
              "Skip reason: .*suite needs the widget capability \(hygiene fixture\)" \
              "DISABLED_ test\(s\) match the filter" \
              "empty_test: gtest discovery found no test" \
              "no test ran \(--gtest_filter=\*\)"; do
  grep -qE "$reason" <<<"$out" || fail "no '$reason' in the output"
done

# ---- the binary on its own: a filter matching nothing fails, a listing and a passing test do not
"$fx/tests/skips_test" --gtest_filter=Fixture.Passes >/dev/null 2>&1 || fail "skips_test --gtest_filter=Fixture.Passes failed"
"$fx/tests/skips_test" --gtest_list_tests >/dev/null 2>&1 || fail "skips_test --gtest_list_tests failed"
if none=$("$fx/tests/skips_test" --gtest_filter='NoSuch.*' 2>&1); then
  fail "skips_test with a filter that matches nothing exited 0"
else
  grep -q "no test ran (--gtest_filter=NoSuch.\*)" <<<"$none" || fail "no reason for the empty run: $none"
fi

# ---- scripts/run-tests.sh
runs() {  # runs <expected exit: 0|fail> <message regex or ""> <run-tests.sh args...>
  local want=$1 msg=$2
  shift 2
  local got rc
  got=$("$src/scripts/run-tests.sh" "$@" 2>&1)
  rc=$?
  if [ "$want" = 0 ] && [ "$rc" != 0 ]; then fail "run-tests.sh $* exited $rc, want 0: $got"; return; fi
  if [ "$want" != 0 ] && [ "$rc" = 0 ]; then fail "run-tests.sh $* exited 0, want a failure: $got"; return; fi
  if [ -n "$msg" ] && ! grep -qE "$msg" <<<"$got"; then fail "run-tests.sh $*: no '$msg' in: $got"; fi
}
runs 0 "tier clean: 1 tests" "$fx" clean
[ -s "$fx/test-results/clean.xml" ] || fail "run-tests.sh wrote no JUnit report into $fx/test-results"
runs fail "tier unit: 8 tests" "$fx" unit
runs fail "tier skipcode: FAILED: tests were SKIPPED" "$fx" skipcode
runs fail "tier no-such-tier: FAILED: no tests" "$fx" no-such-tier
runs fail "tier no-such-tier: FAILED: no tests" "$fx" clean no-such-tier  # one empty tier fails the run
mkdir -p "$work/unlistable"
printf 'add_test(t true)\nmessage(FATAL_ERROR "hygiene fixture: a listing that fails")\n' >"$work/unlistable/CTestTestfile.cmake"
runs fail "tier unit: FAILED: listing its tests failed" "$work/unlistable" unit
runs fail "no build directory" "$work/no-such-build" unit
[ -e "$work/no-such-build" ] && fail "run-tests.sh created the missing build directory"

if [ "$failures" != 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "PASS"
