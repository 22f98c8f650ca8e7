#!/bin/sh
# Bad input is refused with one clear line naming the problem (and the line
# of HPL.dat), a non-zero exit and no crash.
. "$top_srcdir/tests/hpl/lib.sh"
NS=100; NBS=16; PS=1; QS=2; PFACTS=2; NBMINS=4; NDIVS=2; RFACTS=1; BCASTS=1; DEPTHS=1
make_dat good.dat

# expect_error NP PATTERN ARGS...: non-zero exit, PATTERN on stderr, no crash
expect_error() {
    np=$1; pat=$2; shift 2
    if run "$np" --no-output "$@" > err.out 2>&1; then cat err.out; fail "'$*' exited 0"; fi
    grep -q -e "$pat" err.out || { cat err.out; fail "'$*': no line matching '$pat'"; }
    if grep -q -i -e 'segmentation' -e 'signal' -e 'core dumped' err.out; then cat err.out; fail "'$*' crashed"; fi
}
bad() { # LINE SED-EXPRESSION PATTERN
    sed "$2" good.dat > "bad$1.dat"
    expect_error 2 "$3" --dat "bad$1.dat"
}
expect_error 2 'HPL.dat: cannot open'
bad 6 '6s/100 /1x0 /' "bad6.dat:6: Ns: '1x0' is not an integer"
bad 8 '8s/16 /0 /' 'bad8.dat:8: NBs: 0 is out of range'
bad 5 '5s/^1 /0 /' 'bad5.dat:5: number of Ns: 0 is out of range'
bad 7 '7s/^1 /2 /' 'bad7.dat:8: NBs: value 2'
bad 12 '12s/2 /4 /' 'bad12.dat:11: grid 1 x 4 needs 4 ranks, the run has 2'
bad 15 '15s/2 /7 /' 'bad15.dat:15: PFACTs'
bad 19 '19s/2 /1 /' 'bad19.dat:19: NDIVs: 1 is out of range'
bad 25 '25s/1 /3 /' 'bad25.dat:25: DEPTHs (0, 1 or 2: the depths implemented): 3 is out of range'
bad 26 '26s/2 /9 /' 'bad26.dat:26: SWAP'
bad 31 '31d' 'bad31.dat:31: file ends after 30 lines'
bad 11 '12s/2 /1 /' 'bad11.dat:11: no grid uses the 2 ranks of the run (the largest is 1 x 1)'
bad 13 '13s/16.0/sixteen/' "bad13.dat:13: threshold: 'sixteen' is not a number"
# 20 values on each list line: 20^9 combinations, refused before any allocation
expect_error 1 'seed-toomany.dat: the lists ask for 512000000000 combinations; at most 100000' \
    --dat "$top_srcdir/tests/hpl/fuzz/corpus/seed-toomany.dat"
printf 'HPL\0dat\n' > nul.dat
expect_error 1 'nul.dat: contains NUL bytes' --dat nul.dat
: > empty.dat
expect_error 1 'empty.dat:1: file ends after 0 lines' --dat empty.dat
# options
expect_error 2 'grid: -P x -Q must use the 2 ranks' -N 100 -P 2 -Q 2
expect_error 2 'does not fit.*the largest N that fits is [0-9]' -N 100000000
expect_error 1 '\-N' -N 12abc
# too many combinations: said once, by rank 0, not once per rank
expect_error 2 'combinations' --dat "$top_srcdir/tests/hpl/fuzz/corpus/seed-toomany.dat"
[ "$(grep -c 'combinations' err.out)" -eq 1 ] || { cat err.out; fail "too many combinations reported $(grep -c combinations err.out) times"; }
# a FIFO (or any non-regular file) is refused at once, not waited on
mkfifo fifo.dat || exit 99
if command -v timeout > /dev/null 2>&1; then
    timeout -k 5 60 "$LAUNCH" 2 "$HPL" --dgemm-seconds 0 --no-output --dat fifo.dat > err.out 2>&1
    rc=$?
    [ $rc -eq 77 ] && exit 77
    [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "a FIFO as HPL.dat: hpl hung"
    [ $rc -ne 0 ] || fail "a FIFO as HPL.dat: exit 0"
    grep -q 'fifo.dat: not a regular file (a FIFO)' err.out || { cat err.out; fail "a FIFO as HPL.dat: no clear error"; }
fi
mkdir dir.dat
expect_error 1 'dir.dat: not a regular file (a directory)' --dat dir.dat
# options are base 10, as HPL.dat's fields: -N 010 is ten, 0x10 is not a number
expect_error 1 "\-\-nb: '0x10' is not an integer" -N 100 --nb 0x10
expect_error 1 "\-N: '0x20' is not an integer" -N 0x20
run 1 --no-output --format json -N 010 --nb 004 -P 01 -Q 1 > b10.out 2>&1 || { cat b10.out; fail "-N 010 --nb 004"; }
grep -q '"n": 10, "nb": 4,' b10.out || { cat b10.out; fail "-N 010 --nb 004 did not run N = 10, NB = 4"; }
# a threshold <= 0 skips the check (as netlib): no residual line, counted apart
for th in 0 -1; do
    sed "13s/16.0/$th/" good.dat > th.dat
    run 2 --no-output --dat th.dat > th.out 2>&1 || { cat th.out; fail "threshold $th: exit non-zero"; }
    ! grep -q '^||Ax-b||' th.out || { cat th.out; fail "threshold $th: the check ran"; }
    grep -q 'Residual check skipped (threshold' th.out || { cat th.out; fail "threshold $th: no skipped line"; }
    grep -q '0 tests completed and passed residual checks' th.out || { cat th.out; fail "threshold $th: counted as passed"; }
    grep -q '1 tests completed without residual checks' th.out || { cat th.out; fail "threshold $th: not counted as unchecked"; }
done
exit 0
