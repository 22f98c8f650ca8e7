#!/bin/sh
# scripts/summary, scripts/plot and scripts/export on results files of known content
# (written here with h5py in the clusterbench/1 layout): the summary's headline figures
# (HPL's fraction of DGEMM and its phases, bandwidth at 8 B, 16 KiB, 1 MiB and on the
# large-message plateau rather than a cache-resident peak, llm's pp and tg apart with
# their communication share, warnings, commands), plots named per run that never
# replace an earlier one, and export's CSV at full precision.
. "$(dirname "$0")/lib.sh"
need_python_h5py
S=$top_srcdir/scripts

"$PYTHON3" - "$tmp" <<'PY' || fail "writing the test files"
import sys, h5py, numpy as np
d = sys.argv[1]
def run(path, program, status="complete", started="2026-11-22T03:00:00Z"):
    f = h5py.File(path, "w")
    for k, v in dict(schema="clusterbench/1", program=program, status=status, mpi_pml="ucx",
                     ucx_transports="tag(posix/memory cma/memory)", started_utc=started,
                     command_line=f"{program} -x").items():
        f.attrs[k] = v
    f.attrs["n_ranks"] = 2
    r = np.zeros(2, dtype=[("rank", "<i4"), ("host", "S64")])
    r["rank"] = [0, 1]; r["host"] = [b"a", b"b"]
    f["ranks"] = r
    h = np.zeros(2, dtype=[("host", "S64"), ("cpu_model", "S128"), ("n_cores", "<i4"), ("n_pus", "<i4"),
                           ("mem_total_B", "<i8")])
    h["host"] = [b"a", b"b"]; h["cpu_model"] = b"Test CPU"; h["n_cores"] = 8; h["n_pus"] = 16
    h["mem_total_B"] = 64 << 30
    f["hosts"] = h
    e = f.create_group("env"); e.attrs["OMPI_MCA_pml"] = "ucx"; e.attrs["OMPI_COMMAND"] = program
    e.attrs["OMPI_ARGV"] = "-N 1000"; e.attrs["OMPI_MCA_orte_hnp_uri"] = "not-a-user-setting"
    return f
f = run(f"{d}/hpl.h5", "hpl")
t = np.zeros(1, dtype=[(n, "<i8") for n in ("n", "nb", "p", "q")] +
             [(n, "<f8") for n in ("time_s", "gflops", "resid", "pfact_s", "bcast_s", "swap_s", "update_s",
                                   "solve_s", "dgemm_gflops", "dgemm_fraction")] + [("check", "S8"), ("blas_coretype", "S16")])
t[0] = (20000, 192, 1, 2, 10.0, 1275.0, 0.004, 1.0, 1.0, 0.5, 7.0, 0.1, 1500.0, 0.85, b"PASSED", b"Haswell")
f["hpl/runs"] = t; f.close()

f = run(f"{d}/mb.h5", "microbench")
sizes = np.array([8, 16384, 1 << 20, 2 << 20, 4 << 20])
t = np.zeros(5, dtype=[("size_B", "<i8"), ("tcp_bw_MBps", "<f8"), ("shm_bw_MBps", "<f8")])
t["size_B"] = sizes; t["tcp_bw_MBps"] = [1, 500, 1000, 1100, 1150]
t["shm_bw_MBps"] = [2, 60000, 12000, 12200, 12400]       # a cache-resident peak at 16 KiB
f["microbench/ucx_put_bw"] = t
t = np.zeros(5, dtype=[("size_B", "<i8"), ("lat_avg_us", "<f8")])
t["size_B"] = sizes; t["lat_avg_us"] = [0.075, 2.5, 80, 160, 320]
f["microbench/latency"] = t
t = np.zeros(5, dtype=[("size_B", "<i8"), ("lat_avg_us", "<f8")])
t["size_B"] = sizes; t["lat_avg_us"] = [1.5, 9, 130, 260, 520]
f["microbench/allreduce"] = t
f.close()
f = run(f"{d}/mb2.h5", "microbench", status="interrupted", started="2026-11-22T04:00:00Z")
t = np.zeros(2, dtype=[("size_B", "<i8"), ("lat_avg_us", "<f8")])
t["size_B"] = [8, 16]; t["lat_avg_us"] = [0.2, 0.3]
f["microbench/latency"] = t
f.close()

f = run(f"{d}/llm.h5", "llm")
t = np.zeros(2, dtype=[("model_filename", "S64"), ("model_type", "S32"), ("model_size", "<i8"), ("n_ranks", "<i4"),
                       ("n_threads", "<i4"), ("allreduce", "S8"), ("kernels", "S8"), ("test", "S16"),
                       ("n_prompt", "<i4"), ("n_gen", "<i4"), ("avg_ts", "<f8"), ("stddev_ts", "<f8"),
                       ("comm_frac", "<f8"), ("roofline_ts", "<f8"), ("roofline_frac", "<f8")])
t[0] = (b"m.gguf", b"qwen3", 800 << 20, 2, 1, b"mpi", b"avx512", b"pp512", 512, 0, 196.0, 2.0, 0.12, 215.0, 0.91)
t[1] = (b"m.gguf", b"qwen3", 800 << 20, 2, 1, b"mpi", b"avx512", b"tg128", 0, 128, 44.9, 0.3, 0.31, 48.8, 0.92)
f["llm/bench"] = t; f.close()
PY

printf 'hpl: warning: DGEMM reaches 5 Gflops per thread: check the BLAS (core type Haswell)\nnoise\n' > "$tmp/hpl.log"
printf 'hpl\tOMPI_MCA_pml=ucx mpirun -np 2 hpl -N 20000\n' > "$tmp/commands.txt"
"$S/summary" --commands "$tmp/commands.txt" --log "$tmp/hpl.log" "$tmp/hpl.h5" "$tmp/mb.h5" "$tmp/mb2.h5" "$tmp/llm.h5" \
    > "$tmp/sum" 2> "$tmp/err" || { cat "$tmp/sum" "$tmp/err" >&2; fail "summary exited non-zero"; }
cat "$tmp/sum"
expect() { grep -q -- "$1" "$tmp/sum" || fail "summary lacks: $1"; }
expect "^# hpl: complete, 2 ranks on 2 host(s) (a b); pml ucx, ucx tag(posix/memory cma/memory)"
expect "hosts: a b: Test CPU, 8 cores/16 threads, 64 GiB$"
expect "N=20000 NB=192 P x Q = 1 x 2: 1275 Gflops = 0.85 of DGEMM (1500 Gflops on these ranks, BLAS core Haswell)"
expect "time 10 s; per phase, the slowest rank's: update 7 s (70%), pfact 1 s (10%), bcast 1 s (10%), swap 0.5 s (5%), solve 0.1 s (1%), other 0.4 s (4%)"
# The plateau is the median of the three largest sizes (12.2 GB/s), not the 60 GB/s
# cache-resident peak, which is named as such.
expect "UCX put_bw shm *0.002 *60 *12 *12.2 (1 MiB-4 MiB)"
expect "UCX put_bw tcp *0.001 *0.5 *1 *1.1 (1 MiB-4 MiB)"
expect "note: UCX put_bw shm peaks at 60 GB/s at 16 KiB (cache-resident, not the link)"
# Full precision where it matters: 75 ns stays 0.075.
expect "MPI latency *0.075 *2.5 *80"
expect "allreduce (us, slowest rank): 8 B 1.5  16 KiB 9  1 MiB 130  4 MiB 520"
expect "^# microbench: INTERRUPTED, 2 ranks"
expect "INTERRUPTED: 2 finished rows kept"
expect "pp512 *196 t/s +- 2 *(prompt processing); 0.91 of the sgemm roofline; communicating 12% of the time"
expect "tg128 *44.9 t/s +- 0.3 *(text generation); 0.92 of the memory read roofline; communicating 31% of the time"
expect "^# warnings: 1"
expect "hpl: warning: DGEMM reaches 5 Gflops per thread"
expect "^#   hpl: OMPI_MCA_pml=ucx mpirun -np 2 hpl -N 20000"
# Without run-suite's list, the command is rebuilt from the file: the user's MCA
# settings, not the ones mpirun sets for its ranks.
expect "^#   llm: OMPI_MCA_pml=ucx mpirun -np 2 llm -N 1000"
grep "llm: OMPI_MCA_pml" "$tmp/sum" | grep -q hnp_uri && fail "summary: a rebuilt command carries mpirun's own settings"
[ "$(wc -l < "$tmp/sum")" -le 45 ] || fail "summary: more than one screen ($(wc -l < "$tmp/sum") lines)"

# export: every row of every table, at full precision, and the attributes.
"$S/export" "$tmp/mb.h5" > "$tmp/mb.csv" || fail "export exited non-zero"
grep -q "^$tmp/mb.h5,microbench,latency,8,0.075$" "$tmp/mb.csv" || { cat "$tmp/mb.csv" >&2; fail "export: the 75 ns latency"; }
[ "$(grep -c ",microbench," "$tmp/mb.csv")" = 15 ] || { cat "$tmp/mb.csv" >&2; fail "export: not 15 rows"; }
"$S/export" --table ucx_put_bw "$tmp/mb.h5" | grep -q "^file,program,table,size_B,tcp_bw_MBps,shm_bw_MBps$" ||
    fail "export --table: header"
"$S/export" --attrs "$tmp/hpl.h5" | grep -q ",hosts/b/n_cores,8$" || fail "export --attrs: /hosts"
if "$S/export" --table nosuch "$tmp/mb.h5" > /dev/null 2> "$tmp/err"; then fail "export --table nosuch succeeded"; fi
grep -q "^export: no table 'nosuch'" "$tmp/err" || { cat "$tmp/err" >&2; fail "export: no clear message"; }

# Figures: per run, never replacing an earlier file.
if command -v gnuplot >/dev/null 2>&1; then
    "$S/plot" -o "$tmp/plots" "$tmp/hpl.h5" "$tmp/mb.h5" "$tmp/mb2.h5" "$tmp/llm.h5" > "$tmp/plot.out" 2>&1 ||
        { cat "$tmp/plot.out" >&2; fail "plot"; }
    for f in hpl-hpl microbench-ucx_put_bw-mb microbench-latency-mb-and-1-more microbench-allreduce-mb llm-pp-llm llm-tg-llm; do
        head -c 4 "$tmp/plots/$f.png" 2>/dev/null | grep -q PNG || { cat "$tmp/plot.out" >&2; ls "$tmp/plots" >&2; fail "plot made no $f.png"; }
    done
    "$S/plot" -o "$tmp/plots" "$tmp/hpl.h5" > /dev/null 2>&1 || fail "plot, a second time"
    [ -f "$tmp/plots/hpl-hpl-2.png" ] || { ls "$tmp/plots" >&2; fail "plot: the second figure of the same run did not get its own name"; }
    # The text rendering shows the legend: transports, runs, the interrupted mark.
    "$S/plot" --format dumb "$tmp/mb.h5" "$tmp/mb2.h5" > "$tmp/dumb" 2>&1 || fail "plot --format dumb"
    grep -q "UCX shm; run 2026-11-22 03:00:00, 2 ranks on 2 hosts" "$tmp/dumb" || { cat "$tmp/dumb" >&2; fail "plot: legend"; }
    grep -q "\[INTERRUPTED\]" "$tmp/dumb" || { cat "$tmp/dumb" >&2; fail "plot: interrupted run not marked"; }
    grep -q "1 MiB" "$tmp/dumb" || { cat "$tmp/dumb" >&2; fail "plot: sizes not in B/KiB/MiB"; }
else
    note "gnuplot not installed: scripts/plot not exercised"
fi
exit 0
