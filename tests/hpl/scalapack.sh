#!/bin/sh
# ScaLAPACK's PDGESV solves the same generated system in the same harness and
# passes the same residual check.
. "$top_srcdir/tests/hpl/lib.sh"
run 2 -N 301 --nb 32 --solver scalapack --no-output > s.out 2>&1
rc=$?
if grep -q 'this build has no ScaLAPACK' s.out; then exit 77; fi
[ $rc -eq 0 ] || { cat s.out; fail "scalapack run exited $rc"; }
expect_passed s.out 1
grep -q 'Solver: ScaLAPACK PDGESV (info 0)' s.out || fail "no ScaLAPACK solver line"
exit 0
