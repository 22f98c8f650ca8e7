#!/bin/sh
# Every MPI pair test and memcpy on 2 ranks with --validate, over Open MPI's
# default PML, read back from the HDF5 file.
. "$top_srcdir/tests/microbench/lib.sh"
mb_ok p2p 2 -m 0:64K --iters 6 --warmup 1 --window 4 --validate -o "$tmp/p2p.h5" \
    latency bw bibw mbw_mr put_lat get_lat put_bw get_bw acc_lat memcpy
# 0 B and 1 B .. 64 KiB = 18 sizes; the tests that need bytes start at 1 B
check_h5 "$tmp/p2p.h5" --ranks 2 latency=18 bw=17 bibw=17 mbw_mr=17 put_lat=17 get_lat=17 \
    put_bw=17 get_bw=17 fop_lat=1 memcpy=17
# latency_mt (osu_latency_mt): the peer's 3 threads echo in turn, every echo
# checked; the run asked MPI for MPI_THREAD_MULTIPLE, the one above did not
mb_ok mt 2 -m 0:4K --iters 20 --warmup 2 --threads 3 --validate -o "$tmp/mt.h5" latency_mt
check_h5 "$tmp/mt.h5" --ranks 2 latency_mt=14
"$PYTHON3" - "$tmp/p2p.h5" "$tmp/mt.h5" <<'PY' || fail "latency_mt attributes"
import sys, h5py
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
lv = lambda f: f.attrs["mpi_thread_level"].decode() if isinstance(f.attrs["mpi_thread_level"], bytes) else f.attrs["mpi_thread_level"]
assert lv(a) == "MPI_THREAD_SINGLE", lv(a)
assert lv(b) == "MPI_THREAD_MULTIPLE", lv(b)
d = b["/microbench/latency_mt"]
assert float(d.attrs["receiving_threads"]) == 3
assert (d["iters"][:] == 20).all() and (d["lat_min_us"][:] > 0).all()
PY
# a byte flipped in an echo is caught by the initiator's check
if mb_run mtbad 2 -m 64:64 --iters 5 --warmup 1 --validate --inject-corruption --no-output latency_mt; then
    fail "latency_mt --inject-corruption passed"
fi
grep -q "validation failed: latency_mt: echoed message" "$tmp/mtbad.err" "$tmp/mtbad.out" || fail "latency_mt: no validation message"
# --shared-recv (one receive buffer per window, as OSU): checked after each window
mb_ok shared 2 -m 1K:4K --iters 3 --warmup 1 --window 4 --validate --shared-recv --no-output \
    bw bibw mbw_mr ucx_tag_bw
# memcpy: a block for one core and one for all ranks, and their ratio
"$PYTHON3" - "$tmp/p2p.h5" <<'PY' || fail "memcpy columns"
import sys, h5py
d = h5py.File(sys.argv[1])["/microbench/memcpy"]
for f in ("one_core_bw_MBps", "all_2_bw_MBps", "ratio_all_2_over_one_core"):
    assert f in d.dtype.names, f
PY
echo PASS
