#!/bin/sh
# The UCX collective layer: every algorithm at np = 2, 3, 4, 5 (oversubscribed)
# over shared memory and tcp, bitwise equal to the rank-order sum on every
# rank (and cb_fsum's vector sums equal to the plain loop's); a flipped bit in
# one rank's result must fail the check.
#
# Every rank must also have returned from MPI_Finalize: test_ucoll creates
# finalized.RANK in a directory afterwards, and a run passes only with all of
# them. mpirun's own check of the same thing is turned off
# (orte_allowed_exit_without_sync): PMIx's client gives the server 2 s to
# acknowledge its finalize and then exits anyway (PMIx_Finalize's fixed timer,
# PMIx 4.2), and when mpirun has not had the CPU for those 2 s it reports that
# rank as "exiting improperly" although it finalized and exited 0 (Open MPI
# issue 7833). On a loaded machine that failed two of these runs; stopping
# mpirun for 2.5 s while the ranks finalize does it every time.
set -u
bin=$top_builddir/tests/common/test_ucoll
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
: "${CB_TEST_TIMEOUT:=120}"
export CB_TEST_TIMEOUT
fail=0

# run NP LABEL ARGS...: one launch of test_ucoll; its exit status, its output
# in $tmp/out and $tmp/err, and (non-zero) whether a rank did not finalize.
run()
{
    np=$1 label=$2
    shift 2
    rm -rf "$tmp/fin" && mkdir "$tmp/fin" || exit 1
    "$top_srcdir/tests/launch" $np --mca orte_allowed_exit_without_sync 1 "$bin" --finalized "$tmp/fin" "$@" \
        > "$tmp/out" 2> "$tmp/err"
    rc=$?
    [ $rc = 77 ] && exit 77
    echo "== $label: exit $rc"; cat "$tmp/out" "$tmp/err"
    unfinalized=0
    r=0
    while [ $r -lt $np ]; do
        [ -e "$tmp/fin/finalized.$r" ] || { echo "rank $r did not return from MPI_Finalize"; unfinalized=1; }
        r=$((r + 1))
    done
    return $rc
}

for tls in posix+cma tcp; do
    for np in 2 3 4 5; do
        run $np "np $np, $tls" --tls $tls --rounds 1
        rc=$?
        [ $rc = 0 ] && [ $unfinalized = 0 ] && grep -q "bitwise equal" "$tmp/out" || { echo "FAIL: np $np over $tls"; fail=1; }
    done
done
# The other paths: streaming stores, prefetching pulls, waits that sleep at
# once (no spinning: wake-ups and sleeps), auto by thresholds, no wake-ups.
for env in "CB_UCOLL_NT=1 CB_UCOLL_PREFETCH=1 CB_UCOLL_SPIN_US=0" "CB_UCOLL_CALIBRATE=0 CB_UCOLL_WAKEUP=0"; do
    for tls in posix+cma tcp; do
        # shellcheck disable=SC2086
        (export $env && run 3 "np 3, $tls, $env" --tls $tls --rounds 1 && [ $unfinalized = 0 ] &&
            grep -q "bitwise equal" "$tmp/out") || { echo "FAIL: np 3 over $tls with $env"; fail=1; }
    done
done
run 3 "corrupted" --tls posix+cma --rounds 1 --corrupt
rc=$?
[ $rc != 0 ] && grep -q "rank 2: .*the rank-order sum is" "$tmp/err" || { echo "FAIL: the corruption passed the check"; fail=1; }
exit $fail
