#!/bin/sh
# UCX here: tcp, shared memory (posix) and cma. The ucx_* tests over the
# three sets side by side in one run (a column block each, ratios against
# tcp), and the MPI tests over Open MPI's UCX PML restricted to each
# transport, all with --validate.
. "$top_srcdir/tests/microbench/lib.sh"
tests="ucx_tag_lat ucx_tag_bw ucx_put_lat ucx_put_pingpong ucx_get_lat ucx_put_bw ucx_get_bw ucx_atomic_lat ucx_am_lat"
# shellcheck disable=SC2086
mb_ok ucx 2 -m 0:64K --iters 5 --warmup 1 --window 4 --validate --tls tcp,posix,posix+cma \
    -o "$tmp/ucx.h5" $tests
check_h5 "$tmp/ucx.h5" --ranks 2 ucx_tag_lat=18 ucx_tag_bw=17 ucx_put_lat=17 ucx_put_pingpong=17 ucx_get_lat=17 \
    ucx_put_bw=17 ucx_get_bw=17 ucx_atomic_lat=1 ucx_am_lat=18
"$PYTHON3" - "$tmp/ucx.h5" <<'PY' || fail "UCX column blocks"
import sys, h5py
f = h5py.File(sys.argv[1])
lat = f["/microbench/ucx_tag_lat"]
for fld in ("tcp_lat_p50_us", "posix_lat_p50_us", "posix_cma_lat_p50_us",
            "ratio_posix_over_tcp", "ratio_posix_cma_over_tcp"):
    assert fld in lat.dtype.names, fld
bw = f["/microbench/ucx_put_bw"]
for fld in ("tcp_bw_MBps", "posix_cma_msg_rate_per_s", "ratio_posix_cma_over_tcp"):
    assert fld in bw.dtype.names, fld
# the transports UCX selected, per set, not only the names asked for
t = lat.attrs["transport"]
t = t.decode() if isinstance(t, bytes) else t
assert "ucx tcp: tcp/" in t and "ucx posix: posix/" in t and "cma/" in t, t
PY
# Without --validate, ucx_tag_bw streams (a window in flight, one
# acknowledgement at the end) and ucx_put_pingpong detects arrival by the
# message's last byte: every size completes (no lost or extra message would
# let both sides finish), and the figures are consistent.
mb_ok ucx-stream 2 -m 1:256K --iters 7 --warmup 2 --window 5 --tls tcp,posix+cma \
    -o "$tmp/stream.h5" ucx_tag_bw ucx_put_pingpong
check_h5 "$tmp/stream.h5" --ranks 2 ucx_tag_bw=19 ucx_put_pingpong=19
"$PYTHON3" - "$tmp/stream.h5" <<'PY' || fail "streamed figures"
import sys, h5py
f = h5py.File(sys.argv[1])
bw = f["/microbench/ucx_tag_bw"]
for s in ("tcp", "posix_cma"):
    mbps, rate = bw[s + "_bw_MBps"], bw[s + "_msg_rate_per_s"]
    assert (mbps > 0).all() and (rate > 0).all(), s
    # bandwidth = messages/s x size: both from the same window times
    assert (abs(mbps * 1e6 - rate * bw["size_B"]) <= 1e-6 * mbps * 1e6).all(), s
pp = f["/microbench/ucx_put_pingpong"]
for s in ("tcp", "posix_cma"):
    assert (pp[s + "_lat_min_us"] > 0).all() and (pp[s + "_lat_p50_us"] >= pp[s + "_lat_min_us"]).all(), s
PY
# MPI over UCX, one transport at a time (Open MPI needs active messages:
# cma alone cannot carry MPI, so cma goes with posix).
for tls in tcp posix posix,cma; do
    UCX_TLS=$tls mb_ok "mpi-$tls" 2 --ucx -m 0:16K --iters 4 --warmup 1 --window 4 --validate \
        -o "$tmp/mpi-$tls.h5" latency bw put_lat get_lat acc_lat allreduce
    # the lanes of the PML's own endpoints (tag(tcp/lo ...)), not a probe's
    first=$(echo "$tls" | sed 's/,.*//')
    grep -q "^# transport: MPI pml ucx, UCX selects tag(\([a-z_]*/[^ )]* \)*$first/" "$tmp/mpi-$tls.out" \
        || fail "UCX selection of $tls not recorded"
    check_h5 "$tmp/mpi-$tls.h5" --ranks 2 latency=16 bw=15 put_lat=15 get_lat=15 fop_lat=1 allreduce=13
done
echo PASS
