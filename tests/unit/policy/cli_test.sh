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

# A field kata-sentry cannot supply: an error naming the rule and the field with file:line:col, or,
# with --skip-unknown-fields, the rule left out with a warning naming both.
fx=$src/tests/unit/policy/fixtures/unknown_field.yaml
out=$("$ks" rules validate "$fx"); rc=$?
echo "$out"
[ "$rc" = 1 ] || fail "validate with an unknown field exited $rc, want 1"
echo "$out" | grep -q "unknown_field.yaml:10:14: error: rule 'Class file received': unknown field 'evt.buffer' (macro 'payload_has_class_file' at .*unknown_field.yaml:6:14)" || fail "unknown field not named"
out=$("$ks" rules validate --skip-unknown-fields "$fx") || fail "validate --skip-unknown-fields exited $?: $out"
echo "$out"
echo "$out" | grep -q "unknown_field.yaml:10:14: warning: rule 'Class file received': skipped (--skip-unknown-fields): unknown field 'evt.buffer'" || fail "skip warning"
echo "$out" | grep -q "^ok: 1 rules and 0 sequences compiled .* 1 rules and 0 sequences skipped for an unknown field" || fail "skip count"
"$ks" rules validate --json --skip-unknown-fields "$fx" | grep -q '"rules_skipped": 1' || fail "json skip count"

out=$("$ks" replay --rules "$falco" --events "$src/tests/unit/policy/fixtures/shell_in_nginx.jsonl") || fail "replay exited $?"
echo "$out"
echo "$out" | grep -q '"rule":"Run shell untrusted"' || fail "replay: no Run shell untrusted alert"

"$ks" rules fields | grep -q "container.image.repository" || fail "fields"
"$ks" rules list "$falco" "$src/rules" | grep -q "Guest kernel module load" || fail "list"
echo "PASS"
