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
bad 25 '25s/1 /3 /' 'bad25.dat:25: DEPTHs (0 or 1): 3 is out of range'
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
exit 0
