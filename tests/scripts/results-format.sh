#!/bin/sh
# What a results file and the printed tables say, read back: CSV and JSON carry every
# figure of the HDF5 file exactly (no rounding: a 75 ns latency stays 0.075...); the
# provenance is true (the UCX lanes the PML really used, not the request; one /hosts row
# with cores, memory, OS and kernel; the BLAS library file); a file still being written
# reads with h5dump and scripts/export; every field follows results/README.md's unit rule.
. "$(dirname "$0")/lib.sh"
need_mpirun
need_python_h5py
S=$top_srcdir/scripts
L=$top_srcdir/tests/launch
mb=$(program microbench)

# ---------------------------------------------------------------- CSV and JSON, exactly
for fmt in csv json; do
    "$L" 2 --ucx "$mb" -o "$tmp/mb-$fmt.h5" --format $fmt -m 8:256 --iters 30 latency > "$tmp/mb.$fmt" 2> "$tmp/err" ||
        { cat "$tmp/err" >&2; fail "microbench --format $fmt"; }
    "$PYTHON3" - "$tmp/mb-$fmt.h5" "$tmp/mb.$fmt" $fmt <<'PY' || fail "--format $fmt does not carry the HDF5 figures exactly"
import csv, json, sys, h5py
path, out, fmt = sys.argv[1:]
rows = h5py.File(path, "r")["/microbench/latency"][()]
if fmt == "csv":
    lines = [l for l in open(out) if not l.startswith("#")]
    printed = list(csv.DictReader(lines))
else:
    printed = [json.loads(l) for l in open(out) if l.startswith("{")]
assert len(printed) == len(rows), f"{len(printed)} printed rows, {len(rows)} in the file"
n = 0
for p, r in zip(printed, rows):
    for f in rows.dtype.names:
        if rows.dtype[f].kind == "f":
            assert float(p[f]) == float(r[f]), f"{f}: printed {p[f]}, file {r[f]!r}"
            n += 1
print(f"{fmt}: {n} figures equal to the file's")
PY
done

# ---------------------------------------------------------------- provenance
hpl=$(program hpl)
"$L" 2 --ucx "$hpl" -o "$tmp/hpl-ucx.h5" -N 256 --nb 32 -P 1 -Q 2 > "$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "hpl over UCX"; }
"$L" 2 "$hpl" -o "$tmp/hpl-default.h5" -N 256 --nb 32 -P 1 -Q 2 > "$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "hpl"; }
"$PYTHON3" - "$tmp/hpl-ucx.h5" "$tmp/hpl-default.h5" <<'PY' || fail "provenance"
import os, sys, h5py
f = h5py.File(sys.argv[1], "r")
a = f.attrs
t = a["ucx_transports"]
assert a["mpi_pml"] == "ucx", a["mpi_pml"]
# UCX's own report: an operation and its transports, e.g. tag(self/memory0 cma/memory)
assert "tag(" in t and "requested" not in t and t != "any", f"ucx_transports is {t!r}"
assert os.path.isfile(a["blas_library"]), f"blas_library {a['blas_library']!r} is not a file"
assert a["os"] and a["os"] != "unknown", a["os"]
assert a["kernel"].split()[0] == os.uname().sysname, a["kernel"]
h = f["hosts"][()]
assert len(h) == 1, f"{len(h)} rows in /hosts for one host"
assert h["n_cores"][0] >= 1 and h["n_pus"][0] >= h["n_cores"][0], (h["n_cores"], h["n_pus"])
assert h["mem_total_B"][0] > 1 << 26, h["mem_total_B"]
assert h["host"][0].decode() == f["ranks"]["host"][0].decode()
print("ucx:", t, "| hosts:", h["cpu_model"][0].decode(), h["n_cores"][0], "cores |", a["blas_library"])
d = h5py.File(sys.argv[2], "r").attrs
if d["mpi_pml"] != "ucx":
    assert d["ucx_transports"].startswith("none (pml "), d["ucx_transports"]
PY

# ---------------------------------------------------------------- a file being written
sw=$top_builddir/tests/common/slow_writer
"$L" 2 "$sw" -o "$tmp/running.h5" --rows 600 > /dev/null 2>&1 &
pid=$!
at_exit "kill $pid 2>/dev/null"
i=0
until [ -s "$tmp/running.h5" ] && "$S/export" "$tmp/running.h5" 2>/dev/null | grep -q ",test/rows,3,"; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "no row of the running file could be read in 30 s"
    kill -0 $pid 2>/dev/null || fail "slow_writer ended early"
    sleep 0.1
done
h5dump -a /status "$tmp/running.h5" > "$tmp/dump" 2>&1 || { cat "$tmp/dump" >&2; fail "h5dump cannot read a running job's file"; }
grep -q '"running"' "$tmp/dump" || { cat "$tmp/dump" >&2; fail "h5dump: the running file's status"; }
kill -TERM $pid; wait $pid 2>/dev/null
note "h5dump and export read the file while it was written"

# ---------------------------------------------------------------- units
"$PYTHON3" "$top_srcdir/tests/scripts/units.py" "$top_srcdir/results/README.md" "$tmp"/mb-csv.h5 "$tmp"/hpl-ucx.h5 ||
    fail "a field breaks the unit rule of results/README.md"
exit 0
