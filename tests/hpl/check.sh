#!/bin/sh
# The residual check can fail: a perturbed solution is FAILED, the run exits
# non-zero and the HDF5 row says so; the same run unperturbed passes.
. "$top_srcdir/tests/hpl/lib.sh"
run 2 -N 300 --nb 32 -o ok.h5 > ok.out 2>&1 || { cat ok.out; fail "clean run exited non-zero"; }
expect_passed ok.out 1
if run 2 -N 300 --nb 32 --inject-error -o bad.h5 > bad.out 2>&1; then
    cat bad.out; fail "a corrupted solution exited 0"
fi
grep -q '^||Ax-b||_oo/(eps.*FAILED$' bad.out || { cat bad.out; fail "no FAILED residual line"; }
grep -q 'tests FAILED the residual check' bad.out || fail "no error line for the failure"
"$PY" -c '
import h5py
with h5py.File("bad.h5", "r") as f:
    r = f["/hpl/runs"][0]
    assert r["check"].decode() == "FAILED" and r["resid"] > 16.0, r
    s = f.attrs["status"]
    s = s.decode() if isinstance(s, bytes) else str(s)
    assert s == "failed", s
' || fail "HDF5 row does not record the failure"
exit 0
