#!/bin/sh
# Every panel factorization (PFACT x RFACT, NBMIN, NDIV), broadcast, swap
# algorithm, U form and look-ahead depth gives a PASSED residual.
. "$top_srcdir/tests/hpl/lib.sh"
# factorizations on 2 x 2: 3 x 3 x 2 x 2 x 2 = 72 tests
NS=151; NBS=20; PS=2; QS=2; PFACTS="0 1 2"; NBMINS="1 4"; NDIVS="2 3"; RFACTS="0 1 2"; BCASTS=1; DEPTHS="0 1"
make_dat HPL.dat
run 4 --no-output > fact.out 2>&1 || { tail -20 fact.out; fail "factorizations exited non-zero"; }
expect_passed fact.out 72
# broadcasts on 1 x 4 (rings, spread-roll) at every depth: 6 x 3 tests
NS=157; NBS=12; PS=1; QS=4; PFACTS=2; NBMINS=4; NDIVS=2; RFACTS=1; BCASTS="0 1 2 3 4 5"; DEPTHS="0 1 2"
make_dat HPL.dat
run 4 --no-output > bcast.out 2>&1 || { tail -20 bcast.out; fail "broadcasts exited non-zero"; }
expect_passed bcast.out 18
# swaps on 3 x 1 (binary exchange folds a rank) and 4 x 1, both U forms, column-major map
NS=149; NBS=10; PS="3 4"; QS="1 1"; BCASTS=1; DEPTHS="0 2"; PMAP=1
for SWAP in 0 1 2; do
    for U in 0 1; do
        make_dat HPL.dat
        run 4 --no-output > "swap$SWAP$U.out" 2>&1 || { tail -20 "swap$SWAP$U.out"; fail "swap $SWAP U $U exited non-zero"; }
        expect_passed "swap$SWAP$U.out" 4
    done
done
exit 0
