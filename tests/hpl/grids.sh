#!/bin/sh
# The residual passes on grids 1x1, 1x2, 2x1 and 2x2 for odd N, N not a
# multiple of NB and NB larger than N; the same seed gives the same solution
# on every grid.
. "$top_srcdir/tests/hpl/lib.sh"
NS="1 97 203 64"; NBS="16 200"; PFACTS=2; NBMINS=4; NDIVS=2; RFACTS=1; BCASTS=1; DEPTHS=1
for g in "1 1 1" "2 1 2" "2 2 1" "4 2 2"; do
    set -- $g
    PS=$2; QS=$3; make_dat HPL.dat
    run "$1" -o "g$2x$3.h5" > "g$2x$3.out" 2>&1 || { cat "g$2x$3.out"; fail "grid $2 x $3 exited non-zero"; }
    expect_passed "g$2x$3.out" 8
done
"$PY" - <<'EOF' || fail "solutions differ between grids"
import h5py, sys
ref = {}
for g in ("1x1", "1x2", "2x1", "2x2"):
    with h5py.File(f"g{g}.h5", "r") as f:
        for r in f["/hpl/runs"][:]:
            key = (int(r["n"]), int(r["nb"]))
            assert r["check"].decode() == "PASSED", (g, key)
            xs, xn = float(r["x_sum"]), float(r["x_norm"])
            if key in ref:
                xs0, xn0 = ref[key]
                tol = 1e-9 * xn0 * key[0]
                if abs(xs - xs0) > tol or abs(xn - xn0) > 1e-9 * xn0:
                    sys.exit(f"grid {g}, N={key[0]} NB={key[1]}: sum(x) {xs!r} vs {xs0!r}")
            else:
                ref[key] = (xs, xn)
assert len(ref) == 8
EOF
# the top500-benchmark playbook's HPL.dat, with hpcc's PTRANS lines after it,
# read from the working directory as netlib does
sed -e '6s/^[0-9]* /500 /' -e '8s/^[0-9]* /64 /' -e '12s/^[0-9]* /2 /' "$top_srcdir/hpl/HPL.dat" > HPL.dat
cat >> HPL.dat <<'EOF'
##### This line (no. 32) is ignored (it serves as a separator). ######
0                               Number of additional problem sizes for PTRANS
1200 10000 30000                values of N
0                               number of additional blocking sizes for PTRANS
40 9 8 13 13 20 16 32 64        values of NB
EOF
run 2 --no-output > playbook.out 2>&1 || { cat playbook.out; fail "playbook HPL.dat exited non-zero"; }
grep -q '^WR11C2R4 *500 *64 *1 *2 ' playbook.out || { cat playbook.out; fail "no WR11C2R4 result line"; }
expect_passed playbook.out 1
exit 0
