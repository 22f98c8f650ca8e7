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
# the own DGEMM (every path this CPU has, U transposed with P = 2 and in
# place with P = 1) passes, and the run records it
for isa in c avx2 avx512; do
    HPL_DGEMM_ISA=$isa run 2 -N 300 --nb 32 -P 2 -Q 1 --dgemm own -o own-$isa.h5 > own-$isa.out 2>&1 ||
        { cat own-$isa.out; fail "--dgemm own ($isa) exited non-zero"; }
    expect_passed own-$isa.out 1
done
run 2 -N 333 --nb 40 -P 1 -Q 2 --dgemm own -o own.h5 > own.out 2>&1 || { cat own.out; fail "--dgemm own exited non-zero"; }
expect_passed own.out 1
grep -q '^DGEMM  : own ' own.out || { cat own.out; fail "no DGEMM line naming the own kernel"; }
"$PY" -c '
import h5py
with h5py.File("own.h5", "r") as f:
    k = f.attrs["dgemm_kernel"]
    k = k.decode() if isinstance(k, bytes) else str(k)
    r = f["/hpl/runs"][0]
    assert k != "blas" and r["dgemm"].decode() == k, (k, r["dgemm"])
    assert f.attrs["dgemm_own_gflops_total"] > 0 and f.attrs["dgemm_blas_gflops_total"] > 0
' || fail "HDF5 does not record the own DGEMM"
exit 0
