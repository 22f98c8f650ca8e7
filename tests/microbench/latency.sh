#!/bin/sh
# microbench latency on 2 ranks, 0 B to 4 MiB, with --validate; the HDF5
# file is read back (root attributes, status, one row per size, units).
set -u
mb=$top_builddir/microbench/microbench
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$top_srcdir/tests/launch" 2 "$mb" -m 0:4M --iters 20 --warmup 2 --validate \
    -o "$tmp/lat.h5" latency > "$tmp/out" 2> "$tmp/err"
rc=$?
cat "$tmp/out" "$tmp/err"
[ $rc = 77 ] && exit 77
[ $rc = 0 ] || { echo "FAIL: microbench latency exited $rc"; exit 1; }
# 0 B and 1 B .. 4 MiB: 24 rows, on stdout as on file
rows=$(grep -c '^ *[0-9]' "$tmp/out")
[ "$rows" = 24 ] || { echo "FAIL: $rows rows on stdout, expected 24"; exit 1; }
grep -q '^# *Size *Avg Latency(us)' "$tmp/out" || { echo "FAIL: no OSU-style header"; exit 1; }
"$PYTHON3" "$top_srcdir/tests/microbench/check_h5.py" "$tmp/lat.h5" --ranks 2 latency=24 || exit 1
# --timer wtime (OSU's clock) is the one used and recorded
"$top_srcdir/tests/launch" 2 "$mb" -m 8:8 --iters 200 --timer wtime -o "$tmp/wt.h5" latency > "$tmp/out" 2> "$tmp/err" ||
    { cat "$tmp/err"; echo "FAIL: microbench --timer wtime exited $?"; exit 1; }
grep -q '^# timer: MPI_Wtime' "$tmp/out" || { cat "$tmp/out"; echo "FAIL: --timer wtime: no 'timer: MPI_Wtime' line"; exit 1; }
exec "$PYTHON3" - "$tmp/wt.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
t = f.attrs["timer"]
t = t.decode() if isinstance(t, bytes) else t
assert t.startswith("MPI_Wtime"), "timer attribute: %r" % t
print("timer attribute:", t)
PY
