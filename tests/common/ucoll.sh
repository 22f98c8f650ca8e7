#!/bin/sh
# The UCX collective layer: every algorithm at np = 2, 3, 4, 5 (oversubscribed)
# over shared memory and tcp, bitwise equal to the rank-order sum on every
# rank; a flipped bit in one rank's result must fail the check.
set -u
bin=$top_builddir/tests/common/test_ucoll
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
: "${CB_TEST_TIMEOUT:=120}"
export CB_TEST_TIMEOUT
fail=0
for tls in posix+cma tcp; do
    for np in 2 3 4 5; do
        "$top_srcdir/tests/launch" $np "$bin" --tls $tls --rounds 1 > "$tmp/out" 2> "$tmp/err"
        rc=$?
        [ $rc = 77 ] && exit 77
        echo "== np $np, $tls: exit $rc"; cat "$tmp/out" "$tmp/err"
        [ $rc = 0 ] && grep -q "bitwise equal" "$tmp/out" || { echo "FAIL: np $np over $tls"; fail=1; }
    done
done
"$top_srcdir/tests/launch" 3 "$bin" --tls posix+cma --rounds 1 --corrupt > "$tmp/out" 2> "$tmp/err"
rc=$?
echo "== corrupted: exit $rc"; cat "$tmp/out" "$tmp/err"
[ $rc != 0 ] && grep -q "rank 2: .*the rank-order sum is" "$tmp/err" || { echo "FAIL: the corruption passed the check"; fail=1; }
exit $fail
