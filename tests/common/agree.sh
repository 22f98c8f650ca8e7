#!/bin/sh
# One rank fails alone: every rank exits non-zero, one line on stderr, no hang.
# A bad option: one line, non-zero exit. No failure: exit 0.
set -u
bin=$top_builddir/tests/common/agree_fail
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

"$top_srcdir/tests/launch" 3 "$bin" --fail-rank 1 > "$tmp/out" 2> "$tmp/err"
rc=$?
[ $rc = 77 ] && exit 77
lines=$(grep -c . "$tmp/err")
echo "rank 1 fails: exit $rc, stderr:"; cat "$tmp/err"
[ $rc -ne 0 ] || { echo "FAIL: exit 0"; fail=1; }
grep -q "agree_fail: rank 1: cannot open model.bin: synthetic failure on rank 1" "$tmp/err" || { echo "FAIL: message"; fail=1; }
grep -q "must stay quiet" "$tmp/err" && { echo "FAIL: second failure printed"; fail=1; }

"$top_srcdir/tests/launch" 3 "$bin" --bogus > "$tmp/out" 2> "$tmp/err"
rc=$?
echo "bad option: exit $rc, stderr:"; cat "$tmp/err"
[ $rc -ne 0 ] || { echo "FAIL: exit 0 on a bad option"; fail=1; }
[ "$(grep -c 'agree_fail: unknown option --bogus' "$tmp/err")" = 1 ] || { echo "FAIL: not exactly one error line"; fail=1; }

"$top_srcdir/tests/launch" 3 "$bin" --fail-rank 3000000 > "$tmp/out" 2> "$tmp/err"
rc=$?
[ $rc -ne 0 ] && grep -q "out of range" "$tmp/err" || { echo "FAIL: out-of-range value accepted"; fail=1; }

"$top_srcdir/tests/launch" 3 "$bin" > "$tmp/out" 2> "$tmp/err"
rc=$?
[ $rc = 0 ] && grep -q "all ranks passed" "$tmp/out" || { echo "FAIL: clean run (exit $rc)"; cat "$tmp/err"; fail=1; }
exit $fail
