#!/bin/sh
# --delay-us: a 300 us one-way delay per link (netem, or the userspace relay where the
# kernel has no netem) makes a TCP round trip between two emulated hosts at least 600 us
# longer, and microbench's MPI latency (half a round trip) at least 300 us higher, than
# on the plain bridge. Minimums over many round trips, so that a busy machine cannot
# fake the difference (microbench: the least of 3 runs each). --cores: each host's ranks run on its own cores, and bad lists
# are refused.
. "$(dirname "$0")/lib.sh"
need_netns
need_mpirun
[ -x "$top_builddir/scripts/cluster/relay" ] || skip "scripts/cluster/relay is not built (make check builds it)"
export CB_RELAY=$top_builddir/scripts/cluster/relay
D=300

# measure: TCP minimum round trip (us), then microbench latency (us) if it is built.
measure() {
    timeout -k 5 60 "$CLUSTER/exec" "${P}1" "$PYTHON3" "$top_srcdir/tests/scripts/tcp_pingpong.py" serve 5601 &
    server=$!
    rtt=$(timeout -k 5 60 "$CLUSTER/exec" "${P}0" "$PYTHON3" "$top_srcdir/tests/scripts/tcp_pingpong.py" ping "${P}1" 5601 300) || fail "TCP ping-pong between ${P}0 and ${P}1"
    wait $server
    lat=""
    if [ -x "$top_builddir/microbench/microbench" ]; then
        need_python_h5py
        # the least of 3 runs: the latency of a loaded machine (other tests beside
        # this one) is the scheduler's, not the link's
        for k in 1 2 3; do
            timeout -k 5 120 "$CLUSTER/mpirun" -np 2 --map-by node --bind-to none "$top_builddir/microbench/microbench" \
                -m 8:8 --iters 200 -o "$tmp/mb-$1-$k.h5" latency > "$tmp/mb-$1.out" 2>&1 || { cat "$tmp/mb-$1.out" >&2; fail "microbench latency ($1)"; }
            l=$(h5check "$tmp/mb-$1-$k.h5" --hosts 2 --latency-us) || fail "microbench results ($1)"
            lat=$(awk -v a="$lat" -v b="$l" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }')
        done
    fi
}

P=$(unique_prefix d)
cluster_up 2 --prefix "$P"
measure plain
rtt0=$rtt; lat0=$lat
"$CLUSTER/down" > /dev/null
"$CLUSTER/up" 2 --prefix "$P" --delay-us $D > "$tmp/up.log" 2>&1 || { cat "$tmp/up.log" >&2; fail "up --delay-us $D"; }
mode=$(sed -n 's/^mode=//p' "$CB_CLUSTER_DIR/state")
measure delayed
rtt1=$rtt; lat1=$lat
note "TCP round trip: $rtt0 us plain, $rtt1 us with $D us per link ($mode)"
awk -v a="$rtt0" -v b="$rtt1" -v d=$D 'BEGIN { exit !(b - a >= 2 * d) }' || \
    fail "round trip grew by $(awk -v a="$rtt0" -v b="$rtt1" 'BEGIN { print b - a }') us, expected at least $((2 * D))"
if [ -n "$lat0" ]; then
    note "microbench latency: $lat0 us plain, $lat1 us with $D us per link"
    awk -v a="$lat0" -v b="$lat1" -v d=$D 'BEGIN { exit !(b - a >= d) }' || \
        fail "microbench latency grew by $(awk -v a="$lat0" -v b="$lat1" 'BEGIN { print b - a }') us, expected at least $D"
else
    note "microbench/microbench not built: MPI latency not checked"
fi
"$CLUSTER/down" > /dev/null
relay_left=$(pgrep -f -- "--pid-file $CB_CLUSTER_DIR/relay.pid" || true)
[ -z "$relay_left" ] || fail "down left the relay running (pid $relay_left)"

# --cores: refused when wrong, before anything is built; else ranks on their host's cores
for bad in "0:not cores|lists for 2 hosts" "0:99999:not cores" "a:b:'auto' or taskset lists"; do
    c=${bad%:*}; pat=${bad##*:}
    if "$CLUSTER/up" 2 --prefix "$P" --cores "$c" > "$tmp/bad.out" 2>&1; then
        "$CLUSTER/down" > /dev/null 2>&1; fail "up --cores $c succeeded"
    fi
    grep -Eq "$pat" "$tmp/bad.out" || { cat "$tmp/bad.out" >&2; fail "up --cores $c: no line matching '$pat'"; }
done
first=$(taskset -pc $$ | sed 's/.*: *//; s/[,-].*//')
"$CLUSTER/up" 2 --prefix "$P" --cores "$first:$first" > "$tmp/up.log" 2>&1 || { cat "$tmp/up.log" >&2; fail "up --cores"; }
aff=$(timeout -k 5 60 "$CLUSTER/mpirun" -np 2 --map-by node --bind-to none sh -c 'echo $(hostname) $(taskset -pc $$ | sed "s/.*: *//")' \
    2>"$tmp/err" | sort | tr '\n' ' ') || { cat "$tmp/err" >&2; fail "mpirun on pinned hosts"; }
[ "$aff" = "${P}0 $first ${P}1 $first " ] || fail "pinned to core $first, the ranks ran on: $aff"
note "--cores $first:$first: $aff"
"$CLUSTER/down" > /dev/null
exit 0
