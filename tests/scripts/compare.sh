#!/bin/sh
# scripts/compare on results files of known content (written here
# with h5py in the clusterbench/1 layout): the ratios against results/published.csv are
# right, an unknown published figure stays unknown and gets no ratio, a range gives a
# range; a file that is not a results file is refused with one line.
. "$(dirname "$0")/lib.sh"
need_python_h5py
S=$top_srcdir/scripts

"$PYTHON3" - "$tmp" <<'PY' || fail "writing the test files"
import sys, h5py, numpy as np
d = sys.argv[1]
def run(path, program, n_ranks, hosts):
    f = h5py.File(path, "w")
    for k, v in dict(schema="clusterbench/1", program=program, status="complete", mpi_pml="ucx",
                     ucx_transports="tcp").items():
        f.attrs[k] = v
    f.attrs["n_ranks"] = n_ranks
    r = np.zeros(n_ranks, dtype=[("rank", "<i4"), ("host", "S64")])
    r["rank"] = range(n_ranks); r["host"] = [hosts[i % len(hosts)].encode() for i in range(n_ranks)]
    f["ranks"] = r
    return f
f = run(f"{d}/hpl.h5", "hpl", 4, ["a", "b", "c", "d"])
t = np.zeros(2, dtype=[("N", "<i8"), ("time_s", "<f8"), ("gflops", "<f8")])
t["N"] = [1000, 2000]; t["gflops"] = [639.3, 1278.6]
f["hpl/runs"] = t; f.close()
f = run(f"{d}/mb.h5", "microbench", 4, ["a", "b", "c", "d"])
sizes = np.array([8, 1024, 4096, 32768, 65536])
t = np.zeros(5, dtype=[("size_B", "<i8"), ("lat_avg_us", "<f8"), ("lat_min_us", "<f8")])
t["size_B"] = sizes; t["lat_avg_us"] = [10, 100, 150, 200, 900]
f["microbench/allreduce"] = t
t = np.zeros(2, dtype=[("size_B", "<i8"), ("tcp_bw_MBps", "<f8"), ("shm_bw_MBps", "<f8"), ("ratio_shm_over_tcp", "<f8")])
t["size_B"] = [8, 4096]; t["tcp_bw_MBps"] = [1, 1000]; t["shm_bw_MBps"] = [2, 12200]; t["ratio_shm_over_tcp"] = [2, 12.2]
f["microbench/ucx_put_bw"] = t
f.close()
PY

# By default like with like only: HPL on 4 hosts beside 4-node rows, no row without a ratio.
"$S/compare" "$tmp/hpl.h5" "$tmp/mb.h5" > "$tmp/out" 2> "$tmp/err" || { cat "$tmp/out" "$tmp/err" >&2; fail "compare exited non-zero"; }
cat "$tmp/out"
grep -q "M3 Ultra x1;" "$tmp/out" && fail "compare: a 1-node row beside a 4-host run by default"
grep -q " n/a " "$tmp/out" && fail "compare: a row of another measurement by default"
grep -q "1279 Gflops *3731.1 Gflops *0.343  M3 Ultra x4, 2.5 GbE TCP;" "$tmp/out" || fail "compare: no like-with-like HPL row"
grep -q "left out (--all lists them)" "$tmp/out" || fail "compare: does not say what it left out"
# --all: every published row.
"$S/compare" --all "$tmp/hpl.h5" "$tmp/mb.h5" > "$tmp/out" 2> "$tmp/err" || { cat "$tmp/out" "$tmp/err" >&2; fail "compare --all exited non-zero"; }
# expect LINE-PATTERN: the comparison has a line matching it.
expect() { grep -q -- "$1" "$tmp/out" || fail "compare output lacks: $1"; }
# HPL 1278.6 Gflops is exactly one M3 Ultra, and 1278.6/3731.1 of four.
expect "hpl runs gflops (4 ranks, 4 hosts) *1279 Gflops *1278.6 Gflops *1  M3 Ultra x1;"
expect "1279 Gflops *3731.1 Gflops *0.343  M3 Ultra x4, 2.5 GbE TCP;"
# The crashed run has no figure: unknown, no ratio.
expect "unknown Gflops *-  M3 Ultra x4, Thunderbolt 5 TCP; crashed"
# Mean of 100, 150, 200 us (1, 4 and 32 KB) = 150 us: 300/150 = 2 against the ring;
# "under 50 us" is a bound, so no ratio.
expect "allreduce 1-32KB mean (4 ranks) *150 us *300 us *2  M3 Ultra x4, MLX ring"
expect "150 us *< 50 us *-  M3 Ultra x4, JACCL"
# The tcp and shm transports side by side; a range stays a range, not the same test.
expect "ucx_put_bw\[shm\] max *12.2 GB/s *6.1-6.5 GB/s *n/a"
expect "ucx_put_bw\[tcp\] max *1 GB/s"

# scripts/summary and scripts/plot on these files: tests/scripts/summary-plot.sh.

# Bad input: one line, non-zero.
printf 'not hdf5\n' > "$tmp/bad.h5"
if "$S/compare" "$tmp/bad.h5" > /dev/null 2> "$tmp/err"; then fail "compare accepted a non-HDF5 file"; fi
grep -q "^compare: .*bad.h5: not a readable results file" "$tmp/err" || { cat "$tmp/err" >&2; fail "compare: no clear message"; }
if "$S/compare" --published "$tmp/none.csv" "$tmp/hpl.h5" > /dev/null 2> "$tmp/err"; then fail "compare without its CSV succeeded"; fi
grep -q "^compare: .*none.csv" "$tmp/err" || { cat "$tmp/err" >&2; fail "compare: no clear message for a missing CSV"; }
if "$S/summary" "$tmp/bad.h5" > /dev/null 2> "$tmp/err"; then fail "summary accepted a non-HDF5 file"; fi
exit 0
