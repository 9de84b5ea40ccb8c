#!/bin/sh
# The acceptance checks of `kata-sentry rules` and `kata-sentry replay`, run on the real binary.
# usage: cli_test.sh KATA_SENTRY SOURCE_DIR FALCO_RULES
set -u
ks=$1 src=$2 falco=$3
fail() { echo "FAIL: $*"; exit 1; }

out=$("$ks" rules validate "$falco" "$src/rules/") || fail "validate of Falco's rules + ours exited $?: $out"
echo "$out"
echo "$out" | grep -q "falco_rules.yaml: 25 rules" || fail "expected 25 Falco rules"
echo "$out" | grep -q "^ok: " || fail "expected ok"

out=$("$ks" rules validate "$src/tests/unit/policy/fixtures/three_errors.yaml"); rc=$?
echo "$out"
[ "$rc" = 1 ] || fail "validate of a broken file exited $rc, want 1"
echo "$out" | grep -q "three_errors.yaml:6:36: error: rule 'Typo field': unknown field 'proc.nmae'" || fail "typo"
echo "$out" | grep -q "three_errors.yaml:14:7: error: rule 'Unbalanced': unbalanced parenthesis" || fail "paren"
echo "$out" | grep -q "three_errors.yaml:20:50: error: rule 'Undefined macro': undefined macro 'undefined_macro_here'" || fail "macro"
"$ks" rules validate --json "$src/tests/unit/policy/fixtures/three_errors.yaml" | grep -q '"errors": 3' || fail "json errors"

out=$("$ks" replay --rules "$falco" --events "$src/tests/unit/policy/fixtures/shell_in_nginx.jsonl") || fail "replay exited $?"
echo "$out"
echo "$out" | grep -q '"rule":"Run shell untrusted"' || fail "replay: no Run shell untrusted alert"

"$ks" rules fields | grep -q "container.image.repository" || fail "fields"
"$ks" rules list "$falco" "$src/rules" | grep -q "Guest kernel module load" || fail "list"
echo "PASS"
