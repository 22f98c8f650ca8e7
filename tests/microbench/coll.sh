#!/bin/sh
# The collectives at 2, 3 and 4 ranks with --validate (every result byte
# checked), over the default PML; 4 ranks also run mbw_mr and multi_lat over
# 2 pairs at once.
. "$top_srcdir/tests/microbench/lib.sh"
for np in 2 3 4; do
    mb_ok coll$np $np -m 0:16K --iters 4 --warmup 1 --validate -o "$tmp/coll$np.h5" \
        allreduce bcast allgather alltoall reduce_scatter barrier
    # 4 B .. 16 KiB for the float reductions (13 sizes), 1 B .. 16 KiB (15) otherwise
    check_h5 "$tmp/coll$np.h5" --ranks $np allreduce=13 bcast=15 allgather=15 alltoall=15 \
        reduce_scatter=13 barrier=1
done
# and over Open MPI's UCX PML (tcp) at 3 ranks
UCX_TLS=tcp mb_ok coll3-ucx 3 --ucx -m 0:4K --iters 4 --warmup 1 --validate -o "$tmp/coll3u.h5" \
    allreduce bcast allgather alltoall reduce_scatter barrier
check_h5 "$tmp/coll3u.h5" --ranks 3 allreduce=11 bcast=13 allgather=13 alltoall=13 reduce_scatter=11 barrier=1
# iallreduce: a pure block, then an overlap block that computes for each
# rank's pure time, so that no overlapped call can be shorter than that
mb_ok nbc3 3 -m 4:4K --iters 20 --warmup 2 --validate -o "$tmp/nbc3.h5" iallreduce
check_h5 "$tmp/nbc3.h5" --ranks 3 iallreduce=11
"$PYTHON3" - "$tmp/nbc3.h5" <<'PY' || fail "iallreduce columns"
import sys, h5py
d = h5py.File(sys.argv[1])["/microbench/iallreduce"][...]
for r in d:
    assert r["pure_rank_mean_us"] > 0, r
    assert r["overlap_rank_mean_us"] >= 0.98 * r["pure_rank_mean_us"], r
    assert 0 <= r["overlap_pct"] <= 100, r
PY
# init: each rank's MPI_Init time, one sample; the slowest rank's is the
# largest, and starting MPI takes more than 100 us
mb_ok init3 3 -o "$tmp/init3.h5" init
check_h5 "$tmp/init3.h5" --ranks 3 init=1
"$PYTHON3" - "$tmp/init3.h5" <<'PY' || fail "init columns"
import sys, h5py
r = h5py.File(sys.argv[1])["/microbench/init"][0]
assert r["iters"] == 1 and r["size_B"] == 0, r
assert 100 < r["rank_mean_us"] <= r["slowest_rank_us"] * (1 + 1e-9), r
assert r["lat_max_us"] == r["slowest_rank_us"], r
PY
# Pairs cross the middle: 0 <-> 2 and 1 <-> 3, both recorded.
mb_ok pairs4 4 -m 1:1K --iters 4 --warmup 1 --window 4 --validate -o "$tmp/pairs4.h5" mbw_mr multi_lat latency
grep -q '^# pairs: 0 (.*) <-> 2 (.*), 1 (.*) <-> 3 (.*)' "$tmp/pairs4.out" || fail "mbw_mr pairs not 0<->2, 1<->3"
check_h5 "$tmp/pairs4.h5" --ranks 4 mbw_mr=11 multi_lat=11 latency=11
# multi_lat is a mean over the two pairs (OSU's), with the slowest pair beside it
"$PYTHON3" - "$tmp/pairs4.h5" <<'PY' || fail "multi_lat columns"
import sys, h5py
d = h5py.File(sys.argv[1])["/microbench/multi_lat"][...]
for r in d:
    assert 0 < r["rank_mean_us"] <= r["slowest_rank_us"] * (1 + 1e-9), r
PY
# msgrate, the old name, still runs mbw_mr
mb_ok oldname 4 -m 8:8 --iters 2 --warmup 1 --window 2 --no-output msgrate
grep -q '^# mbw_mr:' "$tmp/oldname.out" || fail "msgrate did not run mbw_mr"
echo PASS
