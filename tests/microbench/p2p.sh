#!/bin/sh
# Every MPI pair test and memcpy on 2 ranks with --validate, over Open MPI's
# default PML, read back from the HDF5 file.
. "$top_srcdir/tests/microbench/lib.sh"
mb_ok p2p 2 -m 0:64K --iters 6 --warmup 1 --window 4 --validate -o "$tmp/p2p.h5" \
    latency bw bibw mbw_mr put_lat get_lat put_bw get_bw acc_lat memcpy
# 0 B and 1 B .. 64 KiB = 18 sizes; the tests that need bytes start at 1 B
check_h5 "$tmp/p2p.h5" --ranks 2 latency=18 bw=17 bibw=17 mbw_mr=17 put_lat=17 get_lat=17 \
    put_bw=17 get_bw=17 fop_lat=1 memcpy=17
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
