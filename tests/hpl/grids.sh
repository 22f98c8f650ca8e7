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
exit 0
